"""CRM benchmark at scale: seeds 1,000,000 leads and 100,000 deals, then times the hot queries.

Run with `make bench-crm` (or `python bench/crm.py [--leads N]`). For SQLite (a temporary file) and
PostgreSQL (the throw-away local server scripts/with-postgres starts) it prints p50/p95 of the KPI dashboard,
filtered lead list pages, the pipeline board and routing one lead. Rows are generated inside the database (INSERT …
SELECT over a number series) so seeding takes seconds, not hours. The rows are written at the schema before
revision 0012, which then fills the figures crm_core keeps (reps' open leads, daily lead tallies, …) from
them, as it would on an existing database. Prints figures; asserts nothing.
"""

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crm_core.db import MIGRATIONS_DIR, get_engine, unit_of_work, upgrade_database
from crm_core.models import Contact, Lead, Qualification, Stage, Temperature
from crm_core.reporting.kpis import dashboard, forecast
from crm_core.sales.board import board
from crm_core.sales.leads import LeadQuery, LeadSort, list_leads
from crm_core.sales.lifecycle import assign

REPS = 50
STAGES = ["new", "new", "mql", "mql", "sql", "contacted", "proposal", "negotiation", "won", "lost"]
STAGE_OF_G = "CASE g % 10 " + " ".join(f"WHEN {i} THEN '{s}'" for i, s in enumerate(STAGES)) + " END"


class Dialect:
    def __init__(self, name: str) -> None:
        self.name = name

    def series(self, count: int) -> tuple[str, str]:
        """(prefix, FROM clause) producing rows with g = 1..count."""
        if self.name == "postgresql":
            return "", f"generate_series(1, {count}) AS s(g)"
        return f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {count})", "s"

    def at(self, days: str) -> str:
        if self.name == "postgresql":
            return f"(TIMESTAMPTZ '2025-01-01 00:00:00+00' + ({days}) * INTERVAL '1 day')"
        return f"strftime('%Y-%m-%d %H:%M:%f', '2025-01-01', '+' || ({days}) || ' days')"

    def day(self, days: str) -> str:
        if self.name == "postgresql":
            return f"(DATE '2026-01-01' + ({days}))"
        return f"date('2026-01-01', '+' || ({days}) || ' days')"

    def json(self, value: str) -> str:
        return f"CAST('{value}' AS JSON)" if self.name == "postgresql" else f"'{value}'"


