"""``ime-research report``: one self-contained HTML page about a study's data and pipeline.

For the study team: intents per day per category, slot distributions,
participation and compliance per pseudonym (last upload, gaps, counts), the
pipeline's health (bad signatures, duplicates, losses) and the privacy budget
ledger. Participants appear only under pseudonyms (fresh per report unless a
saved pseudonym key is given); counts are exact, so the page is not a public
release — the export and the DP aggregates are.

Charts are inline SVG (:mod:`ime_research.charts`); the page loads nothing from
anywhere and runs no script.
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

import ime_research
from ime_wire import vocabulary
from ime_wire.manifest import Manifest

from ime_research import charts, codebook, pseudonyms
from ime_research.pull import LABELS
from ime_research.researchdb import ResearchDB

TOP_VALUES = 20


def build(db: ResearchDB, manifest: Manifest, *, key: bytes, budget: float, now: datetime | None = None) -> str:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    summaries = db.load_summaries()
    participation = db.participation()
    sections = [
        _overview(manifest, summaries, participation, db, now),
        _intents_per_day(manifest, summaries),
        _slots(manifest, summaries),
        _participation(participation, key, _until(manifest, participation, now.date())),
        _health(db),
        _ledger(db, budget),
    ]
    return _PAGE.format(title=html.escape(f"Report: {manifest.title}"), css=_CSS, body="\n".join(sections))


# --- sections -----------------------------------------------------------------------------------


def _overview(manifest: Manifest, summaries: pa.Table, participation, db: ResearchDB, now: datetime) -> str:
    facts = {
        "study": f"{manifest.title} ({manifest.study_id})",
        "run by": manifest.organisation,
        "categories": ", ".join(manifest.categories),
        "study dates": f"{manifest.starts} to {manifest.ends}",
        "participants with data": str(len(participation)),
        "withdrawn": str(len(db.withdrawn())),
        "summaries kept": f"{summaries.num_rows:,}",
        "batches kept": f"{sum(p.batches for p in participation):,}",
        "report made": now.strftime("%Y-%m-%d %H:%M UTC") + f" by ime-research {ime_research.__version__}",
    }
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts.items())
    return (f"<h1>{html.escape(manifest.title)}</h1>"
            "<p class=note>For the study team: participants appear under pseudonyms and counts are exact. "
            "Publish the anonymized export or DP aggregates, not this page.</p>"
            f"<table class=facts>{rows}</table>")


def _intents_per_day(manifest: Manifest, summaries: pa.Table) -> str:
    days = pc.divide(summaries["bucket"], 86400).to_pylist()
    counts = Counter(zip(days, summaries["intent"].to_pylist()))
    labels, series = [], {c: [] for c in vocabulary.CATEGORIES if c in manifest.categories}
    if days:
        first, last = min(days), max(days)
        for day in range(first, last + 1):
            labels.append((date(1970, 1, 1) + timedelta(days=day)).isoformat())
            for category, values in series.items():
                values.append(counts.get((day, category), 0))
    svg = charts.stacked_bars("Intents per day, by category", labels, series, x_title="day (UTC)",
                              y_title="summaries")
    return _section("intents-per-day", "Intents per day", svg)


def _slots(manifest: Manifest, summaries: pa.Table) -> str:
    parts = []
    for name in codebook.slot_names(manifest):
        intent = next(i for i, slots in vocabulary.SLOTS_FOR.items() if name in slots)
        rows = summaries.filter(pc.equal(summaries["intent"], intent))
        values = Counter(pc.fill_null(rows[name], codebook.NOT_STATED).to_pylist())
        top = dict(values.most_common(TOP_VALUES))
        rest = sum(values.values()) - sum(top.values())
        if rest:
            top[f"other ({len(values) - TOP_VALUES} values)"] = rest
        title = f"{name} ({intent}): {vocabulary.SLOT_DESCRIPTIONS[name]}"
        parts.append(_figure(f"slot-{name}", charts.horizontal_bars(title, top)))
    return f"<section id=slots><h2>Slot distributions</h2>{''.join(parts)}</section>"


def _until(manifest: Manifest, participation, today: date) -> date:
    """The last day compliance is judged on: today, or the study's end once it is over."""
    last_upload = max((date.fromisoformat(max(p.by_day)) for p in participation), default=today)
    return max(min(today, date.fromisoformat(manifest.ends)), last_upload)


