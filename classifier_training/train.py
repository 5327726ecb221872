"""Train the shipped en / zh intent pipelines: ``python -m classifier_training.train``.

Deterministic (fixed seeds, hash-based splits). For each language: build the
data (``classifier_training.data``), train the textcat (``HPARAMS``: spaCy's
TextCatEnsemble of a small from-scratch CNN and a bag of normalised n-grams, or
the bag alone), keep the epoch with the best dev macro-F1, fit a temperature on
the corpus dev rows so the scores are calibrated probabilities, pick the
abstention thresholds (one per intent) on dev so the none false-positive rate stays
under the language's ceiling (``evaluate_core.max_none_fpr``), save to
``classifiers/models/<lang>`` and write ``classifiers/models/MODEL_CARD.md``.

Options: ``--lang en`` (one language), ``--open-only`` (train only on openly
licensed public sources + the project corpus), ``--out DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import spacy
from spacy.lang.char_classes import ALPHA, HYPHENS
from spacy.language import Language
from spacy.training import Example as SpacyExample
from spacy.training.batchers import minibatch_by_words
from spacy.training.pretrain import create_pretraining_model, make_update
from spacy.util import compile_infix_regex, compounding, fix_random_seed, minibatch, registry
from thinc.api import Adam

from classifiers import components  # noqa: F401  (registers the custom pieces)
from classifier_training import data
from classifier_training.data import CORPUS, LABELS, SEED, Dataset
from classifiers.intent import MODELS_DIR
from classifier_training.evaluate_core import (
    CORPUS_GROUP,
    dev_parts,
    eval_sets,
    fmt,
    format_threshold,
    max_none_fpr,
    pick_thresholds,
    pipeline_predictor,
    predict_proba,
    score_sets,
    summary_table,
)
from classifier_training.metrics import apply_threshold, fit_temperature, report
from classifiers.decision import Threshold, with_temperature

VERSION = "2026.12.1"
# The public intent sets are assistant commands, not typed text: trained on, they made the
# models worse on the lines of writers held out of training (EVALUATION.md), so the shipped
# models learn from the project corpus alone and the public sets are evaluation only.
# Both languages abstain with one threshold per intent, each chosen on dev under the
# language's none-FPR ceiling (evaluate_core.MAX_NONE_FPR_BY_LANG; CHOOSING.md: higher
# mean held-out F1 than one shared threshold).
LINEAR = {"ngram_size": 2, "placeholders": ["destination", "product", "concern"], "epochs": 8, "dropout": 0.1,
           "train_public": False, "per_label_thresholds": True}
HPARAMS = {
    # en keeps hyphenated words whole (CHOOSING.md, round 3), sees hard negatives twice
    # (round 5) and adds character 3–4-grams of each token at half weight (ime.NormCharBOW.v1,
    # for typos): off in round 6, back in round 7, where at the lower none-FPR ceiling they
    # scored the best held-out F1. Both languages see indirectly stated positives twice (round 9).
    "en": {**LINEAR, "length": 2**19, "keep_hyphenated": True, "hard_negative_repeat": 2,
           "char_ngrams": [3, 4], "char_weight": 0.5, "indirect_repeat": 2},
    # zh: word n-grams 1–3 in a table twice as large (CHOOSING.md: best mean held-out F1
    # with the lowest held-out none FPR of the candidates); everyday none rows twice (round 6)
    # and hard negatives three times (round 7; twice in round 6): the lines of every later
    # writer held out, false positives fell and macro-F1 rose. Round 8 kept the recipe, added
    # the eighth batch and lowered zh's dev none-FPR ceiling to 2 %; round 9 added the ninth
    # and, as for en, indirectly stated positives twice.
    "zh": {**LINEAR, "ngram_size": 3, "length": 2**19, "hard_negative_repeat": 3, "everyday_repeat": 2,
           "indirect_repeat": 2},
}
# Tried and not shipped (see EVALUATION.md): spaCy's TextCatEnsemble, this small CNN over
# hash embeddings of NORM, PREFIX, SUFFIX and SHAPE (trained from scratch) beside the bag
# of n-grams. It scored lower on dev and on the writers-held-out split, and ran at a
# third of the speed. ``--ensemble`` trains it; the evaluation scores it side by side.
ENSEMBLE_CNN = {"width": 32, "depth": 2, "rows": [5000, 2500, 2500, 2500], "window": 1, "pieces": 3}


def ensemble_hparams(lang: str) -> dict:
    return {**HPARAMS[lang], "cnn": ENSEMBLE_CNN}
CNN_ATTRS = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
PATIENCE = 2  # epochs without a better dev score before training stops
# ``spacy pretrain`` for the ensemble's CNN (hp ``"pretrain": {...}``, these are the defaults):
# the characters objective (``spacy.PretrainCharacters.v1``: predict each token's first and
# last ``n_characters`` bytes from its CNN vector; no vectors needed) on the texts of the
# model's own training rows (labels ignored), normalised as in training. The optimizer and
# batching are spaCy's pretraining defaults. Weights are cached in ``PRETRAIN_CACHE`` by a
# hash of the texts and settings. ``"init_tok2vec": path`` loads weights written elsewhere.
PRETRAIN = {"epochs": 10, "objective": "spacy.PretrainCharacters.v1", "maxout_pieces": 3, "hidden_size": 300,
            "n_characters": 4, "dropout": 0.2, "learn_rate": 0.001, "batch_words": 3000}
PRETRAIN_CACHE = Path(os.environ.get("IME_PRETRAIN_CACHE", Path(tempfile.gettempdir()) / "ime-pretrain"))


def linear_model(hp: dict) -> dict:
    """Config of the bag-of-n-grams model (alone, or the linear half of the ensemble)."""
    model = {"@architectures": "ime.NormBOW.v1", "ngram_size": hp["ngram_size"], "length": hp["length"]}
    if hp.get("char_ngrams"):
        model.update({"@architectures": "ime.NormCharBOW.v1", "char_ngrams": list(hp["char_ngrams"]),
                      "char_weight": hp.get("char_weight", 1.0)})
    return model


def textcat_model(hp: dict) -> dict:
    """spaCy's TextCatEnsemble (CNN tok2vec + attention, beside the linear model) or the linear model alone."""
    cnn = hp.get("cnn")
    if not cnn:
        return linear_model(hp)
    return {
        "@architectures": "spacy.TextCatEnsemble.v2",
        "linear_model": linear_model(hp),
        "tok2vec": {
            "@architectures": "spacy.Tok2Vec.v2",
            "embed": {"@architectures": "spacy.MultiHashEmbed.v2", "width": cnn["width"], "attrs": CNN_ATTRS,
                      "rows": list(cnn["rows"]), "include_static_vectors": False},
            "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": cnn["width"], "depth": cnn["depth"],
                       "window_size": cnn["window"], "maxout_pieces": cnn["pieces"]},
        },
    }