def migrate_to_before_kept_figures(url: str) -> None:
    """The schema as it was before revision 0012 added the kept figures."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    kept = ScriptDirectory.from_config(config).get_revision("0012")
    assert kept is not None and isinstance(kept.down_revision, str)
    command.upgrade(config, kept.down_revision)


def seed(url: str, leads: int, deals: int) -> float:
    started = time.perf_counter()
    migrate_to_before_kept_figures(url)
    engine = get_engine(url)
    d = Dialect(engine.dialect.name)
    with engine.begin() as db:
        prefix, source = d.series(REPS)
        both, english, empty, no_hours = d.json('["en", "es"]'), d.json('["en"]'), d.json("[]"), d.json("{}")
        db.execute(text(
            f"{prefix} INSERT INTO reps (id, name, languages, capacity, active, territories, timezone, "
            "working_hours, is_admin, created_at) "
            f"SELECT g, 'Rep ' || g, CASE g % 2 WHEN 0 THEN {both} ELSE {english} END, 100000, true, {empty}, "
            f"'UTC', {no_hours}, false, {d.at('0')} FROM {source}"
        ))  # fmt: skip
    created = d.at("g % 600")
    lead_stage = STAGE_OF_G
    with engine.begin() as db:
        prefix, source = d.series(leads)
        db.execute(text(
            f"{prefix} INSERT INTO contacts (id, name, email, created_at) "
            f"SELECT g, 'Contact ' || g, 'c' || g || '@bench.example', {created} FROM {source}"
        ))  # fmt: skip
        db.execute(text(
            f"{prefix} INSERT INTO leads (id, contact_id, budget_none_yet, authority, consent, "
            "just_asking, bought_competitor, language, source, score, qualification, temperature, "
            "reasons, policy_version, stage, assigned_rep_id, created_at, updated_at, sla_passes) "
            "SELECT g, g, false, 'decision_maker', true, false, false, "
            "CASE g % 2 WHEN 0 THEN 'en' ELSE 'es' END, "
            "CASE g % 4 WHEN 0 THEN 'web' WHEN 1 THEN 'telegram' WHEN 2 THEN 'referral' "
            "ELSE 'csv import' END, "
            f"50 + g % 50, CASE WHEN g % 10 < 4 THEN 'mql' ELSE 'sql' END, "
            "CASE g % 3 WHEN 0 THEN 'hot' WHEN 1 THEN 'warm' ELSE 'cold' END, "
            f"{d.json('[]')}, "
            f"'bench', {lead_stage}, CASE WHEN g % 10 >= 4 THEN 1 + g % {REPS} END, "
            f"{created}, {created}, 0 FROM {source}"
        ))  # fmt: skip
        db.execute(text(
            f"{prefix} INSERT INTO stage_changes (lead_id, from_stage, to_stage, changed_at) "
            f"SELECT g, NULL, 'new', {created} FROM {source}"
        ))  # fmt: skip
        db.execute(text(
            f"{prefix} INSERT INTO stage_changes (lead_id, from_stage, to_stage, changed_at) "
            f"SELECT g, 'new', {lead_stage}, {d.at('g % 600 + g % 30 + 1')} FROM {source} WHERE g % 10 >= 2"
        ))  # fmt: skip
        # deals on leads in proposal / negotiation / won / lost: lead = 10 * ((g - 1) / 4) + 6 + (g - 1) % 4
        prefix, source = d.series(deals)
        lead_of = "(10 * ((g - 1) / 4) + 6 + (g - 1) % 4)"
        deal_stage = (
            "CASE (g - 1) % 4 WHEN 0 THEN 'proposal' WHEN 1 THEN 'negotiation' WHEN 2 THEN 'won' "
            "ELSE 'lost' END"
        )
        opened = d.at(f"{lead_of} % 600")
        closed = d.at(f"{lead_of} % 600 + 5 + g % 90")
        db.execute(text(
            f"{prefix} INSERT INTO deals (id, lead_id, title, value, currency, expected_close_date, stage, "
            "created_at, closed_at) "
            f"SELECT g, {lead_of}, 'Deal ' || g, 1000 + (g * 37) % 50000, 'EUR', {d.day('g % 365')}, "
            f"{deal_stage}, "
            f"{opened}, CASE WHEN (g - 1) % 4 >= 2 THEN {closed} END FROM {source}"
        ))  # fmt: skip
        db.execute(text(
            f"{prefix} INSERT INTO stage_changes (lead_id, deal_id, from_stage, to_stage, changed_at) "
            f"SELECT {lead_of}, g, NULL, 'proposal', {opened} FROM {source}"
        ))  # fmt: skip
        db.execute(text(
            f"{prefix} INSERT INTO stage_changes (lead_id, deal_id, from_stage, to_stage, changed_at) "
            f"SELECT {lead_of}, g, 'proposal', {deal_stage}, {closed} FROM {source} WHERE (g - 1) % 4 >= 1"
        ))  # fmt: skip
        if d.name == "postgresql":
            for table in ("contacts", "leads", "deals", "reps"):
                db.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    upgrade_database(url)  # revision 0012 fills the kept figures from these rows
    if d.name == "postgresql":
        # what autovacuum does after a bulk load: statistics, and the visibility map for index-only scans
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            db.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as db:
            db.execute(text("ANALYZE"))
    return time.perf_counter() - started


def timed(runs: int, action: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(url: str, runs: int) -> dict[str, list[float]]:
    # as the web app does once it has started (bot/web/app.py): the long-lived objects out of the collector's
    # full passes, which otherwise stall a call for 70-110 ms now and then
    gc.collect()
    gc.freeze()
    rng = random.Random(4)
    results: dict[str, list[float]] = {}
    with unit_of_work(url) as session:
        dashboard(session)  # warm the caches once
        results["KPI dashboard (all KPIs)"] = timed(max(3, runs // 2), lambda: dashboard(session))
        results["forecast"] = timed(max(3, runs // 2), lambda: forecast(session))
        results["lead list page (stage filter)"] = timed(
            runs,
            lambda: list_leads(
                session, 50, 50 * rng.randrange(100), LeadQuery(stage=rng.choice(list(Stage)))
            ),
        )
        results["lead list page (rep filter)"] = timed(
            runs,
            lambda: list_leads(
                session, 50, 50 * rng.randrange(100), LeadQuery(rep_id=1 + rng.randrange(REPS))
            ),
        )

        results["board (everyone)"] = timed(max(3, runs // 2), lambda: board(session))
        results["board (one rep)"] = timed(
            runs, lambda: board(session, LeadQuery(rep_id=1 + rng.randrange(REPS)))
        )
        results["board (everyone, one temperature)"] = timed(
            runs, lambda: board(session, LeadQuery(temperature=rng.choice(list(Temperature))))
        )
        results["lead list (class+temp+lang, by score)"] = timed(
            runs,
            lambda: list_leads(
                session,
                50,
                50 * rng.randrange(20),
                LeadQuery(
                    qualification=rng.choice(list(Qualification)),
                    temperature=rng.choice(list(Temperature)),
                    language=rng.choice(["en", "es"]),
                    sort=LeadSort.SCORE,
                ),
            ),
        )
        results["lead list (overdue, one rep)"] = timed(
            runs, lambda: list_leads(session, 50, 0, LeadQuery(rep_id=1 + rng.randrange(REPS), overdue=True))
        )
        results["lead list (search)"] = timed(
            max(3, runs // 5), lambda: list_leads(session, 50, 0, LeadQuery(text=f"{rng.randrange(10**6)}@"))
        )
        results["lead list (search, a name)"] = timed(
            max(3, runs // 5),
            lambda: list_leads(session, 50, 0, LeadQuery(text=f"tact {rng.randrange(10**5)}")),
        )
        results["lead list (one stage, by name)"] = timed(
            runs,
            lambda: list_leads(session, 50, 0, LeadQuery(stage=rng.choice(list(Stage)), sort=LeadSort.NAME)),
        )
        results["lead list (temp, deep page ~1000)"] = timed(
            runs,
            lambda: list_leads(
                session,
                50,
                50 * (900 + rng.randrange(200)),
                LeadQuery(temperature=rng.choice(list(Temperature))),
            ),
        )

    def route_one(session: Session) -> None:
        lead = Lead(
            contact=Contact(), qualification=Qualification.SQL, temperature=Temperature.HOT,
            policy_version="bench", stage=Stage.SQL, language=rng.choice(["en", "es"]),
        )  # fmt: skip
        session.add(lead)
        session.flush()
        started = time.perf_counter()
        assign(session, lead)
        samples.append((time.perf_counter() - started) * 1000)
        session.rollback()

    samples: list[float] = []
    with unit_of_work(url) as session:
        for _ in range(runs):
            route_one(session)
    results["routing one lead"] = samples
    return results


def report(name: str, seconds: float, results: dict[str, list[float]]) -> None:
    print(f"\n{name}: seeded in {seconds:.0f} s")
    for what, samples in results.items():
        print(
            f"  {what:<32} p50 {statistics.median(samples):8.1f} ms   p95 {percentile(samples, 0.95):8.1f} ms"
            f"   ({len(samples)} runs)"
        )


def fresh_postgres_database(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def existing_postgres_database(admin_url: str, name: str) -> str | None:
    admin = create_engine(admin_url)
    with admin.connect() as connection:
        found = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False) if found else None


def reuse(url: str) -> float:
    """An already seeded database: only the newest revisions (say, new indexes) and fresh statistics."""
    started = time.perf_counter()
    upgrade_database(url)
    with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="PostgreSQL: measure the embudo_bench database an earlier run left on the same server (e.g. "
        "inside one scripts/with-postgres session) instead of seeding again; it is upgraded to the newest "
        "revision and analysed first",
    )
    args = parser.parse_args()
    print(f"{args.leads:,} leads, {args.deals:,} deals, {REPS} reps; targets (PostgreSQL): KPI p95 ≤ 500 ms, "
          "list page and board p95 ≤ 50 ms, routing p95 ≤ 20 ms")  # fmt: skip
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            seconds = seed(url, args.leads, args.deals)
            report("SQLite", seconds, measure(url, args.runs))
            get_engine(url).dispose()
    admin_url = os.environ.get("EMBUDO_TEST_POSTGRES_URL")
    if args.only != "sqlite" and admin_url:
        reused = args.reuse and existing_postgres_database(admin_url, "embudo_bench")
        if reused:
            url = reused
            seconds = reuse(url)
        else:
            url = fresh_postgres_database(admin_url, "embudo_bench")
            seconds = seed(url, args.leads, args.deals)
        report("PostgreSQL" + (" (database reused, upgraded and analysed)" if reused else ""), seconds,
               measure(url, args.runs))  # fmt: skip
        get_engine(url).dispose()
    elif args.only != "sqlite":
        print("PostgreSQL skipped: run under scripts/with-postgres (make bench-crm does)")


if __name__ == "__main__":
    main()
