"""``ime-research aggregate``: differentially private counts, charged to the study's budget.

The privacy unit is the participant. Each participant's contribution is bounded
before anything is counted: at most ``max_per_period`` summaries per period
(a random sample of theirs where they wrote more), so adding or removing one
participant changes at most ``max_per_period × periods`` rows. OpenDP turns
that declared bound into the privacy loss: a count per cell
(``make_count_by_categories``) with discrete Laplace noise (``then_laplace``),
its scale found so the release costs exactly the ε asked.

The cells are public: every period of the study up to today (from the signed
manifest, never from the data) × the study's categories, or × a slot's values
(and ``not_stated``). Every release is written to the ledger in the research
database — mechanism, ε, δ, bounds, what was counted, the budget left — and a
release that would spend more than the study's total ε is refused before
anything is computed. The budget never renews.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ime_wire import vocabulary
from ime_wire.manifest import Manifest

from ime_research import codebook
from ime_research.errors import BudgetExceeded, ResearchError
from ime_research.researchdb import ResearchDB

PERIODS = ("day", "week")
DEFAULT_MAX_PER_PERIOD = 10
MECHANISM = ("discrete Laplace on counts by category (OpenDP make_count_by_categories >> then_laplace), "
             "participant-level bound by sampling")
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Query:
    by: str  # "day" | "week"
    slot: str | None
    max_per_period: int
    epsilon: float


def check_budget(db: ResearchDB, budget: float, epsilon: float) -> float:
    """ε left after this release; :class:`BudgetExceeded` if there is not enough."""
    spent = db.epsilon_spent()
    left = budget - spent
    if epsilon > left + _TOLERANCE:
        releases = len(db.releases())
        raise BudgetExceeded(
            f"refused: this release asks epsilon = {epsilon:g}, but only {max(left, 0):g} of the study's "
            f"budget {budget:g} is left ({spent:g} spent in {releases} release{'s' * (releases != 1)}); "
            "nothing was released or recorded")
    return left - epsilon


def periods(manifest: Manifest, by: str, today: date) -> list[date]:
    """The start of every period of the study up to ``today`` (weeks start on Monday)."""
    first, last = date.fromisoformat(manifest.starts), min(date.fromisoformat(manifest.ends), today)
    if last < first:
        raise ResearchError(f"the study starts on {manifest.starts}: there is nothing to count yet")
    if by == "week":
        first = first - timedelta(days=first.weekday())
    step = timedelta(days=7 if by == "week" else 1)
    out, day = [], first
    while day <= last:
        out.append(day)
        day += step
    return out


def aggregate(db: ResearchDB, manifest: Manifest, budget: float, query: Query, out_path: Path, *,
              now: datetime | None = None) -> dict:
    """Compute, record and write one release; return what was written."""
    if not (math.isfinite(query.epsilon) and query.epsilon > 0):
        raise ResearchError("--epsilon must be a number above 0")
    if query.by not in PERIODS:
        raise ResearchError(f"--by must be one of {', '.join(PERIODS)}")
    if query.max_per_period < 1:
        raise ResearchError("--max-per-period must be 1 or more")
    if query.slot is not None and query.slot not in codebook.slot_names(manifest):
        raise ResearchError(f"--slot must be one of the study's slots: {', '.join(codebook.slot_names(manifest))}")
    out_path = Path(out_path)
    if out_path.suffix not in (".json", ".csv"):
        raise ResearchError("the output file must end in .json or .csv")
    check_budget(db, budget, query.epsilon)
    now = now or datetime.now(UTC)
    starts = periods(manifest, query.by, now.date())
    cells, labels = _cells(manifest, query, starts)
    rows = _bounded_labels(db.load_summaries(), manifest, query, starts)
    d_in = query.max_per_period * len(starts)
    noisy, scale, epsilon = _release(labels, rows, d_in, query.epsilon)
    bounds = {"max_summaries_per_participant_per_period": query.max_per_period, "periods": len(starts),
              "max_summaries_per_participant": d_in}
    described = {"by": query.by, "slot": query.slot, "first_period": starts[0].isoformat(),
                 "last_period": starts[-1].isoformat(), "cells": len(cells), "output": out_path.name}
    document = {
        "study_id": manifest.study_id, "mechanism": MECHANISM, "epsilon": epsilon, "delta": 0.0,
        "noise_scale": scale, "bounds": bounds, "query": described,
        "note": "counts carry discrete Laplace noise of the scale given; they may be negative",
        "counts": [{**cell, "count": count} for cell, count in zip(cells, noisy)],
    }
    staging = out_path.with_name(f".{out_path.name}.partial-{secrets.token_hex(4)}")
    try:
        staging.write_bytes(_render(document, out_path.suffix))
        with db.transaction():  # checked again under the write lock: two releases at once cannot overspend
            remaining = check_budget(db, budget, epsilon)
            db.record_release(released=now, mechanism=MECHANISM, epsilon=epsilon, delta=0.0, bounds=bounds,
                              query=described, budget=budget, remaining=remaining)
        staging.replace(out_path)
    except OSError as exc:
        raise ResearchError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    finally:
        staging.unlink(missing_ok=True)
    return {**document, "remaining": remaining}


def _cells(manifest: Manifest, query: Query, starts: list[date]) -> tuple[list[dict], list[str]]:
    if query.slot is None:
        groups = [{"intent": c} for c in vocabulary.CATEGORIES if c in manifest.categories]
    else:
        intent = next(i for i, slots in vocabulary.SLOTS_FOR.items() if query.slot in slots)
        groups = [{"intent": intent, "slot": query.slot, "value": v}
                  for v in (*vocabulary.SLOTS[query.slot], codebook.NOT_STATED)]
    cells = [{"period": start.isoformat(), **group} for start in starts for group in groups]
    return cells, [_label(cell) for cell in cells]


def _label(cell: dict) -> str:
    return "|".join((cell["period"], cell["intent"], cell.get("value", "")))


def _bounded_labels(summaries: pa.Table, manifest: Manifest, query: Query, starts: list[date]) -> list[str]:
    """Each row's cell label, at most ``max_per_period`` rows per participant and period (a random sample)."""
    if query.slot is not None:
        intent = next(i for i, slots in vocabulary.SLOTS_FOR.items() if query.slot in slots)
        summaries = summaries.filter(pc.equal(summaries["intent"], intent))
        values = pc.fill_null(summaries[query.slot], codebook.NOT_STATED).to_pylist()
    else:
        values = [""] * summaries.num_rows
    days = (pc.divide(summaries["bucket"], 86400)).to_pylist()
    enrollments = summaries["enrollment_id"].to_pylist()
    intents = summaries["intent"].to_pylist()
    epoch = date(1970, 1, 1)
    period_of = _period_lookup(query.by, starts)
    order = list(range(summaries.num_rows))
    random.Random(secrets.randbits(64)).shuffle(order)
    taken: dict[tuple[str, str], int] = {}
    labels = []
    for i in order:
        period = period_of(epoch + timedelta(days=days[i]))
        if period is None:
            continue
        used = taken.get((enrollments[i], period), 0)
        if used >= query.max_per_period:
            continue
        taken[(enrollments[i], period)] = used + 1
        labels.append("|".join((period, intents[i], values[i])))
    return labels


