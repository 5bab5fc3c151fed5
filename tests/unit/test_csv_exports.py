"""Exports no spreadsheet runs as formulas, and our own export imports back as it was (issue 15, item 5)."""

import csv
import io

import pytest
from sqlalchemy import text

from crm_core.chats.transcript_search import export_csv
from crm_core.chats.transcripts import RasaEvent, ingest
from crm_core.db import unit_of_work
from crm_core.exchange.csv_cells import FORMULA_STARTS, defuse, restore
from crm_core.exchange.csv_io import export_leads, import_leads
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef
from tests.unit.test_leads import HOT

FORMULAS = {
    "name": '=HYPERLINK("http://evil.example","Ana")',
    "company": "+cmd|' /C calc'!A0",
    "need": "@SUM(1+1)",
}


@pytest.mark.parametrize(
    "value", ["=1+1", "+34 600", "-2", "@x", "\tx", "\rx", "'=x", "''@x", "'plain", "plain", "", "a=b"]
)
def test_a_cell_is_defused_exactly_when_it_could_run_and_restores_to_itself(value: str) -> None:
    cell = defuse(value)
    assert isinstance(cell, str) and not cell.startswith(FORMULA_STARTS)
    assert restore(cell) == value


def _rows(session_url: str) -> list[dict[str, str]]:
    stream = io.StringIO()
    with unit_of_work(session_url) as session:
        export_leads(session, stream)
    return list(csv.DictReader(io.StringIO(stream.getvalue())))


def test_lead_export_neutralises_formulas_and_imports_back_to_the_original(
    db_url: str, other_db_url: str
) -> None:
    with unit_of_work(db_url) as session:
        facts = HOT.model_copy(update={**FORMULAS, "email": "ana@evil.example", "phone": "+34 600 123 456"})
        capture_lead(session, facts, ConversationRef(channel="web", sender_id="formulas"), source="=ads")
    [row] = _rows(db_url)
    for field, value in FORMULAS.items():
        assert row[field] == "'" + value  # shown as text by a spreadsheet
    assert row["phone"] == "'+34600123456" and row["source"] == "'=ads"
    assert not any(cell.startswith(FORMULA_STARTS) for cell in row.values())

    stream = io.StringIO()
    with unit_of_work(db_url) as session:
        export_leads(session, stream)
    with unit_of_work(other_db_url) as session:
        import_leads(session, io.StringIO(stream.getvalue()))
    [again] = _rows(other_db_url)
    assert {key: value for key, value in again.items() if key != "id"} == {
        key: value for key, value in row.items() if key != "id"
    }
    with unit_of_work(other_db_url) as session:
        stored = session.execute(text("SELECT name, company FROM contacts")).one()
    assert tuple(stored) == (FORMULAS["name"], FORMULAS["company"])


def test_transcript_csv_neutralises_every_column(db_url: str) -> None:
    sender = "=cmd|' /C calc'!A0"
    visitor = {
        "event": "user",
        "text": "-1+1",
        "input_channel": "rest",
        "timestamp": 1_764_000_000.0,
        "parse_data": {"intent": {"name": "@SUM(A1)", "confidence": 0.5}},
    }
    with unit_of_work(db_url) as session:
        ingest(session, [RasaEvent(1, sender, visitor)])
        [conversation_id] = session.scalars(text("SELECT id FROM conversations")).all()
        exported = export_csv(session, [conversation_id])
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows and all(not cell.startswith(FORMULA_STARTS) for row in rows for cell in row.values())
    assert rows[0]["sender_id"] == "'" + sender and rows[0]["text"] == "'-1+1"
    assert rows[0]["intent"] == "'@SUM(A1)"
