"""The comparison written out: as JSON, a table, CSV, Markdown and the bars of the earnings chart.

``kg.domain.compare`` builds a ``Comparison`` from the graph; this module only renders one, the same
way for the API, the page and ``kg compare``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict

from kg.domain.compare import KIND_LEGEND, Comparison, Value, name_of


def to_dict(c: Comparison) -> dict:
    """The comparison as JSON-able data; every value, relation and stored comparison has its ``kind``."""
    return {
        "kinds": dict(KIND_LEGEND),
        "types": [asdict(t) for t in c.types],
        "dimensions": [
            {"dimension": r.dimension, "key": r.key, "label": r.label, "property": r.property,
             "order": r.order, "status": r.status, "shared": r.shared, "note": r.note,
             "awaiting_source": r.awaiting,
             "values": {slug: [_value_dict(v) for v in vs] for slug, vs in r.cells.items()}}
            for r in c.rows
        ],
        "relations": [asdict(r) for r in c.relations],
        "stored_comparisons": [asdict(s) for s in c.stored],
        "earnings_ratios": [asdict(r) for r in c.earnings_ratios],
        "shared": [r.key for r in c.same],
        "differences": [r.key for r in c.differences],
    }


def _value_dict(v: Value) -> dict:
    d = asdict(v)
    return {k: val for k, val in d.items() if val is not None and val != []} | {
        "evidence": d["evidence"], "kind": v.kind, "reading_notes": v.reading_notes}


def _cell(values: list[Value], awaiting: bool = False) -> str:
    if values:
        return "; ".join(v.marked() for v in values)
    return "— (awaits a source)" if awaiting else "—"


def table(c: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the plain table (dimension, one column per type, status). Each value is
    followed by its kind in brackets: quoted, read or editorial."""
    header = ["dimension", *[t.name for t in c.types], "same or different"]
    body = [[r.label, *[_cell(r.cells[t.slug], t.slug in r.awaiting) for t in c.types],
             r.status + (f" ({r.note})" if r.note else "")] for r in c.rows]
    for rel in c.relations:
        words = f"{rel.sentence} ({rel.kind or 'unmarked'})"
        body.append(["relation", *[words if t.slug == rel.subject else "" for t in c.types], ""])
    for s in c.stored:
        words = f"{s.measure}: {s.outcome}" + (f" ({s.ratio:g}x)" if s.ratio is not None else "")
        words += f" ({s.kind or 'unmarked'})"
        body.append([f"stored comparison ({name_of(c.types, s.compared)} vs {name_of(c.types, s.baseline)})",
                     *[words if t.slug == s.compared else "" for t in c.types], ""])
    return header, body


def to_csv(c: Comparison) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header, body = table(c)
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue()


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(c: Comparison) -> str:
    header, body = table(c)
    lines = [f"# {' vs '.join(t.name for t in c.types)}", "",
             "| " + " | ".join(_md(h) for h in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in body]
    lines += ["", "Kinds of statement: " + "; ".join(f"*{k}*: {text}" for k, text in KIND_LEGEND.items()) + "."]
    sources = []
    readings = []
    for r in c.rows:
        for slug, values in r.cells.items():
            for v in values:
                for ev in v.evidence:
                    line = f"- {r.label}, {name_of(c.types, slug)} ({v.kind or 'unmarked'}): “{ev.text}”"
                    if line not in sources:
                        sources.append(line)
                for note in v.reading_notes:
                    line = f"- {r.label}, {name_of(c.types, slug)}, {v.display()}: {note}"
                    if line not in readings:
                        readings.append(line)
    for s in c.stored:
        for note in s.reading_notes:
            readings.append(f"- {s.label or s.measure}: {note}")
    for rel in c.relations:
        for note in rel.reading_notes:
            readings.append(f"- {rel.sentence}: {note}")
    if sources:
        lines += ["", "## Sources", "", *sources]
    if readings:
        lines += ["", "## Our readings", "", *readings]
    return "\n".join(lines) + "\n"


def earnings_bars(c: Comparison, width: int = 360) -> list[dict]:
    """Bars of the earnings chart: one per type and rate, scaled to ``width`` pixels."""
    row = next((r for r in c.rows if r.property.endswith("#averageEarnings")), None)
    if row is None:
        return []
    bars = [{"type": t.name, "amount": v.amount, "label": v.money()}
            for t in c.types for v in row.cells.get(t.slug, []) if v.amount is not None]
    top = max((b["amount"] for b in bars), default=0) or 1
    for i, b in enumerate(bars):
        b["width"] = max(1, round(width * b["amount"] / top))
        b["y"] = 10 + i * 34
    return bars