def _period_lookup(by: str, starts: list[date]):
    known = {s.isoformat() for s in starts}

    def period_of(day: date) -> str | None:
        start = day - timedelta(days=day.weekday()) if by == "week" else day
        text = start.isoformat()
        return text if text in known else None
    return period_of


def _release(labels: list[str], rows: list[str], d_in: int, epsilon: float) -> tuple[list[int], float, float]:
    """Noisy counts for ``labels`` (OpenDP), the noise scale and the ε it costs for ``d_in``."""
    import opendp.prelude as dp  # imported here: only aggregate needs it

    dp.enable_features("contrib")
    counting = dp.t.make_count_by_categories(dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance(),
                                             categories=labels, MO=dp.L1Distance[int], TOA=int)
    scale = dp.binary_search_param(lambda s: counting >> dp.m.then_laplace(s), d_in=d_in, d_out=epsilon)
    measurement = counting >> dp.m.then_laplace(scale)
    spent = float(measurement.map(d_in))
    counts = measurement(rows)[:-1]  # the last count is of rows outside every cell: not released
    return [int(c) for c in counts], float(scale), spent


def _render(document: dict, suffix: str) -> bytes:
    if suffix == ".json":
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    out = io.StringIO()
    fields = ["period", "intent", *(["slot", "value"] if document["query"]["slot"] else []), "count"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(document["counts"])
    return out.getvalue().encode()
