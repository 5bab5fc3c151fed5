"""KPI commands of ``embudo``: ``kpis``, ``forecast`` and the exchange rates (``rates show|versions|import``).

Thin adapters around ``crm_core.reporting.kpis`` and ``crm_core.money``: one period and one currency per run,
the same figures the console's KPI page shows.
"""

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_crm import Format, _day, _dump, _pct, _start_of, fail, work
from crm_core import money
from crm_core.reporting import kpis

rates_app = typer.Typer(help="Exchange rates: the one table every money figure is converted with.")

Since = Annotated[
    str | None, typer.Option(help="Start of the period (YYYY-MM-DD): leads created / deals closed from then.")
]
Until = Annotated[str | None, typer.Option(help="End of the period (YYYY-MM-DD), not included.")]
Currency = Annotated[
    str | None,
    typer.Option(help="Only the deals in this currency, in it (default: every deal, converted)."),
]


def _amount(value: Decimal | None, code: str) -> str:
    return "-" if value is None else f"{value:,.2f} {code}"


def _parts(by_currency: Mapping[str, Decimal], unconverted: Mapping[str, int], code: str) -> str:
    """ "(3,000.00 USD + 1,000.00 EUR; 2 XYZ deals have no rate: left out)", or "" for one currency."""
    shown = [f"{value:,.2f} {c}" for c, value in by_currency.items() if value]
    text = " + ".join(shown) if len(shown) > 1 or (shown and code not in by_currency) else ""
    flags = "; ".join(
        f"{n} {c} deal{'s' if n > 1 else ''} without a rate, left out" for c, n in unconverted.items()
    )
    inside = "; ".join(part for part in (text, flags) if part)
    return f" ({inside})" if inside else ""


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} days"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} min"


def kpis_command(
    since: Since = None, until: Until = None, currency: Currency = None, output: Format = "text"
) -> None:
    """Funnel, deals, sources, reps, quotas, lost reasons, speed to lead, time in stage, conversion by score
    band and temperature, and forecast."""
    start, end = _start_of(_day(since, "--since")), _start_of(_day(until, "--until"))
    with work() as session:
        board = kpis.dashboard(
            session, since=start, until=end, currency=currency.upper() if currency else None
        )
    if output == "json":
        typer.echo(board.model_dump_json())
        return
    code = board.currency
    period = f"{since or 'the start'} to {until or 'now'}"
    scope = (
        f"only {code} deals"
        if board.only_currency
        else f"every deal in {code} at rates {board.rates_version}"
    )
    typer.echo(f"Period {period}; money: {scope}")
    if board.missing_rates:
        typer.secho(
            f"  no exchange rate for {', '.join(board.missing_rates)}: those deals are counted, but their "
            "value is left out of the converted figures (embudo rates import FILE)",
            fg=typer.colors.YELLOW,
        )
    typer.echo(
        "Funnel, leads created in the period (reached the stage or beyond; conversion: of the leads that were"
        " in the stage, those that moved on):"
    )
    for row in board.funnel.stages:
        nxt = ""
        if row.next_stage is not None:
            nxt = f"→ {row.next_stage.value:<12} {_pct(row.rate)} ({row.moved_on} of {row.entered})"
        typer.echo(f"  {row.stage.value:<12} {row.reached:>7}  {nxt}")
    typer.echo(f"  overall conversion {_pct(board.funnel.overall_rate)}")
    d = board.deals
    typer.echo(
        f"Deals closed in the period: won {d.won}, lost {d.lost}, win rate {_pct(d.win_rate)}, "
        f"won value {_amount(d.won_value, code)}"
        + _parts({r.currency: r.won_value for r in d.by_currency}, d.unconverted, code)
    )
    typer.echo(
        f"  average deal {_amount(d.average_deal, code)}, average cycle "
        f"{_days(d.average_cycle_days)} from deal creation, "
        f"{_days(d.average_cycle_from_lead_days)} from lead creation"
    )
    typer.echo(
        f"  open now: {d.open_opportunities} deals, {_amount(d.open_value, code)}; pipeline velocity "
        f"{_amount(d.velocity_per_day, code)} per day"
    )
    if len(d.by_currency) > 1:
        for part in d.by_currency:
            typer.echo(
                f"    in {part.currency}: won {part.won} ({_amount(part.won_value, part.currency)}), "
                f"lost {part.lost}, win rate {_pct(part.win_rate)}, "
                f"average deal {_amount(part.average_deal, part.currency)}"
            )
    typer.echo("Lead sources (leads created in the period; won value of deals won in it):")
    for s in board.sources:
        typer.echo(
            f"  {s.source:<20} {s.leads:>7} leads  {s.won_leads:>5} won  {_pct(s.conversion_rate):>6}  "
            f"{_amount(s.won_value, code)}{_parts(s.won_value_by_currency, s.unconverted, code)}"
        )
    typer.echo("Reps (deals closed in the period):")
    for r in board.reps:
        typer.echo(
            f"  {r.name:<20} won {r.won:>4}  lost {r.lost:>4}  win rate {_pct(r.win_rate):>6}  "
            f"{_amount(r.won_value, code)}{_parts(r.won_value_by_currency, r.unconverted, code)}"
        )
    for g in board.quotas:
        typer.echo(
            f"  quota {g.name} {g.period_start}–{g.period_end}: {_amount(g.won_value, g.currency)} of "
            f"{_amount(g.quota, g.currency)} ({_pct(g.attainment)})"
            + _parts(g.won_value_by_currency, g.unconverted, g.currency)
        )
    if board.lost_reasons:
        typer.echo("Lost reasons (deals lost in the period):")
        for lost in board.lost_reasons:
            typer.echo(f"  {lost.reason:<20} {lost.deals:>5} deals  {_amount(lost.value, code)}")
    typer.echo("Recovered revenue (won deals of recycled leads — won back after a loss — by quarter won):")
    for quarter in board.recovered:
        typer.echo(
            f"  {quarter.quarter:<8} {quarter.deals:>5} deals  {_amount(quarter.value, code)}"
            + _parts(quarter.value_by_currency, quarter.unconverted, code)
        )
    if not board.recovered:
        typer.echo("  none yet")
    typer.echo("Speed to lead (leads that became SQL in the period) and SLA compliance:")
    for speed in [board.speed.team, *board.speed.reps]:
        typer.echo(
            f"  {speed.name:<20} {speed.qualified_leads:>5} leads  "
            f"to accept {_minutes(speed.average_minutes_to_accept):>8}  "
            f"to first contact {_minutes(speed.average_minutes_to_first_contact):>8}  "
            f"SLA {_pct(speed.sla_compliance)} ({speed.sla_met} of {speed.sla_decided} in time)"
        )
    typer.echo("Time in stage (moves out in the period):")
    for kind, rows in (("leads", board.time_in_stage.leads), ("deals", board.time_in_stage.deals)):
        listed = ", ".join(f"{row.stage.value} {_days(row.average_days)} ({row.moves_out})" for row in rows)
        typer.echo(f"  {kind}: {listed or '-'}")
    typer.echo("Conversion by score band and temperature (won of closed leads created in the period):")
    for label, bands in (("score", board.scoring.by_score), ("temperature", board.scoring.by_temperature)):
        listed = ", ".join(f"{row.label} {_pct(row.win_rate)} ({row.won} of {row.closed})" for row in bands)
        typer.echo(f"  by {label}: {listed}")
    typer.echo("Forecast (deals open now, by expected close month):")
    _print_months(board.forecast, code)


