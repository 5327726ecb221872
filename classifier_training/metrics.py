"""Classification and calibration metrics, pure Python (no scikit-learn at runtime)."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence

from classifiers import LABELS
from classifiers.decision import Threshold, decide, with_temperature


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


def apply_threshold(probs: Sequence[dict[str, float]], threshold: Threshold) -> list[str]:
    return [decide(scores, threshold)[0] for scores in probs]


def bootstrap_macro_f1(gold: Sequence[str], pred: Sequence[str], n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of macro-F1 (rows resampled with replacement)."""
    rng = random.Random(seed)
    pairs = list(zip(gold, pred))
    scores = sorted(
        report(*zip(*rng.choices(pairs, k=len(pairs))))["macro_f1"] for _ in range(n)
    )
    return scores[int(0.025 * n)], scores[int(0.975 * n) - 1]


def fit_temperature(probs: Sequence[dict[str, float]], gold: Sequence[str]) -> float:
    """The temperature (0.25–8, log-spaced grid) with the lowest log loss on these rows."""
    best = (math.inf, 1.0)
    for i in range(-40, 61):
        t = round(2 ** (i / 20), 4)
        loss = -sum(math.log(max(with_temperature(p, t)[g], 1e-12)) for p, g in zip(probs, gold))
        best = min(best, (loss, t))
    return best[1]


def calibration_bins(probs: Sequence[dict[str, float]], gold: Sequence[str], n_bins: int = 10) -> list[tuple[float, float, int]]:
    """Top-label reliability: per equal-width confidence bin, (mean confidence,
    accuracy, rows) of the argmax label; empty bins are left out."""
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for p, g in zip(probs, gold):
        label = max(p, key=p.get)
        conf = p[label]
        bins[min(int(conf * n_bins), n_bins - 1)].append((conf, label == g))
    return [(sum(c for c, _ in b) / len(b), sum(ok for _, ok in b) / len(b), len(b)) for b in bins if b]


def expected_calibration_error(probs: Sequence[dict[str, float]], gold: Sequence[str], n_bins: int = 10) -> float:
    """ECE: the row-weighted mean gap between confidence and accuracy over the bins."""
    n = len(gold)
    return sum(rows / n * abs(conf - acc) for conf, acc, rows in calibration_bins(probs, gold, n_bins)) if n else 0.0
