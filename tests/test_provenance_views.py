"""Every page, API answer and comparison cell shows the kind of each value: quoted, read or editorial.

Over real HTTP (the ``server`` fixture) and through the ``kg compare`` command. The kind each answer shows is
checked against the graph itself (``select``), so a view that drops, invents or upgrades a kind fails.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from tests.support.server import ROOT

ID = "https://w3id.org/outsourcing-kg/id/"
KINDS = {"quoted", "read", "editorial"}


def record_kinds(select, subject: str) -> dict[tuple[str, str], str]:
    """(property, value IRI, literal or '') → kind of the statement's evidence record, from the graph."""
    rows = select(f"""SELECT ?p ?v ?l ?k WHERE {{ ?r out:supportsSubject outd:{subject} ; out:supportsProperty ?p ;
                                                 out:statementKind ?k OPTIONAL {{ ?r out:supportsValue ?v }}
                                                 OPTIONAL {{ ?r out:supportsLiteral ?l }} }}""")
    return {(r["p"], r.get("v", r.get("l", ""))): r["k"].rsplit("statement-", 1)[-1] for r in rows}


# ---------------------------------------------------------------------------------------------------------
# The JSON API
# ---------------------------------------------------------------------------------------------------------


def test_types_list_says_what_kind_each_definition_is(server, http, select):
    items = http.get(server.url + "/api/types").json()["items"]
    for item in items:
        expected = record_kinds(select, item["slug"])[("http://www.w3.org/2004/02/skos/core#definition", "")]
        assert item["definition_kind"] == expected == "read"
        assert item["earnings"] and all(rate["kind"] == "read" and rate["reading_notes"] for rate in item["earnings"])


def test_a_type_s_facts_carry_their_kind_notes_and_passages(server, http, select):
    body = http.get(server.url + "/api/types/kpo").json()
    expected = record_kinds(select, "kpo")
    checked = 0
    for fact in body["facts"]:
        value = fact["value"]
        key = (fact["property"], value.get("iri", value.get("value", "") if value.get("language") == "en" else ""))
        if fact["property"].endswith("#definition"):
            key = (fact["property"], "")
        if key in expected:
            assert fact["kind"] == expected[key], key
            assert bool(fact["reading_notes"]) == (fact["kind"] == "read"), key
            checked += 1
    assert checked >= 15
    by_label = {fact["value"].get("label"): fact for fact in body["facts"]}
    assert by_label["investment analysis"]["kind"] == "read"
    assert any('"such as"' in note for note in by_label["investment analysis"]["reading_notes"])
    assert by_label["Master of Business Administration"]["kind"] == "quoted"
    assert by_label["outsourcing types"]["kind"] == "editorial"  # scheme membership is a grouping
    earnings = next(f for f in body["facts"] if f["property"].endswith("#averageEarnings"))
    assert earnings["kind"] == "read" and len(earnings["reading_notes"]) == 4
    assert body["kind"] == "quoted" and body["definition_kind"] == "read"
    quote = body["provenance"][0]
    assert quote["kind"] == "quoted" and quote["passage"] == ID + "passage-s10"
    assert all(ev["passage"] for f in body["facts"] for ev in f["evidence"] if ev["source"])


# ---------------------------------------------------------------------------------------------------------
# The comparison, in every format
# ---------------------------------------------------------------------------------------------------------


