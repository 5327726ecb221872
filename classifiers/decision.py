"""The one abstention rule and the confidence calibration, shared by the shipped
classifier and its evaluation."""

from __future__ import annotations

import math
from collections.abc import Mapping


Threshold = float | Mapping[str, float]  # one for every intent, or one per intent


def decide(scores: Mapping[str, float], threshold: Threshold) -> tuple[str, bool]:
    """The argmax label, or none when a non-none winner is below its threshold (one
    number for all intents, or a mapping intent → threshold); and whether it abstained."""
    label = max(scores, key=scores.get)
    # An intent missing from a per-intent mapping abstains: never fire without a bar.
    bar = threshold.get(label, math.inf) if isinstance(threshold, Mapping) else threshold
    abstained = label != "none" and scores[label] < bar
    return ("none" if abstained else label), abstained


def with_temperature(scores: Mapping[str, float], temperature: float) -> dict[str, float]:
    """Temperature-scaled probabilities: softmax(log p / T). T > 1 softens
    over-confident scores, T < 1 sharpens; T = 1 leaves them as they are."""
    if temperature == 1.0:
        return dict(scores)
    logits = {k: math.log(max(v, 1e-12)) / temperature for k, v in scores.items()}
    top = max(logits.values())
    exp = {k: math.exp(v - top) for k, v in logits.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}
