"""The figures: sales KPIs and the forecast, speed to lead and SLA compliance, whether the score predicts
outcomes, and the meeting KPIs.

- ``kpis``
- ``kpis_scoring``
- ``kpis_speed``
- ``meeting_kpis``
"""