def test_every_comparison_cell_value_has_its_kind(server, http, select):
    body = http.get(server.url + "/api/compare", params={"types": "bpo,kpo"}).json()
    assert set(body["kinds"]) == KINDS
    expected = {slug: record_kinds(select, slug) for slug in ("bpo", "kpo")}
    seen = set()
    for row in body["dimensions"]:
        for slug, values in row["values"].items():
            for value in values:
                want = expected[slug].get((row["property"], value["iri"]))
                if want is None:  # the earnings: the kind of the earnings node
                    want = select(f"SELECT ?k WHERE {{ <{value['iri']}> out:statementKind ?k }}")[0]["k"]
                    want = want.rsplit("statement-", 1)[-1]
                assert value["kind"] == want, (row["key"], value["label"])
                seen.add(value["kind"])
    assert seen == {"quoted", "read"}
    assert all(r["kind"] == "quoted" for r in body["relations"])
    stored = {s["measure"]: s for s in body["stored_comparisons"]}
    assert stored["profit to developed nations"]["kind"] == "quoted"
    currency = stored["foreign-currency earnings"]
    assert currency["kind"] == "read" and currency["reading_notes"]


def test_csv_and_markdown_cells_name_the_kind_of_each_value(server, http):
    r = http.get(server.url + "/api/compare", params={"types": "bpo,kpo", "format": "csv"})
    rows = list(csv.reader(io.StringIO(r.text)))
    values = [part for row in rows[1:9] for cell in row[1:-1] for part in cell.split("; ") if cell != "—"]
    assert values and all(re.search(r"\((quoted|read|editorial)\)$", v) for v in values), values
    assert "investment analysis (read)" in r.text and "USD 24 per hour for the host country (read)" in r.text
    md = http.get(server.url + "/api/compare", params={"types": "bpo,kpo", "format": "markdown"}).text
    assert "| knowledge of legal matters (read)" in md or "; knowledge of legal matters (read)" in md
    assert "Kinds of statement:" in md and "## Our readings" in md
    assert '"$" read as US dollars' in md


class Cells(HTMLParser):
    """Each ``div.value`` of the comparison table, with the kinds shown inside it."""

    def __init__(self):
        super().__init__()
        self.values: list[dict] = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "value":
            self.values.append({"kinds": []})
            self._depth = 1
        elif tag == "div" and self._depth:
            self._depth += 1
        if self._depth and tag == "span" and "statement-kind" in (a.get("class") or ""):
            self.values[-1]["kinds"].append(a.get("data-kind"))

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1


def test_every_value_of_the_html_comparison_shows_its_kind(server, http):
    html = http.get(server.url + "/api/compare", params={"types": "bpo,kpo"},
                    headers={"Accept": "text/html"}).text
    cells = Cells()
    cells.feed(html)
    assert len(cells.values) >= 20
    assert all(len(v["kinds"]) == 1 and v["kinds"][0] in KINDS for v in cells.values), cells.values
    assert "Our reading:" in html and "not a wage" in html


