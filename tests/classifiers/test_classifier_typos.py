"""Typed text has typos: the shipped English model reads clear-cut misspellings
right, and its char n-gram features (``ime.NormCharBOW.v1``; dropped in round 6 of
``CHOOSING.md``, back in round 7) share features between a word and its misspellings.

The typo cases are clear-cut on purpose (they guard against a model that only
knows the spelled-right words); ``classifier_training/probes/en_typos.jsonl`` and
``python -m classifier_training.evaluate`` measure accuracy.
"""

import numpy
import pytest

from classifiers.components import batch_char_ngram_keys, char_ngram_keys

TYPO_CASES = {
    "purchase": [
        "reccomend a laptop for uni",
        "cheep air fryer thats actualy good?",
    ],
    "travel": [
        "flyin out to denver next week",
        "bookin a hotle in rome for 3 nights",
        "cheep flights to lisbon in may",
    ],
    "health": [
        "hedache since moring, nothing helps",
        "my knee hurst when i walk",
    ],
    "none": [
        "runnin late, be there in 10 min",
        "can u send me teh slides from yesterday",
    ],
}


def test_char_ngrams_share_most_features_with_misspellings():
    right, typo = set(char_ngram_keys(["headache"], [3, 4]).tolist()), set(char_ngram_keys(["hedache"], [3, 4]).tolist())
    assert len(right & typo) >= 5
    assert not set(char_ngram_keys(["invoice"], [3, 4]).tolist()) & right


def test_char_ngrams_counts_boundaries_and_no_cross_word_grams():
    # " hotel ": 3-grams " ho" hot ote tel "el " (5), 4-grams " hot" hote otel "tel " (4)
    assert len(char_ngram_keys(["hotel"], [3, 4])) == 9
    both = char_ngram_keys(["hotel", "rome"], [3, 4])
    alone = numpy.concatenate([char_ngram_keys(["hotel"], [3, 4]), char_ngram_keys(["rome"], [3, 4])])
    assert sorted(both.tolist()) == sorted(alone.tolist())
    assert char_ngram_keys([], [3, 4]).size == 0


def test_batched_char_ngrams_match_per_doc():
    docs = [["cheep", "flights"], [], ["ok"], ["hedache", "since", "moring"]]
    batched = batch_char_ngram_keys(docs, [3, 4])
    assert [sorted(b.tolist()) for b in batched] == [sorted(char_ngram_keys(d, [3, 4]).tolist()) for d in docs]
    assert (char_ngram_keys(["hotle"], [3, 4]) == char_ngram_keys(["hotle"], [3, 4])).all()  # deterministic


def test_shipped_en_model_uses_char_ngrams(clf):
    nlp = clf._models["en"].nlp
    assert nlp.get_pipe_config("textcat")["model"]["@architectures"] == "ime.NormCharBOW.v1"


@pytest.mark.parametrize("label,text", [(lab, t) for lab, texts in TYPO_CASES.items() for t in texts])
def test_typo_cases(clf, label, text):
    result = clf.classify(text)
    assert result.lang == "en"
    assert result.label == label, (text, dict(result.scores))
