"""Classification metrics, pure Python (no scikit-learn at runtime)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from classifiers import LABELS
from classifiers.decision import decide


def report(gold: Sequence[str], pred: Sequence[str]) -> dict:
    """Per-label P/R/F1, macro-F1 over labels present in gold, none FPR, confusion."""
    confusion = Counter(zip(gold, pred))
    per_label = {}
    for label in LABELS:
        tp = confusion[(label, label)]
        n_pred = sum(confusion[(g, label)] for g in LABELS)
        n_gold = sum(confusion[(label, p)] for p in LABELS)
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per_label[label] = {"precision": p, "recall": r, "f1": f, "support": n_gold}
    present = [lab for lab in LABELS if per_label[lab]["support"]]
    macro = sum(per_label[lab]["f1"] for lab in present) / len(present) if present else 0.0
    n_none = per_label["none"]["support"]
    fp_none = n_none - confusion[("none", "none")]
    return {
        "n": len(gold),
        "accuracy": sum(confusion[(lab, lab)] for lab in LABELS) / len(gold) if gold else 0.0,
        "macro_f1": macro,
        "none_fpr": fp_none / n_none if n_none else None,
        "per_label": per_label,
        "confusion": {g: {p: confusion[(g, p)] for p in LABELS} for g in LABELS},
    }


def apply_threshold(probs: Sequence[dict[str, float]], threshold: float) -> list[str]:
    return [decide(scores, threshold)[0] for scores in probs]


def bootstrap_macro_f1(gold: Sequence[str], pred: Sequence[str], n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of macro-F1 (rows resampled with replacement)."""
    rng = random.Random(seed)
    pairs = list(zip(gold, pred))
    scores = sorted(
        report(*zip(*rng.choices(pairs, k=len(pairs))))["macro_f1"] for _ in range(n)
    )
    return scores[int(0.025 * n)], scores[int(0.975 * n) - 1]
