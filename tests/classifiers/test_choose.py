"""The rows CHOOSING.md names as chosen are the recipe and rule that training ships."""

from classifier_training import choose, train
from classifier_training.evaluate_core import max_none_fpr

# The latest choice per language (round 9): (candidate, abstention rule) as named in CHOOSING.md.
CHOSEN = {
    "en": ("round 8's choice + batch9, indirect positives ×2", "one per intent, ≤ 3 %"),
    "zh": ("round 8's choice + batch9, indirect positives ×2", "one per intent, ≤ 2 %"),
}


def test_the_chosen_rows_are_what_training_ships():
    for lang, (candidate, rule) in CHOSEN.items():
        changes = choose.CANDIDATES[candidate]
        assert not changes.get("leave_out")
        assert choose.hparams(lang, changes) == train.HPARAMS[lang]
        picker, ceiling = choose.RULES[rule]
        assert train.HPARAMS[lang]["per_label_thresholds"] == (picker is choose.pick_label_thresholds)
        assert max_none_fpr(lang) == ceiling


def test_earlier_recipes_are_written_out_not_read_from_training():
    """Later changes to train.HPARAMS must not change what earlier rounds' rows mean."""
    assert "char_ngrams" not in choose.ROUND6["en"]
    assert choose.hparams("en", choose.CANDIDATES["round 6's choice + batch7"]) != train.HPARAMS["en"]
    assert "indirect_repeat" not in choose.ROUND8["zh"]
    assert choose.hparams("zh", choose.CANDIDATES["round 8's choice + batch9"]) != train.HPARAMS["zh"]


def test_a_batch_written_for_one_language_is_a_split_of_that_language_only():
    from classifier_training.evaluate import SPLITS, splits_for

    batch8 = "source-held-out: eighth writers (batch8)"
    assert batch8 in splits_for("zh")
    assert batch8 not in splits_for("en")
    assert set(splits_for("en")) == set(SPLITS) - {batch8}