@pytest.mark.slow
def test_kg_compare_shows_kinds_in_every_format(tmp_path):
    env = {"KG_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "cli", "compare", "bpo", "kpo", *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    table = run()
    assert "(quoted)" in table and "(read)" in table and "quoted:" in table  # the legend under the table
    data = json.loads(run("--format", "json"))
    assert {v["kind"] for d in data["dimensions"] for vs in d["values"].values() for v in vs} == {"quoted", "read"}
    assert "chartered accountant (read)" in run("--format", "csv")


# ---------------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------------


class Facts(HTMLParser):
    """The values under "Facts" on a resource page, by group (h3), with the kinds shown for each."""

    def __init__(self):
        super().__init__()
        self.section = self.group = None
        self.values: list[dict] = []
        self._heading: str | None = None
        self._li = 0  # depth inside a value's <li>

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("h2", "h3"):
            self._heading = tag
        if tag == "li" and self.section == "Facts":
            if self._li == 0 and a.get("data-value") is None:
                self.values.append({"group": self.group, "kinds": [], "text": ""})
            self._li += 1
        if self._li and tag == "span" and "statement-kind" in (a.get("class") or ""):
            self.values[-1]["kinds"].append(a.get("data-kind"))

    def handle_endtag(self, tag):
        if tag in ("h2", "h3"):
            self._heading = None
        if tag == "li" and self._li:
            self._li -= 1

    def handle_data(self, data):
        if self._heading == "h2" and data.strip():
            self.section = data.strip()
        elif self._heading == "h3" and data.strip():
            self.group = data.strip()
        elif self._li:
            self.values[-1]["text"] += data


@pytest.mark.parametrize("slug", ["kpo", "bpo", "skill-english", "bpo-earnings", "comparison-newer-term"])
def test_every_fact_on_a_page_shows_its_kind(server, http, slug):
    html = http.get(f"{server.url}/doc/{slug}", headers={"Accept": "text/html"}).text
    page = Facts()
    page.feed(html)
    facts = [v for v in page.values if v["group"] not in ("Provenance", "Evidence", "Passage")]
    assert len(facts) >= 2
    wrong = [(v["group"], " ".join(v["text"].split())[:60], v["kinds"]) for v in facts
             if len(v["kinds"]) != 1 or v["kinds"][0] not in KINDS]
    assert not wrong, wrong
    # The provenance rows describe the record itself (its source, quote, passage): no kind of their own.
    assert all(not v["kinds"] for v in page.values if v["group"] in ("Provenance", "Passage"))


def test_the_kpo_page_marks_its_readings_and_its_definition(server, http):
    html = http.get(f"{server.url}/doc/kpo", headers={"Accept": "text/html"}).text
    definition = html.split('<div class="definition">', 1)[1].split("</div>", 1)[0]
    assert 'data-kind="read"' in definition and "Our reading:" in definition
    skills = html.split(">investment analysis</a>", 1)[1].split("</li>", 1)[0]
    assert 'data-kind="read"' in skills and "such as" in skills
    assert "$24 per hour for the host country" in html and "not a wage" in html
    assert 'class="passage"' in html and "/id/passage-s" in html


def test_type_pages_on_the_home_page_show_the_kind_of_each_definition(server, http):
    html = http.get(server.url + "/", headers={"Accept": "text/html"}).text
    cards = html.split('<ul class="cards types">', 1)[1].split("</ul>", 1)[0]
    assert cards.count('data-kind="read"') == 2 and "not marked" not in cards


def test_a_type_that_waits_for_a_source_shows_the_gap_and_its_kinds(server, http, admin_token):
    """RPO (examples/rpo.yaml) states no activity level: the comparison says it awaits a source, and its page
    marks the definition (the submitter's words) and the facts read from the form's quotes."""
    headers = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/yaml"}
    r = http.post(server.url + "/api/types", data=(ROOT / "examples" / "rpo.yaml").read_bytes(), headers=headers)
    assert r.status_code == 201, r.text
    try:
        body = http.get(server.url + "/api/compare", params={"types": "rpo,bpo"}).json()
        level = next(d for d in body["dimensions"] if d["key"] == "activity-level")
        assert level["awaiting_source"] == ["rpo"] and level["values"]["rpo"] == []
        csv_text = http.get(server.url + "/api/compare", params={"types": "rpo,bpo", "format": "csv"}).text
        assert "— (awaits a source)" in csv_text
        html = http.get(server.url + "/api/compare", params={"types": "rpo,bpo"},
                        headers={"Accept": "text/html"}).text
        assert "awaits a source" in html
        page = http.get(server.url + "/doc/rpo", headers={"Accept": "text/html"}).text
        definition = page.split('<div class="definition">', 1)[1].split("</div>", 1)[0]
        assert 'data-kind="editorial"' in definition
        skill = page.split(">recruitment expertise</a>", 1)[1].split("</li>", 1)[0]
        assert 'data-kind="read"' in skill and "Our reading:" in skill
        assert 'data-kind="unmarked"' not in page
        facts = {f["value"].get("label"): f for f in http.get(server.url + "/api/types/rpo").json()["facts"]}
        assert facts["recruitment expertise"]["kind"] == "read"
        assert facts["processes (activity level)"]["kind"] == "editorial"  # out:awaitsSourceFor is ours
    finally:
        assert http.delete(server.url + "/api/types/rpo", headers=headers).status_code == 204
