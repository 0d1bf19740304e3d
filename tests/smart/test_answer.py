"""What the pathway page leads with, for every vignette: options by status (most relevant first), the gaps
with the fields that fill them, and every option's criteria with those that decided the status first.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.clinical_text import decided, internal_names
from cds_hooks.config import Settings
from cds_hooks.smart.answer import STATUS_ORDER, answer_groups, gap_rows
from nelm_fhir.ingest import ingest
from nelm_fhir.pathways import Evaluation, evaluate, load_config
from nelm_fhir.pathways.result import FINDING_SYSTEM, Modality

NOW = dt.date(2026, 11, 26)
CONFIG = load_config()
VIGNETTES = sorted((Path(__file__).resolve().parents[1] / "vignettes").glob("V*.json"))


def vignette(path: Path) -> Evaluation:
    return evaluate(ingest(json.loads(path.read_text(encoding="utf-8")), as_of=NOW), now=NOW, config=CONFIG)


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_answer_has_every_option_once_grouped_most_relevant_first(path: Path) -> None:
    ev = vignette(path)
    groups = answer_groups(ev)
    order = [STATUS_ORDER.index(next(s for s in STATUS_ORDER if s.value == g.status)) for g in groups]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert sorted(r.modality for g in groups for r in g.rows) == sorted(m.value for m in Modality)
    status = {r.modality.value: r.status.value for r in ev.results}
    for g in groups:
        assert all(status[r.modality] == g.status for r in g.rows)
        for r in g.rows:
            assert internal_names(r.name + " " + r.why) == [], (r.modality, r.why)
    for gap, row in zip(sorted(ev.data_gaps, key=lambda g: -len(g.blocks)), gap_rows(ev), strict=True):
        # the gap that blocks most options comes first; a "Record" form only for fields that fill this gap
        assert len(row.blocks) == len(gap.blocks)
        assert {f"{FINDING_SYSTEM}|{f.code}" for f in row.fields} <= set(gap.codes)
        assert internal_names(row.label + " " + row.why) == [], row


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    db = tmp_path_factory.mktemp("answer") / "nelm.sqlite3"
    app = create_app(Settings().with_(database_url=f"sqlite:///{db}", extra={"evaluation_date": NOW.isoformat()}))
    return app.test_client()


def _page(client: FlaskClient, patient: str) -> str:
    assert client.get("/smart/dev-launch", query_string={"patient": patient}).status_code == 303
    return client.get("/smart/app").get_data(as_text=True)


def test_page_order_answer_then_flowchart_then_evidence_then_profile(client: FlaskClient) -> None:
    html = _page(client, "v23")
    places = [html.index(marker) for marker in ('id="answer-title"', 'id="gaps-title"', 'id="flow-h"',
                                                'id="mods-title"', 'id="profile-title"', 'id="capture-title"')]
    assert places == sorted(places)
    # five gaps, each with a Record button that opens a dialog holding that gap's fields
    buttons = re.findall(r'data-open="(dlg-gap-\d+)"', html)
    assert len(buttons) == 5
    for dialog_id in buttons:
        body = html[html.index(f'<dialog id="{dialog_id}"'):]
        body = body[:body.index("</dialog>")]
        assert 'name="csrf"' in body and re.search(r'name="[a-z\-]+" (type="text"|aria)|<select|type="radio"', body)


def test_criteria_that_decided_the_status_come_first_and_are_marked(client: FlaskClient) -> None:
    html = _page(client, "v08")
    ev = vignette(next(p for p in VIGNETTES if p.stem == "V08"))
    alpps = ev.result(Modality.ALPPS)
    deciding = decided(alpps)
    assert deciding and len(deciding) < len(alpps.criteria)
    block = html[html.index('<details id="m-alpps"'):]
    block = block[:block.index("</details>")]
    rows = re.findall(r"<tr class=\"([a-z ]+)\">", block)
    marked = [i for i, row in enumerate(rows) if "decisive" in row]
    assert marked == list(range(len(deciding)))  # the deciding criteria first, none dropped
    assert len(rows) == len(alpps.criteria)
