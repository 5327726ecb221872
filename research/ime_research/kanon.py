"""k-anonymity by local generalisation, then suppression (pure logic on integer-coded columns).

Every row starts with its values as they would be released. While a row's
values (all quasi-identifiers: everything released but the pseudonym) are
shared by fewer than k distinct participants, the row climbs one rung of a
fixed ladder: a coarser time window, or one more column withheld. A row that is
still not shared by k participants at the top is suppressed (not released).

Rows that reached k never move again, so a class of k or more only ever grows:
when the loop ends every released row's values are shared by at least k
participants. All rows still short of k climb together, so each round works on
a single rung for the rows that are left, with vectorised Arrow kernels.

Coding: column values are small integers where 0 means "not applicable" (never
withheld: it follows from the intent), :data:`WITHHELD` means withheld, and
values of the vocabulary start at :data:`FIRST_VALUE`. Time is Unix seconds of
the finest window.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

NOT_APPLICABLE, NOT_STATED, WITHHELD, FIRST_VALUE = 0, 1, 2, 3
SECONDS = {"15m": 900, "1h": 3600, "1d": 86400, "1w": 7 * 86400}
PRECISIONS = tuple(SECONDS)  # finest first
_MONDAY = 4 * 86400  # 1970-01-05, a Monday: weeks start there; a multiple of every smaller window
_KEY_LIMIT = 2 ** 62


@dataclass(frozen=True)
class Step:
    """One rung: coarsen time to ``precision``, or withhold ``column``."""

    kind: str  # "time" | "withhold"
    target: str  # a precision, or a column name

    def __str__(self) -> str:
        return f"time to {self.target}" if self.kind == "time" else f"withhold {self.target}"


@dataclass(frozen=True)
class Coded:
    """The quasi-identifiers of every row as integer codes, and whose row it is."""

    time: pa.Array  # int64, Unix seconds of the finest window
    columns: dict[str, pa.Array]  # int codes as described in the module docstring
    radix: dict[str, int]  # one more than the largest code of each column
    person: pa.Array  # int32, one number per participant

    def __len__(self) -> int:
        return len(self.person)

    def filter(self, mask: pa.Array) -> "Coded":
        return Coded(self.time.filter(mask), {n: c.filter(mask) for n, c in self.columns.items()},
                     self.radix, self.person.filter(mask))


def ladder(precision: str, *, before_week: list[str], after_week: list[str]) -> list[Step]:
    """Time coarsened up to a day, ``before_week`` withheld, time to a week, then ``after_week`` withheld."""
    start = PRECISIONS.index(precision)
    steps = [Step("time", p) for p in PRECISIONS[start + 1:PRECISIONS.index("1d") + 1]]
    steps += [Step("withhold", c) for c in before_week]
    if start < PRECISIONS.index("1w"):
        steps.append(Step("time", "1w"))
    steps += [Step("withhold", c) for c in after_week]
    return steps


@dataclass(frozen=True)
class Rung:
    """What holds for a row that climbed ``level`` steps."""

    precision: str
    withheld: frozenset[str]


def rungs(precision: str, steps: list[Step]) -> list[Rung]:
    out = [Rung(precision, frozenset())]
    for step in steps:
        last = out[-1]
        out.append(Rung(step.target, last.withheld) if step.kind == "time"
                   else Rung(last.precision, last.withheld | {step.target}))
    return out


def anonymize(coded: Coded, *, k: int, precision: str, steps: list[Step]) -> pa.Array:
    """The rung each row is released at (int8), or -1 for a suppressed row."""
    if k < 1:
        raise ValueError("k must be at least 1")
    origin = _origin(coded)
    active, position = coded, pa.array(range(len(coded)), pa.int64())  # position: row number in ``coded``
    settled_keys: list[pa.Array] = []
    placed, placed_levels = [], []
    for level, rung in enumerate(rungs(precision, steps)):
        if not len(active):
            break
        time, columns = _generalise(active, rung)
        keys = _keys(time, columns, active.radix, origin, PRECISIONS.index(rung.precision))
        enough = pc.greater_equal(_people_per_key(keys, active.person), k)
        if settled_keys:  # joining a class that already has k participants is enough
            enough = pc.or_(enough, pc.is_in(keys, value_set=pa.concat_arrays(settled_keys)))
        settled_keys.append(pc.unique(keys.filter(enough)))
        placed.append(position.filter(enough))
        placed_levels.append(pa.repeat(pa.scalar(level, pa.int8()), len(placed[-1])))
        still = pc.invert(enough)
        active, position = active.filter(still), position.filter(still)
    placed.append(position)  # suppressed
    placed_levels.append(pa.repeat(pa.scalar(-1, pa.int8()), len(position)))
    # every row is placed exactly once: sorting by row number puts the levels back in row order
    order = pc.sort_indices(pa.concat_arrays(placed))
    return pc.take(pa.concat_arrays(placed_levels), order)


def released(coded: Coded, levels: pa.Array, precision: str, steps: list[Step]
             ) -> tuple[pa.Array, pa.Array, dict[str, pa.Array]]:
    """Each row's values at its rung: (time window start, precision index, column codes).

    Rows with level -1 get the top rung's values; the caller drops them."""
    ladder_rungs = rungs(precision, steps)
    level = pc.if_else(pc.less(levels, 0), len(ladder_rungs) - 1, levels)
    precision_index = pc.take(pa.array([PRECISIONS.index(r.precision) for r in ladder_rungs], pa.int8()), level)
    seconds = pc.take(pa.array([SECONDS[r.precision] for r in ladder_rungs], pa.int64()), level)
    time = pc.subtract(coded.time, pc.modulo(pc.subtract(coded.time, _MONDAY), seconds))
    columns = {}
    for name, codes in coded.columns.items():
        withheld_here = pc.take(pa.array([name in r.withheld for r in ladder_rungs]), level)
        columns[name] = pc.if_else(pc.and_(withheld_here, pc.not_equal(codes, NOT_APPLICABLE)),
                                   pa.scalar(WITHHELD, codes.type), codes)
    return time, precision_index, columns


