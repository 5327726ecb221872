"""The rows CHOOSING.md names as chosen are the recipe and rule that training ships."""

from classifier_training import choose, train
from classifier_training.evaluate_core import max_none_fpr

# The latest choice per language (en: round 7, zh: round 8): (candidate, abstention rule) as
# named in CHOOSING.md.
CHOSEN = {
    "en": ("round 6's choice + batch7, character n-grams back (en)", "one per intent, ≤ 2.5 %"),
    "zh": ("round 7's choice + batch8", "one per intent, ≤ 2 %"),
}


def test_the_chosen_rows_are_what_training_ships():
    for lang, (candidate, rule) in CHOSEN.items():
        changes = choose.CANDIDATES[candidate]
        assert not changes.get("leave_out")
        assert choose.hparams(lang, changes) == train.HPARAMS[lang]
        picker, ceiling = choose.RULES[rule]
        assert train.HPARAMS[lang]["per_label_thresholds"] == (picker is choose.pick_label_thresholds)
        assert max_none_fpr(lang) == ceiling


def test_the_round_6_recipe_is_written_out_not_read_from_training():
    """Later changes to train.HPARAMS must not change what round 7's rows mean."""
    assert "char_ngrams" not in choose.ROUND6["en"]
    assert choose.hparams("en", choose.CANDIDATES["round 6's choice + batch7"]) != train.HPARAMS["en"]


def test_a_batch_written_for_one_language_is_a_split_of_that_language_only():
    from classifier_training.evaluate import SPLITS, splits_for

    batch8 = "source-held-out: eighth writers (batch8)"
    assert batch8 in splits_for("zh")
    assert batch8 not in splits_for("en")
    assert set(splits_for("en")) == set(SPLITS) - {batch8}
