"""The one abstention rule, shared by the shipped classifier and its evaluation."""

from __future__ import annotations


def decide(scores: dict[str, float], threshold: float) -> tuple[str, bool]:
    """The argmax label, or none when a non-none winner is below the threshold; and
    whether it abstained."""
    label = max(scores, key=scores.get)
    abstained = label != "none" and scores[label] < threshold
    return ("none" if abstained else label), abstained
