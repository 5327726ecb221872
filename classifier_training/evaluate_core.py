"""Scoring helpers shared by ``train`` (model card) and ``evaluate`` (full report)."""

from __future__ import annotations

import platform
from collections.abc import Sequence

from spacy.language import Language

from classifier_training.data import HEADLINE, LABELS, Dataset, Example
from classifier_training.metrics import apply_threshold, report
from classifiers.decision import Threshold, with_temperature


def predict_proba(nlp: Language, texts: Sequence[str], temperature: float = 1.0) -> list[dict[str, float]]:
    with nlp.memory_zone():
        return [with_temperature({lab: float(doc.cats[lab]) for lab in LABELS}, temperature)
                for doc in nlp.pipe(texts, batch_size=512)]


SAME_HANDS_GROUP = "evalset by the corpus's first writers"
CORPUS_GROUP = "project corpus (held-out slice)"
# Report names of the evaluation sets, headline first: each says when it was scored before.
GROUP_OF_EVALSET = {
    "evalset_independent5": "fifth independent evalset (headline)",
    "evalset_independent4": "fourth independent evalset (scored in round 8)",
    "evalset_independent3": "third independent evalset (scored in round 7)",
    "evalset_independent2": "second independent evalset (scored in rounds 6–7)",
    "evalset_independent": "first independent evalset (scored in earlier rounds)",
    "evalset": SAME_HANDS_GROUP,
}
EVALSET_GROUP = GROUP_OF_EVALSET[HEADLINE]


def eval_sets(ds: Dataset) -> dict[str, dict[str, list[Example]]]:
    """Named groups of evaluation sets, in report order (headline first)."""
    groups = {GROUP_OF_EVALSET[name]: ({name: rows} if rows else {}) for name, rows in ds.evalsets.items()}
    return {
        **groups,
        CORPUS_GROUP: {"project_corpus": ds.corpus_test} if ds.corpus_test else {},
        "held-out public sources": ds.heldout,
        ("in-distribution public test splits" if ds.public_trained else "public test splits (not trained on)"): ds.test,
    }


def score_sets(predict, groups: dict[str, dict[str, list[Example]]]) -> dict[str, dict[str, dict]]:
    """predict(texts) → labels; returns group → source (+ "overall") → report."""
    out: dict[str, dict[str, dict]] = {}
    for group, sets in groups.items():
        out[group] = {}
        all_gold, all_pred = [], []
        for name, rows in sets.items():
            if not rows:
                continue
            gold = [e.label for e in rows]
            pred = predict([e.text for e in rows])
            out[group][name] = report(gold, pred)
            all_gold += gold
            all_pred += pred
        if len(out[group]) > 1:
            out[group]["overall"] = report(all_gold, all_pred)
    return out


def pipeline_predictor(nlp: Language, threshold: float, temperature: float = 1.0):
    return lambda texts: apply_threshold(predict_proba(nlp, texts, temperature), threshold)


def fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def format_threshold(threshold) -> str:
    """0.56, or "purchase 0.50 / travel 0.61 / health 0.55" for per-intent thresholds."""
    if isinstance(threshold, dict):
        return " / ".join(f"{lab} {t:.2f}" for lab, t in threshold.items())
    return f"{threshold:.2f}"


def summary_table(results: dict[str, dict[str, dict]]) -> list[str]:
    lines = ["| set | source | n | macro-F1 | none FPR | P/R purchase | P/R travel | P/R health |",
             "|---|---|---|---|---|---|---|---|"]
    for group, by_src in results.items():
        for src, r in by_src.items():
            pr = [
                f"{fmt(r['per_label'][lab]['precision'])}/{fmt(r['per_label'][lab]['recall'])}"
                if r["per_label"][lab]["support"] or any(r["confusion"][g][lab] for g in LABELS) else "–"
                for lab in ("purchase", "travel", "health")
            ]
            lines.append(f"| {group} | {src} | {r['n']} | {fmt(r['macro_f1'])} | {fmt(r['none_fpr'])} | " + " | ".join(pr) + " |")
    return lines


