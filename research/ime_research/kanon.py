"""k-anonymity by local generalisation, then suppression (pure logic on integer-coded columns).

Every row starts with its values as they would be released. While a row's
values (all quasi-identifiers: everything released but the pseudonym) are
shared by fewer than k distinct participants, the row climbs one rung of a
fixed ladder: a coarser time window, or one more column withheld. A row that is
still not shared by k participants at the top is suppressed (not released).

Rows that reached k never move again, so a class of k or more only ever grows:
when the loop ends every released row's values are shared by at least k
participants. All rows still short of k climb together, one rung per round,
with vectorised Arrow kernels over one 64-bit key per row that names its values.

Only rows whose values a rung changes are counted again at that rung. A rung
marks every value it changes — a coarser precision, or ``withheld`` in a column
no earlier rung withheld — so a changed row can only meet other rows changed at
the same rung, never a class settled earlier; and a row the rung leaves as it
was (a withheld slot that does not apply to its intent) keeps a class that
already fell short and gains no one.

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


class Keys:
    """One int64 per row naming all its values, in mixed radix:
    ``((window - origin) / 15 min × precisions + precision) × Π radix + Σ code × weight``.
    The time part is the most significant, so keys sort by time first."""

    def __init__(self, coded: Coded):
        self.names = sorted(coded.columns)
        for name in self.names:  # a code at or above its radix would make two different rows' keys equal
            top = pc.max(coded.columns[name]).as_py() if len(coded) else None
            if top is not None and not 0 <= top < coded.radix[name]:
                raise ValueError(f"codes of {name!r} must be below its radix {coded.radix[name]}")
        self.weight, size = {}, 1
        for name in reversed(self.names):
            self.weight[name] = size
            size *= coded.radix[name]
        self.columns_size = size
        earliest = pc.min(coded.time).as_py() if len(coded) else 0
        latest = pc.max(coded.time).as_py() if len(coded) else 0
        self.origin = earliest - (earliest - _MONDAY) % SECONDS["1w"]  # every window starts after it
        windows = (latest - self.origin) // SECONDS["15m"] + 1
        if windows * len(PRECISIONS) * size >= _KEY_LIMIT:
            raise OverflowError("the export spans too long a time to be checked for k-anonymity at once; "
                                "export a shorter period")
        self._scalars = {}

    def scalar(self, value: int) -> pa.Scalar:
        # made once: pyarrow makes a scalar from a Python number slowly (it retries optional imports)
        if value not in self._scalars:
            self._scalars[value] = pa.scalar(value, pa.int64())
        return self._scalars[value]

    def window(self, time: pa.Array, precision: str) -> pa.Array:
        """The start of each time's ``precision`` window."""
        seconds = self.scalar(SECONDS[precision])
        return pc.subtract(time, pc.modulo(pc.subtract(time, self.scalar(_MONDAY)), seconds))

    def time_part(self, window: pa.Array, precision_index) -> pa.Array:
        slots = pc.divide(pc.subtract(window, self.scalar(self.origin)), self.scalar(SECONDS["15m"]))
        marked = pc.add(pc.multiply(slots, self.scalar(len(PRECISIONS))), precision_index)
        return pc.multiply(marked, self.scalar(self.columns_size))

    def columns_part(self, columns: dict[str, pa.Array]) -> pa.Array:
        part = None
        for name in self.names:
            term = pc.multiply(columns[name].cast(pa.int64()), self.scalar(self.weight[name]))
            part = term if part is None else pc.add(part, term)
        return part

    def of(self, window: pa.Array, precision_index, columns: dict[str, pa.Array]) -> pa.Array:
        return pc.add(self.time_part(window, precision_index), self.columns_part(columns))


@dataclass(frozen=True)
class Placement:
    """The rows released, in release order: by their values (time first), then by person."""

    rows: pa.Array  # row numbers in the coded table (int64)
    levels: pa.Array  # the rung each is released at (int8)
    suppressed: int  # rows not released