def _print_months(months: list[kpis.ForecastMonth], code: str) -> None:
    if not months:
        typer.echo("  no open deals to forecast")
    for m in months:
        typer.echo(
            f"  {m.month:<12} {m.deals:>6} deals  value {_amount(m.value, code):>18}  weighted "
            f"{_amount(m.weighted, code):>18}{_parts(m.value_by_currency, m.unconverted, code)}"
            + ("  overdue: should have closed" if m.overdue else "")
        )


def forecast_command(currency: Currency = None, output: Format = "text") -> None:
    """Open deals by expected close month, weighted by their stage's win probability."""
    with work() as session:
        months = kpis.forecast(session, currency.upper() if currency else None)
        code = currency.upper() if currency else money.current_rates(session).reporting_currency
    if output == "json":
        typer.echo(_dump(months))
        return
    _print_months(months, code)


@rates_app.command("show")
def rates_show(output: Format = "text") -> None:
    """The exchange rates in force (the newest imported version, else the rates file)."""
    with work() as session:
        active = money.rate_versions(session)[0]
    if output == "json":
        typer.echo(active.model_dump_json(indent=2))
        return
    where = "the rates file" if active.number == 0 else f"imported by {active.imported_by}"
    typer.echo(
        f"version {active.version} (#{active.number}, {where}), taken on {active.taken_on}; "
        f"one unit is worth, in {active.reporting_currency}:"
    )
    for code, rate in sorted(active.rates.items()):
        typer.echo(f"  {code}  {rate}")


@rates_app.command("versions")
def rates_versions() -> None:
    """Every version, newest (in force) first; #0 is the rates file."""
    with work() as session:
        versions = money.rate_versions(session)
    for v in versions:
        saved = (
            f"imported {v.imported_at:%Y-%m-%d %H:%M} by {v.imported_by}"
            if v.imported_at
            else "the rates file"
        )
        active = "  (in force)" if v.active else ""
        typer.echo(f"#{v.number:<4} {v.version:<24} taken on {v.taken_on}  {saved}{active}")


@rates_app.command("import")
def rates_import(
    file: Annotated[Path, typer.Argument(help="A YAML file laid out like crm_core/exchange_rates.yml.")],
    by: Annotated[str, typer.Option("--by", help="Who is importing them (kept with the version).")],
) -> None:
    """Check a rates file and make it the rates in force; any problem and nothing is written."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"Cannot read {file}: {getattr(error, 'strerror', None) or error}.") from None
    with work() as session:
        saved = money.import_rates(session, text, by)
    typer.echo(
        f"imported exchange rates {saved.version} (#{saved.number}): {len(saved.rates)} currencies in "
        f"{saved.reporting_currency}; every money figure is converted with them from now on"
    )


def register(app: typer.Typer) -> None:
    app.command("kpis")(kpis_command)
    app.command("forecast")(forecast_command)
    app.add_typer(rates_app, name="rates")