# The study's target for none false positives on text from outside the project. The
# corpus dev rows hold about as many hard negatives as the outside sets, so the
# threshold is held to the target itself on dev, unless the language sets its own.
MAX_NONE_FPR = 0.03
# Round 7 (CHOOSING.md): at 3 % on dev, text from other hands still got 3.5–4.5 % false
# positives; at 2.5 % English's held-out none FPR predicts ≤ 3 %. Chinese ran higher outside
# than held out (×1.52 after round 7), so round 8 holds its dev ceiling to 2 %. English ran
# lower outside than held out after round 8 (×0.56), so round 9 takes it back to 3 %.
MAX_NONE_FPR_BY_LANG: dict[str, float] = {"en": 0.03, "zh": 0.02}


def max_none_fpr(lang: str) -> float:
    """The dev none-FPR ceiling used to pick ``lang``'s abstention threshold."""
    return MAX_NONE_FPR_BY_LANG.get(lang, MAX_NONE_FPR)
MIN_NONE_FOR_FPR = 20  # a dev part with fewer none rows cannot estimate the FPR


def dev_parts(ds: Dataset) -> list[list[Example]]:
    """Dev rows from the project corpus first (the realistic target), then public."""
    corpus = [e for e in ds.dev if e.source == "project_corpus"]
    public = [e for e in ds.dev if e.source != "project_corpus"]
    return [rows for rows in (corpus, public) if rows]


_GRID = [x / 100 for x in range(25, 100)]


def _dev_reports(parts_probs, parts_gold, threshold, max_fpr: float) -> list[dict] | None:
    """Reports of every dev part at this threshold, or None when a part with enough
    none rows has a none FPR above ``max_fpr``."""
    reps = [report(g, apply_threshold(p, threshold)) for p, g in zip(parts_probs, parts_gold)]
    if any(
        r["none_fpr"] is not None and r["per_label"]["none"]["support"] >= MIN_NONE_FOR_FPR
        and r["none_fpr"] > max_fpr
        for r in reps
    ):
        return None
    return reps


def _dev_info(reps: list[dict]) -> dict:
    return {"dev_macro_f1": reps[0]["macro_f1"], "dev_none_fpr": [r["none_fpr"] for r in reps]}


def pick_threshold(
    parts_probs: list[list[dict[str, float]]], parts_gold: list[list[str]], max_fpr: float = MAX_NONE_FPR
) -> tuple[float, dict]:
    """Best macro-F1 on the first dev part among thresholds that keep none FPR
    ≤ max_fpr on every dev part with enough none rows."""
    best = None
    for t in _GRID:
        reps = _dev_reports(parts_probs, parts_gold, t, max_fpr)
        if reps is not None and (best is None or reps[0]["macro_f1"] > best[1] + 1e-9):
            best = (t, reps[0]["macro_f1"], reps)
    if best is None:
        return 0.99, {}
    return best[0], _dev_info(best[2])


def pick_label_thresholds(
    parts_probs: list[list[dict[str, float]]], parts_gold: list[list[str]], max_fpr: float = MAX_NONE_FPR,
    rounds: int = 2,
) -> tuple[dict[str, float], dict]:
    """One threshold per intent, under the same rule as ``pick_threshold``: start from
    the best single threshold, then move one intent's threshold at a time (coordinate
    ascent, ``rounds`` passes) while dev macro-F1 rises and every none FPR stays ≤ max_fpr."""
    start, _ = pick_threshold(parts_probs, parts_gold, max_fpr)
    current = {lab: start for lab in LABELS if lab != "none"}
    reps = _dev_reports(parts_probs, parts_gold, current, max_fpr)
    if reps is None:
        return current, {}
    for _ in range(rounds):
        for lab in current:
            for t in _GRID:
                trial = _dev_reports(parts_probs, parts_gold, {**current, lab: t}, max_fpr)
                if trial is not None and trial[0]["macro_f1"] > reps[0]["macro_f1"] + 1e-9:
                    current, reps = {**current, lab: t}, trial
    return {lab: round(t, 2) for lab, t in current.items()}, _dev_info(reps)


def pick_thresholds(parts_probs: list[list[dict[str, float]]], parts_gold: list[list[str]], hp: dict,
                    lang: str) -> tuple[Threshold, dict]:
    """The abstention rule ``hp`` asks for: one threshold, or one per intent with
    ``per_label_thresholds``, under the dev none-FPR ceiling (``max_none_fpr`` or the language's)."""
    pick = pick_label_thresholds if hp.get("per_label_thresholds") else pick_threshold
    return pick(parts_probs, parts_gold, hp.get("max_none_fpr", max_none_fpr(lang)))


def cpu_model() -> str:
    """The CPU's name, for the header of a results file."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"