def anonymize(coded: Coded, *, k: int, precision: str, steps: list[Step]) -> Placement:
    """Place every row at the lowest rung where at least ``k`` participants share its values."""
    if k < 1:
        raise ValueError("k must be at least 1")
    keys = Keys(coded)
    # the rows still short of k: their row numbers, current keys and persons
    active = pa.table({
        "row": pc.indices_nonzero(pa.repeat(pa.scalar(True), len(coded))).cast(pa.int64()),
        "key": keys.of(keys.window(coded.time, precision), PRECISIONS.index(precision), coded.columns),
        "person": coded.person,
    })
    placed, levels = [], []
    for level, step in enumerate([None, *steps]):
        if not active.num_rows:
            break
        row, key, person = (active[name].combine_chunks() for name in ("row", "key", "person"))
        changed = None  # None: every row
        if step is not None and step.kind == "time":
            window = keys.window(coded.time.take(row), step.target)
            key = pc.add(keys.time_part(window, PRECISIONS.index(step.target)),
                         pc.modulo(key, keys.scalar(keys.columns_size)))
        elif step is not None:
            codes = coded.columns[step.target].take(row).cast(pa.int64())
            changed = pc.and_(pc.not_equal(codes, NOT_APPLICABLE), pc.not_equal(codes, WITHHELD))
            delta = pc.multiply(pc.subtract(keys.scalar(WITHHELD), codes), keys.scalar(keys.weight[step.target]))
            key = pc.if_else(changed, pc.add(key, delta), key)
        if changed is None:
            enough = _shared(key, person, k)
        else:  # rows left as they were keep a class that already fell short
            enough = pc.replace_with_mask(changed, changed, _shared(key.filter(changed), person.filter(changed), k))
        active = active.set_column(1, "key", key)
        settled = pc.sum(enough).as_py() or 0
        if settled:
            placed.append(active.filter(enough))
            levels.append(pa.repeat(pa.scalar(level, pa.int8()), settled))
            active = active.filter(pc.invert(enough))
    table = pa.concat_tables(placed) if placed else active.slice(0, 0)
    order = pc.sort_indices(table, sort_keys=[("key", "ascending"), ("person", "ascending")])
    level_of = pa.concat_arrays(levels) if levels else pa.array([], pa.int8())
    return Placement(table["row"].take(order).combine_chunks(), level_of.take(order), active.num_rows)


def released(coded: Coded, placement: Placement, precision: str, steps: list[Step]
             ) -> tuple[pa.Array, pa.Array, dict[str, pa.Array], dict[str, int]]:
    """The placed rows' values at their rungs, in release order: (window start, precision index,
    codes), and how many values of each column were withheld."""
    ladder_rungs = rungs(precision, steps)
    keys = Keys(coded)
    level, rows = placement.levels, placement.rows
    precision_index = pc.take(pa.array([PRECISIONS.index(r.precision) for r in ladder_rungs], pa.int8()), level)
    seconds = pc.take(pa.array([SECONDS[r.precision] for r in ladder_rungs], pa.int64()), level)
    time = coded.time.take(rows)
    time = pc.subtract(time, pc.modulo(pc.subtract(time, keys.scalar(_MONDAY)), seconds))
    columns, withheld = {}, {}
    for name, all_codes in coded.columns.items():
        codes = all_codes.take(rows)
        withheld_here = pc.and_(pc.take(pa.array([name in r.withheld for r in ladder_rungs]), level),
                                pc.not_equal(codes, NOT_APPLICABLE))
        columns[name] = pc.if_else(withheld_here, pa.scalar(WITHHELD, codes.type), codes)
        withheld[name] = pc.sum(withheld_here.cast(pa.int64())).as_py() or 0
    return time, precision_index, columns, withheld


def _shared(keys: pa.Array, person: pa.Array, k: int) -> pa.Array:
    """For each row, whether at least ``k`` distinct participants share its key."""
    # a key on fewer than k rows cannot have k participants: only the others are counted in
    # detail, as distinct (key, person) pairs, then pairs per key
    # (one thread: on a machine's few cores, Acero's threaded grouping costs more than it gains here)
    rows = pa.table({"key": keys}).group_by("key", use_threads=False).aggregate([("key", "count")])
    busy = rows["key"].filter(pc.greater_equal(rows["key_count"], k)).combine_chunks()
    if not len(busy):
        return pa.repeat(pa.scalar(False), len(keys))
    candidate = pc.is_in(keys, value_set=busy) if len(busy) < len(rows) else None
    if candidate is not None:
        keys, person = keys.filter(candidate), person.filter(candidate)
    pairs = pa.table({"key": keys, "person": person}).group_by(["key", "person"], use_threads=False).aggregate([])
    groups = pairs.group_by("key", use_threads=False).aggregate([("person", "count")])
    hit = pc.is_in(keys, value_set=groups["key"].filter(pc.greater_equal(groups["person_count"], k)))
    return hit if candidate is None else pc.replace_with_mask(candidate, candidate, hit)
