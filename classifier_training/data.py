"""Training and evaluation data: which rows of which source go where.

One place decides splits, caps and weights so that ``train`` and ``evaluate``
see exactly the same data. Everything is deterministic: rows are assigned to
dev / test by a hash of their text, and downsampling uses a fixed seed.

Sources are the public sets under ``shared/data/intents`` (their own train/test
splits, whole sources held out to measure generalisation) and the project's
typed-text corpus in ``classifier_training/corpus/{en,zh}/**/*.jsonl`` (files
directly under the language folder are the first writers' batch, ``batch2/``
the second's, ``batch3/`` the maintainer's lines (place names, buying idioms),
``batch4/`` the fourth writers', "new hands", ``batch5/`` to ``batch9/`` the fifth to ninth
groups', written for the rounds of the same numbers; ``batch8/`` is Chinese only).

Six evaluation sets are kept apart for final scores only (``EVALSETS``):
``evalset_independent5/`` to ``evalset_independent/``
(each written from the labelling guide alone by people who never saw the corpus;
the newest is the headline, as the others have been scored in earlier rounds) and ``evalset/``
(written by the same hands as the first corpus batch). Any training or dev row
whose normalised text (lowercase, whitespace collapsed) is in any of them is dropped here, and so is
any corpus row that is a near-duplicate of an evaluation line (``NEAR_DUP``),
so no command can train or tune on them.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from classifiers import LABELS  # noqa: E402  (one source: ime_wire.vocabulary)

CORPUS = "project_corpus"
SEED = 20261122

PACKAGE_DIR = Path(__file__).resolve().parent
CORPUS_DIR = PACKAGE_DIR / "corpus"
#: Evaluation sets, headline first: name → folder holding ``{lang}.jsonl``.
EVALSETS = {
    "evalset_independent5": PACKAGE_DIR / "evalset_independent5",
    "evalset_independent4": PACKAGE_DIR / "evalset_independent4",
    "evalset_independent3": PACKAGE_DIR / "evalset_independent3",
    "evalset_independent2": PACKAGE_DIR / "evalset_independent2",
    "evalset_independent": PACKAGE_DIR / "evalset_independent",
    "evalset": PACKAGE_DIR / "evalset",
}
HEADLINE = next(iter(EVALSETS))
#: Written from the guide alone by writers who never saw the corpus: pooled, the best stand-in
#: for the sets kept outside the project (all but ``evalset``, by the corpus's first writers).
INDEPENDENT = tuple(name for name in EVALSETS if name != "evalset")
# Corpus rows this similar to an evaluation line (Jaccard of character
# 3-gram sets) are dropped as near-duplicates, not only exact matches.
NEAR_DUP = 0.6
INTENTS_DIR = Path(
    os.environ.get(
        "IME_AGENT_INTENTS_DIR", PACKAGE_DIR.parent.parent / "shared" / "data" / "intents"
    )
)


@dataclass(frozen=True)
class Source:
    name: str
    lang: str
    license: str
    open_license: bool
    train_splits: tuple[str, ...] = ()  # empty ⇒ whole source held out
    test_splits: tuple[str, ...] = ()
    caps: dict[str, int] = field(default_factory=dict)  # per-label cap on train rows


_NONE_CAP = 1500
SOURCES = (
    # English
    Source("clinc150", "en", "CC BY 3.0", True, ("train",), ("val", "test"), {"none": _NONE_CAP}),
    Source("hwu64", "en", "CC BY 4.0", True, ("train",), ("test",), {"none": _NONE_CAP}),
    Source("sgd", "en", "CC BY-SA 4.0", True, ("train",), ("dev", "test"),
           {"none": _NONE_CAP, "travel": 2000}),
    Source("snips2017", "en", "CC0 1.0", True, ("train_full",), ("validate",), {"none": 1000}),
    Source("banking77", "en", "CC BY 4.0", True, ("train",), ("test",), {"none": 1000}),
    Source("nlupp_hotels", "en", "CC BY 4.0", True,
           tuple(f"fold{i}" for i in range(16)), tuple(f"fold{i}" for i in range(16, 20))),
    Source("star", "en", "MIT", True),
    Source("mg_shopdial", "en", "not stated", False),
    Source("medical_speech_intent", "en", "unverified", False),
    # Chinese
    Source("crosswoz", "zh", "Apache-2.0", True, ("val",), ("test",), {"travel": 2000}),
    Source("kdconv", "zh", "Apache-2.0", True, ("dev",), ("test",), {"none": 2000}),
    Source("multi_cpr", "zh", "not stated", False, ("train",), (),
           {"purchase": 1500, "none": 1000}),
    Source("cblue_kuake_qic", "zh", "unclear (CBLUE terms)", False, ("train",), ("dev",),
           {"health": 1500}),
    Source("cblue_chip_sts", "zh", "unclear (CBLUE terms)", False, ("train",), ("test",),
           {"health": 800}),
    Source("risawoz_fewshot", "zh", "CC BY 4.0", True),
    Source("smp2017_ecdt", "zh", "not stated", False),
)
# Held-out slices that are not whole sources.
EXTRA_HELDOUT = {("multi_cpr", "dev")}

# Project corpus: hash buckets of 20 → train / dev (threshold, epoch choice) / test.
_CORPUS_DEV = {15, 16}
_CORPUS_TEST = {17, 18, 19}
# Public rows carved off train for dev.
_PUBLIC_DEV = {0}
# Upsampling of the corpus so that its style dominates, bounded so a small
# corpus is not memorised line by line.
CORPUS_TARGET_SHARE = 0.7
CORPUS_MAX_REPEAT = 20


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str
    genre: str = ""
    kind: str = ""  # direct / indirect / everyday / hard_negative, where the writers recorded it
    batch: str = ""  # corpus writers' batch: "batch1" (top-level files) or the sub-folder name


@dataclass
class Dataset:
    lang: str
    train: list[Example]
    dev: list[Example]
    test: dict[str, list[Example]]  # test split of each public source with a train split
    heldout: dict[str, list[Example]]  # whole sources (or slices) never trained on
    corpus_test: list[Example]
    evalsets: dict[str, list[Example]]  # name → realistic typed text, never trained or tuned on
    corpus_repeat: int
    train_counts: dict[str, Counter]  # source → label counts (before corpus upsampling)
    sources: list[Source]
    held_out_corpus: list[Example] = field(default_factory=list)  # rows ``build(hold_out=...)`` kept apart
    public_trained: bool = True  # whether the public sets' train splits were trained on
    near_duplicates: int = 0  # corpus rows dropped as near-duplicates of an evaluation line


def _bucket(text: str, n: int = 20) -> int:
    return int(hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest(), 16) % n


def _key(text: str) -> str:
    """Normal form for overlap checks: lowercase, whitespace collapsed."""
    return " ".join(text.lower().split())


def _grams(text: str) -> set[str]:
    k = _key(text)
    return {k[i : i + 3] for i in range(max(1, len(k) - 2))}


class NearDuplicateIndex:
    """Finds texts whose character 3-gram sets have Jaccard ≥ ``threshold``
    with some indexed text. Prefix filtering keeps it fast: two sets that
    similar must share one of their rarest grams, so only those are indexed."""

    def __init__(self, texts: list[str], threshold: float = NEAR_DUP):
        self.threshold = threshold
        self.sets = [_grams(t) for t in texts]
        self.freq = Counter(g for s in self.sets for g in s)
        self.index: dict[str, list[int]] = {}
        for i, grams in enumerate(self.sets):
            for g in self._prefix(grams):
                self.index.setdefault(g, []).append(i)

    def _prefix(self, grams: set[str]) -> list[str]:
        # Rarest first; grams never indexed (frequency 0) come first and simply match nothing.
        ordered = sorted(grams, key=lambda g: (self.freq.get(g, 0), g))
        keep = len(ordered) - int(self.threshold * len(ordered) - 1e-9) + 1
        return ordered[:keep]

    def matches(self, text: str) -> bool:
        grams = _grams(text)
        n, t = len(grams), self.threshold
        candidates = {i for g in self._prefix(grams) for i in self.index.get(g, ())}
        for i in candidates:
            other = self.sets[i]
            m = len(other)
            # |A ∩ B| ≥ t·|A ∪ B| with |A ∪ B| = n + m − |A ∩ B|
            if t * n <= m <= n / t and len(grams & other) * (1 + t) >= t * (n + m):
                return True
        return False


def read_evalset(lang: str, name: str = HEADLINE, directory: Path | None = None) -> list[Example]:
    """One held-out realistic set for one language (empty if absent)."""
    path = (directory or EVALSETS[name]) / f"{lang}.jsonl"
    if not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                rows.append(Example(row["text"], row["label"], name, row.get("genre", ""), row.get("kind", "")))
    return rows


def read_evalsets(lang: str, dirs: dict[str, Path] | None = None) -> dict[str, list[Example]]:
    """Every evaluation set of a language, headline first (``dirs`` replaces ``EVALSETS``)."""
    return {name: read_evalset(lang, name, d) for name, d in (dirs or EVALSETS).items()}


def drop_overlap(rows: list[Example], banned: set[str]) -> list[Example]:
    """Rows whose normalised text is not in ``banned``."""
    return [e for e in rows if _key(e.text) not in banned]


def read_public(name: str):
    path = INTENTS_DIR / name / "mapped.jsonl"
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("label") in LABELS and row.get("text", "").strip():
                yield row


def read_corpus(lang: str) -> tuple[list[Example], int]:
    """All valid corpus rows for a language, and how many lines were skipped
    (malformed, no text, a label outside the vocabulary, another language)."""
    rows, skipped = [], 0
    root = CORPUS_DIR / lang
    for path in sorted(root.rglob("*.jsonl")):
        batch = "batch1" if path.parent == root else path.parent.name
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    skipped += 1
                    continue
                text, label = row.get("text"), row.get("label")
                if not isinstance(text, str) or not text.strip() or label not in LABELS:
                    skipped += 1
                    continue
                if row.get("lang", lang) != lang:
                    skipped += 1
                    continue
                rows.append(Example(text, label, CORPUS, str(row.get("genre", "")), str(row.get("kind", "")), batch))
    return rows, skipped


def build(
    lang: str,
    open_only: bool = False,
    evalset_dirs: dict[str, Path] | None = None,
    hold_out: Callable[[Example], bool] | None = None,
    train_public: bool = True,
    public_rows: int | None = None,
) -> Dataset:
    """Assemble every split for one language (deterministic).

    Evaluation texts never reach train or dev, from the corpus or a public
    source. ``hold_out`` picks corpus rows (e.g. one genre, or one writers'
    batch) to keep out of train and dev entirely, in ``held_out_corpus``.
    With ``train_public=False`` the public sources are evaluation only: their
    test splits and held-out sources are still scored, nothing of theirs is
    trained or tuned on. ``public_rows`` keeps a random sample of that many public
    training rows (after the caps): the public sets as a small extra, not the bulk.
    """
    rng = random.Random(SEED)
    evalsets = read_evalsets(lang, evalset_dirs)
    eval_texts = [e.text for rows in evalsets.values() for e in rows]
    banned = {_key(t) for t in eval_texts}
    sources = [s for s in SOURCES if s.lang == lang]
    train_pub: list[Example] = []
    dev: list[Example] = []
    test: dict[str, list[Example]] = {}
    heldout: dict[str, list[Example]] = {}
    train_counts: dict[str, Counter] = {}
    used_sources = []
    for src in sources:
        if not (INTENTS_DIR / src.name / "mapped.jsonl").exists():
            if train_public:
                raise FileNotFoundError(f"public intent set {src.name} not found in {INTENTS_DIR}: "
                                        "set IME_AGENT_INTENTS_DIR, or train on the corpus alone")
            continue  # only evaluated, and not here: its tables stay empty
        by_label: dict[str, list[Example]] = {}
        trains = src.train_splits if train_public and (src.open_license or not open_only) else ()
        for row in read_public(src.name):
            ex = Example(row["text"], row["label"], src.name)
            split = row["split"]
            if not src.train_splits or (src.name, split) in EXTRA_HELDOUT:
                heldout.setdefault(src.name, []).append(ex)
            elif split in trains:
                if _key(ex.text) in banned:
                    continue
                if _bucket(ex.text) in _PUBLIC_DEV:
                    dev.append(ex)
                else:
                    by_label.setdefault(ex.label, []).append(ex)
            elif split in src.test_splits:
                test.setdefault(src.name, []).append(ex)
        counts = Counter()
        for label, rows in sorted(by_label.items()):
            cap = src.caps.get(label)
            if cap is not None and len(rows) > cap:
                rows = rng.sample(rows, cap)
            train_pub.extend(rows)
            counts[label] = len(rows)
        if counts:
            train_counts[src.name] = counts
            used_sources.append(src)

    if public_rows is not None and len(train_pub) > public_rows:
        train_pub = rng.sample(train_pub, public_rows)
        for name in list(train_counts):
            train_counts[name] = Counter(e.label for e in train_pub if e.source == name)

    corpus = drop_overlap(read_corpus(lang)[0], banned)
    near = NearDuplicateIndex(eval_texts)
    kept = [e for e in corpus if not near.matches(e.text)]
    near_dups = len(corpus) - len(kept)
    held_out_corpus = [e for e in kept if hold_out and hold_out(e)]
    corpus = [e for e in kept if not (hold_out and hold_out(e))]
    corpus_train = [e for e in corpus if _bucket(e.text) not in _CORPUS_DEV | _CORPUS_TEST]
    dev += [e for e in corpus if _bucket(e.text) in _CORPUS_DEV]
    corpus_test = [e for e in corpus if _bucket(e.text) in _CORPUS_TEST]
    repeat = 1
    if corpus_train:
        want = CORPUS_TARGET_SHARE / (1 - CORPUS_TARGET_SHARE) * len(train_pub)
        repeat = max(1, min(CORPUS_MAX_REPEAT, round(want / len(corpus_train))))
        train_counts[CORPUS] = Counter(e.label for e in corpus_train)

    # No text may be both trained on and evaluated.
    seen = {_key(e.text) for e in train_pub} | {_key(e.text) for e in corpus_train}
    dev = [e for e in dev if _key(e.text) not in seen]
    test = {k: [e for e in v if _key(e.text) not in seen] for k, v in test.items()}
    heldout = {k: [e for e in v if _key(e.text) not in seen] for k, v in heldout.items()}
    corpus_test = [e for e in corpus_test if _key(e.text) not in seen]
    held_out_corpus = [e for e in held_out_corpus if _key(e.text) not in seen]

    train = train_pub + corpus_train * repeat
    rng.shuffle(train)
    return Dataset(lang, train, dev, test, heldout, corpus_test, evalsets, repeat, train_counts, used_sources,
                   held_out_corpus=held_out_corpus, near_duplicates=near_dups, public_trained=train_public)
