"""DP aggregates: OpenDP counts with declared bounds, and a ledger that never lets the budget be overspent."""

from __future__ import annotations

import csv
import json
import random
import secrets
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

import research_standins
from research_standins import standins  # noqa: F401  (the fixture)
from ime_wire import manifest as wire_manifest, vocabulary
from ime_research import dp
from ime_research.cli import main
from ime_research.errors import BudgetExceeded, ResearchError
from ime_research.researchdb import SUMMARY_SCHEMA, ResearchDB

pytestmark = pytest.mark.usefixtures("standins")

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)  # the test study runs from 2026-03-02 for 60 days
MONDAY = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
SLOTS = [n for n in SUMMARY_SCHEMA.names if n in vocabulary.SLOTS]


def fill(db: ResearchDB, participants: int, rows_each: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    everything = []
    with db.transaction():
        for _ in range(participants):
            rows = []
            for _ in range(rows_each):
                intent = rng.choice(["purchase", "travel"])
                rows.append({"id": secrets.token_hex(16), "bucket": MONDAY + 900 * rng.randrange(96 * 7),
                             "app_category": "browser", "lang": "en", "intent": intent, "confidence": 0.9,
                             "model_id": "m", **{n: None for n in SLOTS},
                             "destination": rng.choice(["Japan", "France"]) if intent == "travel" else None})
            db.add_batch(secrets.token_hex(16), secrets.token_hex(16), "2026-03-09",
                         pa.Table.from_pylist(rows, SUMMARY_SCHEMA))
            everything += rows
    return everything


@pytest.fixture
def study(tmp_path):
    research_standins.create_study(tmp_path / "study", dp_budget=2.0)
    manifest = wire_manifest.load((tmp_path / "study" / "study.json").read_bytes())
    db = ResearchDB.in_study(tmp_path / "study")
    yield tmp_path / "study", manifest, db
    db.close()


def test_counts_per_day_and_category_are_close_to_the_truth_with_a_large_epsilon(study, tmp_path):
    _, manifest, db = study
    rows = fill(db, participants=20, rows_each=5)
    query = dp.Query(by="day", slot=None, max_per_period=10, epsilon=2.0)
    result = dp.aggregate(db, manifest, 1000.0, query, tmp_path / "counts.json", now=NOW)
    written = json.loads((tmp_path / "counts.json").read_text())
    assert written["counts"] == result["counts"]
    # the cells are public: every day of the study up to today x every category, whatever the data
    assert len(result["counts"]) == 14 * 3
    assert {c["period"] for c in result["counts"]} == {f"2026-03-{d:02d}" for d in range(2, 16)}
    truth = {}
    for row in rows:
        day = datetime.fromtimestamp(row["bucket"], UTC).date().isoformat()
        truth[(day, row["intent"])] = truth.get((day, row["intent"]), 0) + 1
    scale = result["noise_scale"]
    assert scale == pytest.approx(10 * 14 / 2.0, rel=0.05)  # max_per_period x periods / epsilon
    errors = [abs(c["count"] - truth.get((c["period"], c["intent"]), 0)) for c in result["counts"]]
    assert sorted(errors)[len(errors) // 2] < 3 * scale  # the median error is of the noise's size
    assert result["bounds"] == {"max_summaries_per_participant_per_period": 10, "periods": 14,
                                "max_summaries_per_participant": 140}


def test_contributions_are_bounded_per_participant_and_period(study, tmp_path):
    _, manifest, db = study
    fill(db, participants=3, rows_each=300)
    labels = dp._bounded_labels(db.load_summaries(), manifest, dp.Query("week", None, 4, 1.0),
                                dp.periods(manifest, "week", NOW.date()))
    assert len(labels) == 3 * 4  # all rows fall in the first week: four each


def test_slot_counts_cover_every_value_and_not_stated(study, tmp_path):
    _, manifest, db = study
    fill(db, participants=5, rows_each=10)
    query = dp.Query(by="week", slot="destination", max_per_period=10, epsilon=1.0)
    dp.aggregate(db, manifest, 10.0, query, tmp_path / "destinations.csv", now=NOW)
    with open(tmp_path / "destinations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["period", "intent", "slot", "value", "count"]
    assert {r["value"] for r in rows} == {*vocabulary.SLOTS["destination"], "not_stated"}
    assert {r["period"] for r in rows} == {"2026-03-02", "2026-03-09"}


def test_every_release_is_in_the_ledger_and_an_over_budget_one_is_refused(study, tmp_path):
    _, manifest, db = study
    fill(db, participants=4, rows_each=4)
    for n in range(3):
        dp.aggregate(db, manifest, 2.0, dp.Query("day", None, 5, 0.5), tmp_path / f"r{n}.json", now=NOW)
    ledger = db.releases()
    assert [r["epsilon"] for r in ledger] == pytest.approx([0.5, 0.5, 0.5])
    assert [r["remaining"] for r in ledger] == pytest.approx([1.5, 1.0, 0.5])
    assert ledger[0]["mechanism"] == dp.MECHANISM and ledger[0]["delta"] == 0.0
    assert ledger[0]["bounds"]["max_summaries_per_participant_per_period"] == 5
    assert ledger[0]["query"] == {"by": "day", "slot": None, "first_period": "2026-03-02",
                                  "last_period": "2026-03-15", "cells": 42, "output": "r0.json"}
    with pytest.raises(BudgetExceeded, match="only 0.5 of the study's budget 2 is left"):
        dp.aggregate(db, manifest, 2.0, dp.Query("day", None, 5, 0.6), tmp_path / "over.json", now=NOW)
    assert not (tmp_path / "over.json").exists()
    assert len(db.releases()) == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@settings(max_examples=40, deadline=None)
@given(asks=st.lists(st.floats(0.01, 3.0), min_size=1, max_size=8), budget=st.floats(0.5, 5.0))
def test_the_ledger_never_spends_more_than_the_budget(tmp_path_factory, asks, budget):
    root = tmp_path_factory.mktemp("ledger")
    research_standins.create_study(root / "study")
    manifest = wire_manifest.load((root / "study" / "study.json").read_bytes())
    with ResearchDB.in_study(root / "study") as db:
        spent = 0.0
        for n, epsilon in enumerate(asks):
            out = root / f"r{n}.json"
            if spent + epsilon <= budget + 1e-9:
                dp.aggregate(db, manifest, budget, dp.Query("week", None, 3, epsilon), out, now=NOW)
                spent += epsilon
                assert out.exists()
            else:
                with pytest.raises(BudgetExceeded):
                    dp.aggregate(db, manifest, budget, dp.Query("week", None, 3, epsilon), out, now=NOW)
                assert not out.exists()
            assert db.epsilon_spent() == pytest.approx(spent)
            assert db.epsilon_spent() <= budget + 1e-9
        assert all(r["remaining"] >= -1e-9 for r in db.releases())


@pytest.mark.parametrize("query, message", [
    (dp.Query("day", None, 5, 0.0), "--epsilon must be a number above 0"),
    (dp.Query("day", None, 5, float("nan")), "--epsilon must be a number above 0"),
    (dp.Query("day", "hair_colour", 5, 1.0), "--slot must be one of the study's slots"),
    (dp.Query("day", None, 0, 1.0), "--max-per-period must be 1 or more"),
])
def test_bad_queries_are_refused_before_anything_is_spent(study, tmp_path, query, message):
    _, manifest, db = study
    with pytest.raises(ResearchError, match=message):
        dp.aggregate(db, manifest, 10.0, query, tmp_path / "x.json", now=NOW)
    assert db.releases() == []


def test_aggregate_command_spends_from_the_study_budget_and_refuses_in_one_line(study, tmp_path):
    study_dir, _, db = study
    fill(db, participants=3, rows_each=3)
    runner = CliRunner()
    result = runner.invoke(main, ["aggregate", str(study_dir), "--epsilon", "1.5", "--by", "week",
                                  "-o", str(tmp_path / "weekly.json")])
    assert result.exit_code == 0, result.output
    assert "epsilon left: 0.5 of 2" in result.output
    result = runner.invoke(main, ["aggregate", str(study_dir), "--epsilon", "1", "-o", str(tmp_path / "no.csv")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: refused: this release asks epsilon = 1, but only 0.5")
    assert len(result.output.splitlines()) == 1
    assert not (tmp_path / "no.csv").exists()
    assert len(db.releases()) == 1