# --- internals ----------------------------------------------------------------------------


def _generalise(coded: Coded, rung: Rung) -> tuple[pa.Array, dict[str, pa.Array]]:
    seconds = SECONDS[rung.precision]
    time = pc.subtract(coded.time, pc.modulo(pc.subtract(coded.time, _MONDAY), seconds))
    columns = {}
    for name, codes in coded.columns.items():
        columns[name] = (pc.if_else(pc.equal(codes, NOT_APPLICABLE), codes, pa.scalar(WITHHELD, codes.type))
                         if name in rung.withheld else codes)
    return time, columns


def _origin(coded: Coded) -> int:
    """The start of the week of the earliest row: every window start is at or after it."""
    if not len(coded):
        return 0
    earliest = pc.min(coded.time).as_py()
    return earliest - (earliest - _MONDAY) % SECONDS["1w"]


def _keys(time: pa.Array, columns: dict[str, pa.Array], radix: dict[str, int], origin: int,
          precision_index: int) -> pa.Array:
    """One int64 per row naming its values (mixed radix): equal keys, equal released values."""
    slots = pc.divide(pc.subtract(time, origin), SECONDS["15m"])
    span = (pc.max(slots).as_py() or 0) + 1 if len(time) else 1
    key = pc.add(pc.multiply(slots, len(PRECISIONS)), precision_index)
    size = span * len(PRECISIONS)
    for name in sorted(columns):
        size *= radix[name]
        if size >= _KEY_LIMIT:
            raise OverflowError("the export spans too long a time to be checked for k-anonymity at once; "
                                "export a shorter period")
        key = pc.add(pc.multiply(key, radix[name]), columns[name].cast(pa.int64()))
    return key


def _people_per_key(keys: pa.Array, person: pa.Array) -> pa.Array:
    """For each row, how many distinct participants share its key."""
    groups = pa.table({"key": keys, "person": person}).group_by("key").aggregate([("person", "count_distinct")])
    counts = groups["person_count_distinct"].combine_chunks()
    return pc.take(counts, pc.index_in(keys, value_set=groups["key"].combine_chunks()))