def _participation(participation, key: bytes, today: date) -> str:
    rows, dots = [], {}
    first_day = min((date.fromisoformat(min(p.by_day)) for p in participation), default=today)
    columns = [(first_day + timedelta(days=i)).isoformat() for i in range((today - first_day).days + 1)]
    for p in sorted(participation, key=lambda p: pseudonyms.pseudonym(key, p.enrollment_id)):
        name = pseudonyms.pseudonym(key, p.enrollment_id)
        days = [date.fromisoformat(d) for d in p.by_day]
        gaps = [(b - a).days - 1 for a, b in zip(days, days[1:])]
        span = (today - days[0]).days + 1
        rows.append([name, f"{p.summaries:,}", f"{p.batches:,}", days[0].isoformat(), days[-1].isoformat(),
                     str((today - days[-1]).days), str(max(gaps, default=0)), f"{len(days)} of {span}"])
        dots[name] = [p.by_day.get(day) for day in columns]
    table = _table(["pseudonym", "summaries", "batches", "first upload", "last upload", "days since last",
                    "longest gap (days)", "days with an upload"], rows)
    svg = charts.dots("Summaries received per participant and day", columns, dots)
    return (f"<section id=participation><h2>Participation and compliance</h2>{table}"
            f"{_figure('participation', svg)}</section>")


def _health(db: ResearchDB) -> str:
    counters = db.counters()
    shown = {LABELS[name]: counters[name] for name in LABELS if name not in ("batches", "summaries")}
    losses = {"batches lost (bad signature or not opened)": counters["bad_signatures"] + counters["unopened"],
              "summaries lost (out of vocabulary)": counters["out_of_vocabulary"]}
    table = _table(["counter", "since the first pull"],
                   [[LABELS[name], f"{counters[name]:,}"] for name in LABELS]
                   + [[k, f"{v:,}"] for k, v in losses.items()])
    pulls = db.pulls()[-20:]
    history = _table(["pull finished", *[LABELS[n] for n in LABELS]],
                     [[finished, *[str(c.get(n, 0)) for n in LABELS]] for finished, c in reversed(pulls)])
    svg = charts.bars("Pipeline problems since the first pull", shown, y_title="count")
    return (f"<section id=health><h2>Pipeline health</h2>{table}{_figure('health', svg)}"
            f"<h3>Last pulls</h3>{history}</section>")


def _ledger(db: ResearchDB, budget: float) -> str:
    releases = db.releases()
    spent = sum(r["epsilon"] for r in releases)
    rows = [[r["released"], f"{r['epsilon']:g}", f"{r['delta']:g}", r["query"].get("by", ""),
             r["query"].get("slot") or "categories",
             str(r["bounds"].get("max_summaries_per_participant_per_period", "")), f"{r['remaining']:g}"]
            for r in releases]
    table = _table(["released", "epsilon", "delta", "by", "counted", "bound per period", "epsilon left"], rows)
    return (f"<section id=ledger><h2>Privacy budget</h2><p>Total epsilon {budget:g}, spent {spent:g}, "
            f"left {budget - spent:g}. The budget never renews.</p>{table}</section>")


# --- html -----------------------------------------------------------------------------------------


def _section(anchor: str, title: str, svg: str) -> str:
    return f"<section id={anchor}><h2>{html.escape(title)}</h2>{_figure(anchor, svg)}</section>"


def _figure(name: str, svg: str) -> str:
    return f'<figure class=chart data-chart="{html.escape(name)}">{svg}</figure>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    if not rows:
        body = f"<tr><td colspan={len(header)}>none yet</td></tr>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 2rem auto; max-width: 960px;
       color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
.note { background: #fff6d5; padding: .5rem .8rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
td { font-variant-numeric: tabular-nums; }
figure.chart { margin: 1rem 0; }
figure.chart svg { width: 100%; height: auto; display: block; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
{body}
</body>
</html>
"""
