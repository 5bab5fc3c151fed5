"""The KPI dashboard: the numbers ``embudo kpis`` prints, as charts and tables, over one period.

Reps and admins see the same figures (the whole team's, like the CLI); every number comes from the same
``crm_core.reporting.kpis.dashboard`` call the CLI makes, so the page and the shell cannot disagree. Money is
in the reporting currency (every deal converted at the exchange rates in force) unless one currency is
chosen; a currency without a rate is named at the top of the page.
"""

from datetime import UTC, date, datetime, time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot.web.console.admin_charts import Bar, bar_chart, column_chart, percent
from bot.web.console.auth import RepOrAdmin
from bot.web.console.rendering import render
from crm_core.db import unit_of_work
from crm_core.limits import FIRST_DAY, LAST_DAY
from crm_core.money import ISO_4217, current_rates
from crm_core.reporting import kpis
from crm_core.sales.pipeline import current_pipeline

router = APIRouter(prefix="/console")


def _day(text: str, label: str, problems: list[str]) -> datetime | None:
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        problems.append(f"'{text}' is not a date like 2026-01-31; showing no {label} limit.")
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        problems.append(
            f"'{text}' is not between {FIRST_DAY.year} and {LAST_DAY.year}; showing no {label} limit."
        )
        return None
    return datetime.combine(day, time(), tzinfo=UTC)


@router.get("/kpis", response_class=HTMLResponse)
def kpi_page(
    request: Request, user: RepOrAdmin, since: str = "", until: str = "", currency: str = ""
) -> HTMLResponse:
    problems: list[str] = []
    start, end = _day(since, "start", problems), _day(until, "end", problems)
    if start and end and end <= start:
        problems.append("The period ends before it starts; showing no end limit.")
        end = None
    only = currency.strip().upper() or None
    if only is not None and only not in ISO_4217:
        problems.append(f"'{currency}' is not a currency code like EUR; showing every currency.")
        only = None
    with unit_of_work() as session:
        board = kpis.dashboard(session, since=start, until=end, currency=only)
        choices = current_rates(session).currencies()
    code = board.currency
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
        [m.month for m in board.forecast],
        [("value", [m.value for m in board.forecast]), ("weighted", [m.weighted for m in board.forecast])],
    )
    in_leads = {row.stage: row for row in board.time_in_stage.leads}
    in_deals = {row.stage: row for row in board.time_in_stage.deals}
    stages = [s.name for s in current_pipeline().stages if s.name in in_leads or s.name in in_deals]
    return render(
        request,
        "console/admin_kpis.html",
        {
            "board": board,
            "won_by_currency": {part.currency: part.won_value for part in board.deals.by_currency},
            "stage_times": [(stage, in_leads.get(stage), in_deals.get(stage)) for stage in stages],
            "charts": {"funnel": funnel, "sources": sources, "reps": reps, "forecast": forecast},
            "since": since,
            "until": until,
            "currency": only or "",
            "code": code,
            "choices": choices,
            "problems": problems,
            "percent": percent,
        },
    )
