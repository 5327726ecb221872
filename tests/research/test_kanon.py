"""The k-anonymity core against a plain reference: every rung recounts every row still short of k."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings, strategies as st

from ime_wire.timebucket import coarsen, iso
from ime_research import kanon

MONDAY = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
RADIX = {"a": 7, "b": 5, "c": 6}  # above every code; 0 = not applicable, 2 = withheld (never given)


def reference(rows, k, precision, steps):
    """Rung per row, the slow and obvious way."""
    ladder = kanon.rungs(precision, steps)
    levels = [None] * len(rows)
    settled = set()
    for level, rung in enumerate(ladder):
        values = {}
        for i, (time, codes, _) in enumerate(rows):
            if levels[i] is None:
                window = coarsen(iso(datetime.fromtimestamp(time, UTC)), rung.precision)
                values[i] = (window, rung.precision, tuple(
                    kanon.WITHHELD if name in rung.withheld and code != kanon.NOT_APPLICABLE else code
                    for name, code in sorted(codes.items())))
        people = defaultdict(set)
        for i, value in values.items():
            people[value].add(rows[i][2])
        for i, value in values.items():
            if len(people[value]) >= k or value in settled:
                levels[i] = level
        settled |= {value for value in people if len(people[value]) >= k}
    return [-1 if level is None else level for level in levels]


code = st.sampled_from([0, 1, 3, 4])
rows = st.lists(st.tuples(st.integers(0, 96 * 20).map(lambda n: MONDAY + 900 * n),
                          st.fixed_dictionaries({"a": code, "b": code, "c": code}),
                          st.integers(0, 8)), max_size=120)


@settings(max_examples=150, deadline=None)
@given(rows=rows, k=st.integers(1, 4), precision=st.sampled_from(["15m", "1h", "1d"]),
       order=st.permutations(["a", "b", "c"]))
def test_anonymize_matches_the_reference(rows, k, precision, order):
    steps = kanon.ladder(precision, before_week=[order[0]], after_week=order[1:])
    coded = kanon.Coded(time=pa.array([r[0] for r in rows], pa.int64()),
                        columns={n: pa.array([r[1][n] for r in rows], pa.int32()) for n in RADIX},
                        radix=RADIX, person=pa.array([r[2] for r in rows], pa.int32()))
    placement = kanon.anonymize(coded, k=k, precision=precision, steps=steps)
    levels = [-1] * len(rows)
    for row, level in zip(placement.rows.to_pylist(), placement.levels.to_pylist()):
        levels[row] = level
    assert levels == reference(rows, k, precision, steps)
    assert placement.suppressed == levels.count(-1)


def test_window_starts_match_the_wire_contract():
    times = [MONDAY + 900 * n for n in range(0, 96 * 9, 7)]
    coded = kanon.Coded(time=pa.array(times, pa.int64()), columns={"a": pa.array([3] * len(times), pa.int32())},
                        radix={"a": 6}, person=pa.array([0] * len(times), pa.int32()))
    keys = kanon.Keys(coded)
    for precision in kanon.PRECISIONS:
        windows = keys.window(coded.time, precision).to_pylist()
        assert [iso(datetime.fromtimestamp(w, UTC)) for w in windows] == \
            [coarsen(iso(datetime.fromtimestamp(t, UTC)), precision) for t in times]
