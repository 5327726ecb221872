"""Training data: the held-out evalset never reaches training or dev rows."""

import json

import pytest

from classifier_training import data
from classifier_training.metrics import bootstrap_macro_f1, report

needs_public = pytest.mark.skipif(
    not (data.INTENTS_DIR / "clinc150" / "mapped.jsonl").exists(),
    reason=f"public intent data not found in {data.INTENTS_DIR} (set IME_AGENT_INTENTS_DIR)",
)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_corpus_files_hold_no_evalset_text(lang):
    banned = {data._key(e.text) for e in data.read_evalset(lang)}
    assert banned
    corpus, skipped = data.read_corpus(lang)
    assert not skipped
    assert not [e.text for e in corpus if data._key(e.text) in banned]


def test_key_normalises_case_and_whitespace():
    assert data._key("  Cheap  Flights\tto TOKYO \n") == "cheap flights to tokyo"


@needs_public
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_build_never_trains_or_tunes_on_the_evalset(lang):
    ds = data.build(lang)
    banned = {data._key(e.text) for e in ds.evalset}
    assert ds.evalset and all(e.source == data.EVALSET for e in ds.evalset)
    assert not [e.text for e in ds.train + ds.dev if data._key(e.text) in banned]


@needs_public
def test_build_drops_training_rows_that_match_the_evalset(tmp_path):
    plain = data.build("en", evalset_dir=tmp_path)  # no evalset at all
    corpus_row = next(e for e in plain.train if e.source == data.CORPUS)
    public_row = next(e for e in plain.train + plain.dev if e.source == "clinc150")
    # Same texts, differently cased and spaced, in a stand-in evalset.
    rows = [
        {"text": "  " + corpus_row.text.upper().replace(" ", "   "), "label": corpus_row.label, "lang": "en"},
        {"text": public_row.text.title() + " ", "label": public_row.label, "lang": "en"},
    ]
    (tmp_path / "en.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ds = data.build("en", evalset_dir=tmp_path)
    assert len(ds.evalset) == 2
    kept = {data._key(e.text) for e in ds.train + ds.dev}
    assert data._key(corpus_row.text) not in kept
    assert data._key(public_row.text) not in kept
    assert len(ds.train) < len(plain.train)


def test_bootstrap_interval_brackets_the_score():
    gold = ["purchase", "travel", "health", "none"] * 50
    pred = gold[:150] + ["none"] * 50
    lo, hi = bootstrap_macro_f1(gold, pred, n=200)
    assert lo <= report(gold, pred)["macro_f1"] <= hi
    assert lo < hi