def keep_hyphenated_words(nlp: Language) -> None:
    """Stop splitting letter-hyphen-letter ("buy-in", "check-in", "follow-up"): such a word
    is its own lexeme, and split, "buy-in" read as "buy". Saved with the model's tokenizer."""
    split_hyphens = r"(?<=[{a}0-9])(?:{h})(?=[{a}])".format(a=ALPHA, h=HYPHENS)
    infixes = [p for p in nlp.Defaults.infixes if p != split_hyphens]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer


def make_nlp(lang: str, hp: dict) -> Language:
    nlp = spacy.blank(lang)
    if hp.get("keep_hyphenated"):
        keep_hyphenated_words(nlp)
    keep = CNN_ATTRS[1:] if hp.get("cnn") else []
    nlp.add_pipe("ime_normalize", config={"placeholders": hp["placeholders"], "keep_attrs": keep})
    textcat = nlp.add_pipe("textcat", config={"model": textcat_model(hp)})
    for label in LABELS:
        textcat.add_label(label)
    return nlp


def pretraining_texts(rows: list[data.Example]) -> list[str]:
    """Unlabelled text for pretraining: each distinct training text once (the corpus repeat undone)."""
    return list(dict.fromkeys(e.text for e in rows))


def pretrain_tok2vec(lang: str, hp: dict, texts: list[str], log=print) -> Path:
    """Pretrain the ensemble's CNN tok2vec on ``texts`` (spaCy's pretraining model, loss and
    update step; the docs go through ``ime_normalize`` first, which ``spacy pretrain``'s
    corpus reader would skip). Returns the path of the tok2vec weights (``to_bytes``)."""
    cfg = {**PRETRAIN, **hp["pretrain"]}
    setup = {"lang": lang, "cnn": hp["cnn"], "placeholders": hp["placeholders"],
             "keep_hyphenated": bool(hp.get("keep_hyphenated")), "pretrain": cfg, "seed": SEED}
    digest = hashlib.sha256(json.dumps(setup, sort_keys=True).encode() + "\n".join(texts).encode()).hexdigest()
    path = PRETRAIN_CACHE / f"tok2vec-{lang}-{digest[:16]}.bin"
    if path.exists():
        log(f"  {lang} pretrain: cached {path}")
        return path
    t_start = time.perf_counter()
    fix_random_seed(SEED)
    rng = random.Random(SEED)
    nlp = make_nlp(lang, hp)
    normalize = nlp.get_pipe("ime_normalize")
    docs = [normalize(nlp.make_doc(t)) for t in texts]
    objective = registry.architectures.get(cfg["objective"])(
        maxout_pieces=cfg["maxout_pieces"], hidden_size=cfg["hidden_size"], n_characters=cfg["n_characters"])
    model = create_pretraining_model(nlp, {"component": "textcat", "layer": "tok2vec", "objective": objective,
                                           "dropout": cfg["dropout"]})
    optimizer = Adam(cfg["learn_rate"], beta1=0.9, beta2=0.999, L2_is_weight_decay=True, L2=0.01, grad_clip=1.0,
                     use_averages=True, eps=1e-8)
    loss_fn = model.attrs["loss"]
    words = sum(len(d) for d in docs)
    for epoch in range(cfg["epochs"]):
        t0 = time.perf_counter()
        rng.shuffle(docs)
        loss = sum(make_update(model, batch, optimizer, loss_fn)
                   for batch in minibatch_by_words(docs, size=cfg["batch_words"], tolerance=0.2))
        log(f"  {lang} pretrain epoch {epoch + 1}: loss/word {loss / words:.3f} ({time.perf_counter() - t0:.0f}s)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with model.use_params(optimizer.averages):
        weights = model.get_ref("tok2vec").to_bytes()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(weights)
    tmp.replace(path)
    log(f"  {lang} pretrain: {len(texts)} texts, {sum(map(len, texts))} chars, {words} tokens, "
        f"{cfg['epochs']} epochs in {time.perf_counter() - t_start:.0f}s -> {path}")
    return path


def init_tok2vec(nlp: Language, path: Path | str) -> None:
    """Load pretrained weights into the textcat's CNN tok2vec, as spaCy's own
    ``spacy.training.initialize.init_tok2vec`` does (after ``nlp.initialize``)."""
    nlp.get_pipe("textcat").model.get_ref("tok2vec").from_bytes(Path(path).read_bytes())


def _examples(nlp: Language, rows) -> list[SpacyExample]:
    normalize = nlp.get_pipe("ime_normalize")  # nlp.update does not run function components
    return [
        SpacyExample.from_dict(normalize(nlp.make_doc(r.text)), {"cats": {lab: float(lab == r.label) for lab in LABELS}})
        for r in rows
    ]


def _dev_score(nlp: Language, ds: Dataset) -> float:
    """Dev macro-F1 (argmax), weighted towards the project corpus (the realistic target)."""
    parts = dev_parts(ds)
    weights = (0.7, 0.3) if len(parts) == 2 else (1.0,)
    return sum(
        w * report([e.label for e in rows], apply_threshold(predict_proba(nlp, [e.text for e in rows]), 0.0))["macro_f1"]
        for w, rows in zip(weights, parts)
    )


def calibrate(nlp: Language, ds: Dataset) -> float:
    """Temperature that makes the corpus dev rows' probabilities honest (lowest log loss)."""
    rows = dev_parts(ds)[0]
    return fit_temperature(predict_proba(nlp, [e.text for e in rows]), [e.label for e in rows])


def choose_threshold(nlp: Language, ds: Dataset, temperature: float, hp: dict) -> tuple[Threshold, dict]:
    """The abstention threshold on dev (one, or one per intent with ``per_label_thresholds``)."""
    parts = dev_parts(ds)
    probs = [[with_temperature(p, temperature) for p in predict_proba(nlp, [e.text for e in rows])] for rows in parts]
    return pick_thresholds(probs, [[e.label for e in rows] for rows in parts], hp, ds.lang)


def weighted(rows: list[data.Example], hp: dict) -> list[data.Example]:
    """Training rows with the weights ``hp`` asks for, as repeats: every hard negative
    ``hard_negative_repeat`` times, every everyday none row ``everyday_repeat`` times, every
    indirectly stated positive ``indirect_repeat`` times; with ``balance_classes`` each
    intent's rows repeated so that it has about as many as none."""
    out = list(rows)
    for kind, key in (("hard_negative", "hard_negative_repeat"), ("everyday", "everyday_repeat"),
                      ("indirect", "indirect_repeat")):
        out += [e for e in rows if e.kind == kind] * (hp.get(key, 1) - 1)
    if hp.get("balance_classes"):
        counts = Counter(e.label for e in out)
        for label in LABELS:
            if label != "none" and counts[label]:
                times = round(counts["none"] / counts[label]) - 1
                out += [e for e in out if e.label == label] * max(0, times)
    return out


def train_lang(lang: str, open_only: bool = False, hold_out=None, hp: dict | None = None,
               log=print) -> tuple[Language, Dataset, dict]:
    """Train one language's pipeline; ``hold_out`` keeps corpus rows out (see ``data.build``)."""
    hp = hp or HPARAMS[lang]
    fix_random_seed(SEED)
    rng = random.Random(SEED)
    ds = data.build(lang, open_only=open_only, hold_out=hold_out, train_public=hp.get("train_public", True),
                    public_rows=hp.get("public_rows"))
    nlp = make_nlp(lang, hp)
    train = _examples(nlp, weighted(ds.train, hp))
    optimizer = nlp.initialize(lambda: train[:2000])
    if hp.get("cnn") and (hp.get("pretrain") is not None or hp.get("init_tok2vec")):
        # Pretrained on this run's own training texts, so a held-out split's rows stay unseen.
        path = hp.get("init_tok2vec") or pretrain_tok2vec(lang, hp, pretraining_texts(ds.train), log)
        init_tok2vec(nlp, path)
        fix_random_seed(SEED)  # the same random state whether or not the weights came from the cache
    textcat = nlp.get_pipe("textcat")
    best = (-1.0, None, 0)
    for epoch in range(hp["epochs"]):
        t0 = time.perf_counter()
        rng.shuffle(train)
        losses: dict[str, float] = {}
        for batch in minibatch(train, size=compounding(8.0, 64.0, 1.001)):
            nlp.update(batch, sgd=optimizer, losses=losses, drop=hp.get("dropout", 0.0))
        # Averaged parameters generalise better than the last step's.
        with nlp.use_params(optimizer.averages):
            score = _dev_score(nlp, ds)
            log(f"  {lang} epoch {epoch + 1}: loss {losses['textcat']:.2f} dev macro-F1 {score:.3f} "
                f"({time.perf_counter() - t0:.0f}s)")
            if score > best[0]:
                best = (score, textcat.to_bytes(), epoch + 1)
        if epoch + 1 - best[2] >= hp.get("patience", PATIENCE):
            break  # dev has not improved for a while: the corpus is memorised by now
    textcat.from_bytes(best[1])
    temperature = calibrate(nlp, ds)
    threshold, dev = choose_threshold(nlp, ds, temperature, hp)
    digest = hashlib.sha256(best[1] + f"{format_threshold(threshold)} {temperature:.3f}".encode()).hexdigest()[:8]
    info = {
        "model_id": f"intent-{lang}-{VERSION}-{digest}",
        "threshold": threshold,
        "temperature": temperature,
        "best_epoch": best[2],
        "open_only": open_only,
        "hparams": hp,
        "corpus_repeat": ds.corpus_repeat,
        "train_counts": {src: dict(c) for src, c in ds.train_counts.items()},
        **dev,
    }
    nlp.meta.update(
        name=f"intent_{lang}",
        version=VERSION,
        description="ime-agent intent classifier (purchase/travel/health/none)",
        license="see classifiers/models/MODEL_CARD.md",
        ime_agent=info,
    )
    log(f"  {lang}: best epoch {best[2]}, temperature {temperature:.2f}, threshold {format_threshold(threshold)}, "
        f"{info['model_id']}")
    return nlp, ds, info


def describe(lang: str, hp: dict) -> str:
    """One line saying what the pipeline is, for the model card and the evaluation."""
    linear = f"`{linear_model(hp)['@architectures']}` (n-grams 1–{hp['ngram_size']} of normalised tokens" + (
        f" + char {'/'.join(map(str, hp['char_ngrams']))}-grams of each normalised token, weight {hp['char_weight']})"
        if hp.get("char_ngrams") else ")")
    head = (f"`spacy.blank('{lang}')`" + (" (char segmenter)" if lang == "zh" else "")
            + (" (hyphenated words kept whole)" if hp.get("keep_hyphenated") else "") + " → `ime_normalize` → `textcat`: ")
    cnn = hp.get("cnn")
    if not cnn:
        return head + linear
    return (head + f"`spacy.TextCatEnsemble.v2` = {linear} beside a CNN (`spacy.Tok2Vec.v2`: hash embeddings of "
            f"{', '.join(CNN_ATTRS)} with {'/'.join(map(str, cnn['rows']))} rows, width {cnn['width']}, "
            f"{cnn['depth']} maxout window layers, window {cnn['window']}, {cnn['pieces']} pieces; "
            + ("tok2vec pretrained with spaCy's characters objective) " if hp.get("pretrain") is not None
               or hp.get("init_tok2vec") else "trained from scratch) ") +
            "with parametric attention; exclusive classes")


def _card_section(lang: str, ds: Dataset, info: dict, results: dict) -> list[str]:
    licenses = {s.name: s.license for s in data.SOURCES}
    licenses[CORPUS] = "project-owned (written for ime-agent)"
    lines = [
        f"## {lang}: `{info['model_id']}`",
        "",
        f"- pipeline: {describe(lang, info['hparams'])}",
        f"- confidence: temperature **{info['temperature']:.2f}** (fitted on the corpus dev rows: lowest log loss)",
        f"- abstention {'thresholds' if isinstance(info['threshold'], dict) else 'threshold'}: "
        f"**{format_threshold(info['threshold'])}** on the calibrated scores (chosen on dev: none FPR ≤ "
        f"{max_none_fpr(lang):.1%}); best epoch {info['best_epoch']}/{info['hparams']['epochs']}",
        ("- trained on the project corpus only (`train_public: false`)" if not info["hparams"].get("train_public", True)
         else f"- public train splits + project corpus, corpus rows repeated ×{info['corpus_repeat']} so its style dominates"),
        "",
        "Training rows (after caps/downsampling, before the corpus repeat):",
        "",
        "| source | license | " + " | ".join(LABELS) + " |",
        "|---|---|" + "---|" * len(LABELS),
    ]
    for src, counts in info["train_counts"].items():
        lines.append(f"| {src} | {licenses.get(src, '?')} | " + " | ".join(str(counts.get(lab, 0)) for lab in LABELS) + " |")
    extra = dict(data.EXTRA_HELDOUT)  # source → held-out split of a trained-on source
    held = ", ".join(f"{s} ({extra[s]} split)" if s in extra else s for s in sorted(ds.heldout)) or "none"
    lines += ["", f"Never trained on (held out for evaluation): {held}; {ds.near_duplicates} corpus rows dropped as "
              "near-duplicates of evaluation lines.", "", "Evaluation (thresholded, as shipped):", ""]
    lines += summary_table(results)
    return lines + [""]


CARD_HEAD = [
    "# ime-agent intent models",
    "",
    "Written by `python -m classifier_training.train` — do not edit by hand. Full evaluation with",
    "baselines, held-out splits and calibration: `classifier_training/EVALUATION.md`",
    "(`python -m classifier_training.evaluate`). Label definitions: `classifiers/LABELS.md`.",
    "",
    "Labels: purchase / travel / health / none. Scores are temperature-scaled probabilities;",
    "a non-none winner below its intent's threshold abstains to none.",
    "Trained on the project's typed-text corpus only (`classifier_training/corpus`, written for the",
    "project, MIT), split by a hash of the text: 75 % train, 10 % dev, 15 % test. The public intent",
    "sets are evaluation only (`train_public: false`); with it true they train on their own",
    "train split (5 % carved off by hash for dev). Lines of the evaluation sets",
    "(`classifier_training/evalset_independent5` to `evalset_independent`, and `evalset`) are dropped from",
    "training and dev rows wherever they occur, and so are corpus rows that are near-duplicates",
    "of them (character 3-gram Jaccard ≥ 0.6).",
    "Each public source's origin and licence is in `shared/data/intents/<name>/SOURCE.md`; none is",
    "in the shipped weights, so no licensing note applies to them.",
    "",
    "Retrain (deterministic; about 6 minutes, on one CPU core): `python -m classifier_training.train`.",
    "",
    "Segments longer than 2,000 characters are cut to their first 2,000 before classification",
    "(`classifiers.intent.MAX_CHARS`).",
    "",
    "Slots come from closed vocabularies only (`classifiers.VOCABULARY`): gazetteers in",
    "`classifiers/gazetteers/` (cities map to their country or region: 大理 → China) and fixed",
    "bands. trip_length: day_trip ≤ 1 day, short 2–5 days, week 6–9 days, long ≥ 10 days",
    "(N nights = N + 1 days). price_band: budget ≤ $500 / ¥3,000, mid ≤ $1,500 / ¥8,000,",
    "premium above (×40 for cars). Gazetteer phrases (except `<lang>_slot_only` ones) are also",
    "the normaliser's placeholders, i.e. model features: retrain after editing a gazetteer.",
    "",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifier_training.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=("en", "zh"), action="append")
    parser.add_argument("--open-only", action="store_true", help="train only on openly licensed public sources")
    parser.add_argument("--ensemble", action="store_true", help="train the (unshipped) CNN + n-gram ensemble instead")
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    langs = args.lang or ["en", "zh"]
    card = list(CARD_HEAD)
    for lang in langs:
        t0 = time.perf_counter()
        nlp, ds, info = train_lang(lang, args.open_only, hp=ensemble_hparams(lang) if args.ensemble else None)
        out = args.out / lang
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        nlp.to_disk(out)
        results = score_sets(pipeline_predictor(nlp, info["threshold"], info["temperature"]), eval_sets(ds))
        card += _card_section(lang, ds, info, results)
        restricted = [s.name for s in ds.sources if not s.open_license]
        if restricted:
            card += [f"Licensing note: trained partly on {', '.join(restricted)} (license not open or not verified);",
                     "retrain with `--open-only` for a redistributable model.", ""]
        print(f"{lang}: saved {out} in {time.perf_counter() - t0:.1f}s; corpus test macro-F1 "
              f"{fmt(results[CORPUS_GROUP].get('project_corpus', {}).get('macro_f1'))}")
    if set(langs) == {"en", "zh"}:
        (args.out / "MODEL_CARD.md").write_text("\n".join(card), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
