"""The evaluation report names the headline set from one place, so a new set renames every table."""

from classifier_training import data, evaluate
from classifier_training.data import Example
from classifier_training.evaluate_core import EVALSET_GROUP, GROUP_OF_EVALSET


def test_the_report_headings_name_the_current_headline():
    assert EVALSET_GROUP == GROUP_OF_EVALSET[data.HEADLINE]
    by_genre = evaluate._by_genre(lambda texts: ["none"] * len(texts), [Example("hi", "none", "corpus", "chat")])
    assert by_genre[0].lower().startswith(EVALSET_GROUP)
    head = evaluate._overview_head()[0]
    assert f"**{evaluate.short_name(EVALSET_GROUP)} macro-F1**" in head
    assert all(f"| {evaluate.short_name(group)} macro-F1 |" in head for group in evaluate.EARLIER_GROUPS)
