"""The KPI dashboard: the numbers ``embudo kpis`` and ``embudo forecast`` print, as charts and tables.

Reps and admins see the same figures (the whole team's, like the CLI); every number comes from the same
``crm_core.kpis`` call the CLI makes, so the page and the shell cannot disagree.
"""

from datetime import UTC, date, datetime, time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot.web.console.admin_charts import Bar, bar_chart, column_chart, percent
from bot.web.console.auth import RepOrAdmin
from bot.web.console.rendering import render
from crm_core import kpis
from crm_core.db import unit_of_work
from crm_core.pipeline import current_pipeline

router = APIRouter(prefix="/console")


@router.get("/kpis", response_class=HTMLResponse)
def kpi_page(request: Request, user: RepOrAdmin, since: str = "", currency: str = "") -> HTMLResponse:
    problem = None
    start = None
    if since.strip():
        try:
            start = datetime.combine(date.fromisoformat(since.strip()), time(), tzinfo=UTC)
        except ValueError:
            problem = f"'{since}' is not a date like 2026-01-31; showing every period."
    code = currency.strip().upper() or current_pipeline().default_currency
    if len(code) != 3 or not code.isalpha():
        problem, code = f"'{currency}' is not a currency code like EUR.", current_pipeline().default_currency
    with unit_of_work() as session:
        board = kpis.dashboard(session, since=start, currency=code)
        goals = kpis.goal_attainment(session)
        months = kpis.forecast(session, code)
    funnel = bar_chart(
        "Funnel: leads that reached each stage (→ conversion: of those in it, moved on)",
        [
            Bar(
                row.stage.value,
                row.reached,
                f"{row.reached} (→ {percent(row.rate)})" if row.next_stage else "",
            )
            for row in board.funnel.stages
        ],
    )
    sources = bar_chart(
        "Leads per source",
        [
            Bar(row.source, row.leads, f"{row.leads}, {percent(row.conversion_rate)} won")
            for row in board.sources
        ],
    )
    reps = bar_chart(
        f"Won value per rep ({code})",
        [Bar(row.name, row.won_value, f"{row.won_value:,.2f} ({row.won} won)") for row in board.reps],
    )
    forecast = column_chart(
        f"Forecast by expected close month ({code})",
        [m.month for m in months],
        [("value", [m.value for m in months]), ("weighted", [m.weighted for m in months])],
    )
    return render(
        request,
        "console/admin_kpis.html",
        {
            "board": board,
            "goals": goals,
            "months": months,
            "charts": {"funnel": funnel, "sources": sources, "reps": reps, "forecast": forecast},
            "since": since,
            "currency": code,
            "problem": problem,
            "percent": percent,
        },
    )
