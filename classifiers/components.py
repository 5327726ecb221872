"""Registered spaCy pieces shared by the en and zh intent pipelines.

Importing this module registers them; saved pipelines name them in their
config, so ``spacy.load`` needs this module imported first (``classifiers``
does that).

- ``ime_normalize`` (factory): writes a normalised form of every token to
  ``Token.norm_``: NFKC, lowercase, runs of 3+ repeated letters squashed to 2
  ("sooooo" → "soo"), digits → "0", URLs and e-mail addresses → placeholders,
  and (optionally) gazetteer phrases → their slot's placeholder.
  Typed text is noisy; normalising before counting n-grams lets "CHEAP",
  "cheeeap" and "cheap" share weights.
- ``ime.NormBOW.v1`` (architecture): spaCy's bag-of-n-grams text classifier,
  but reading ``NORM`` instead of ``ORTH`` so it sees the normalised tokens.
- ``ime.NormCharBOW.v1`` (architecture): the same, plus hashed character
  n-grams (default 3–4) of each normalised token with word-boundary markers
  (" hotel " → " ho", "hot", …, "tel "), so a misspelling ("hotle", "hedache")
  still shares most of its features with the right word. A training option
  (``char_ngrams``): the English model uses it (dropped in round 6 of
  ``classifier_training/CHOOSING.md``, back in round 7), the Chinese one does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import partial

import numpy

from spacy.attrs import IDS, IS_SPACE, LOWER, NORM
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.ml.extract_ngrams import extract_ngrams
from spacy.ml.models.textcat import resize_and_set_ref
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, SparseLinear_v2, chain, resizable, softmax_activation, with_cpu
from thinc.layers.resizable import resize_linear_weighted

_REPEATS = re.compile(r"(\w)\1{2,}")
_DIGIT = re.compile(r"\d")
_SQUASH_TO = r"\1\1"
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)\S+$|^[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|dev|cn|co|uk|de|jp)(?:/\S*)?$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)


def normalize_token(text: str) -> str:
    """Normal form of one token (pure, so training and inference agree)."""
    if len(text) == 1:  # every CJK token, most punctuation: skip the regexes
        return "0" if text.isdigit() else unicodedata.normalize("NFKC", text).lower()
    if ("." in text or "/" in text) and _URL.match(text):
        return "<url>"
    if "@" in text and _EMAIL.match(text):
        return "<email>"
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    if len(text) > 2 and _REPEATS.search(text):
        text = _REPEATS.sub(_SQUASH_TO, text)
    if not text.isalpha():
        text = _DIGIT.sub("0", text)
    return text


# Lexical attributes the pipeline reads (the matchers use LOWER). Every other
# getter would run in Python for each new word, and inside nlp.memory_zone()
# every word of a batch is new again, so dropping them doubles throughput.
# A CNN tok2vec also embeds PREFIX / SUFFIX / SHAPE: ``keep_attrs`` adds those.
_KEEP_LEX_ATTRS = (LOWER, IS_SPACE)


class Normalizer:
    """Sets ``Token.norm_``; tokens inside a gazetteer phrase of a configured
    slot (e.g. any place name) all get that slot's placeholder ("<destination>"),
    so a rare city shares weights with every other place."""

    def __init__(self, nlp: Language, placeholders: list[str], keep_attrs: Sequence[str] = ()):
        self.placeholders = list(placeholders)
        getters = nlp.vocab.lex_attr_getters
        keep = (*_KEEP_LEX_ATTRS, *(IDS[name.upper()] for name in keep_attrs))
        nlp.vocab.lex_attr_getters = {k: getters[k] for k in keep if k in getters}
        self._nlp = nlp
        # Built on first use, not here: a saved pipeline's tokenizer is loaded after its
        # components are constructed, and the patterns must be tokenized by that one.
        self._matcher: PhraseMatcher | None = None
        self._built = False

    @property
    def matcher(self) -> PhraseMatcher | None:
        if not self._built:
            self._rebuild()
        return self._matcher

    def _build_matcher(self) -> PhraseMatcher | None:
        """The gazetteer phrases as patterns, tokenized by the pipeline's tokenizer as it is now."""
        if not self.placeholders:
            return None
        from classifiers.slots import gazetteer_phrases  # slots is data-only; no cycle

        matcher = PhraseMatcher(self._nlp.vocab, attr="LOWER")
        for slot in self.placeholders:
            matcher.add(f"<{slot}>", [self._nlp.make_doc(t) for t in gazetteer_phrases(slot, self._nlp.lang)])
        return matcher

    # spaCy builds the components before it loads a saved tokenizer (one that keeps hyphenated
    # words whole, say), then calls these: the patterns are built here, once, with the saved
    # tokenizer, so "e-reader" is one token in the patterns as in the text, as it was in
    # training, and the first segment does not pay for them. Nothing is saved: the patterns
    # come from the gazetteers.
    def to_disk(self, path, *, exclude=()) -> None:
        pass

    def _rebuild(self) -> Normalizer:
        self._matcher, self._built = self._build_matcher(), True
        return self

    def from_disk(self, path, *, exclude=()) -> Normalizer:
        return self._rebuild()

    def to_bytes(self, *, exclude=()) -> bytes:
        return b""

    def from_bytes(self, data: bytes, *, exclude=()) -> Normalizer:
        return self._rebuild()

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            token.norm_ = normalize_token(token.text)
        if self.matcher is not None:
            strings = doc.vocab.strings
            for match_id, start, end in self.matcher(doc):
                for token in doc[start:end]:
                    token.norm_ = strings[match_id]
        return doc


@Language.factory("ime_normalize", default_config={"placeholders": [], "keep_attrs": []})
def make_normalizer(nlp: Language, name: str, placeholders: list[str], keep_attrs: list[str]) -> Normalizer:
    return Normalizer(nlp, placeholders, keep_attrs)


@registry.architectures("ime.NormBOW.v1")
def build_norm_bow(
    ngram_size: int, length: int = 262144, nO: int | None = None
) -> Model:
    """Exclusive-class bag of NORM n-grams → sparse linear → softmax."""
    return _sparse_softmax(extract_ngrams(ngram_size, attr=NORM), length, nO)


def _sparse_softmax(extract: Model, length: int, nO: int | None) -> Model:
    """``extract`` (keys, values, lengths) → hashed sparse linear → softmax, exclusive classes."""
    length = 2 ** (length - 1).bit_length()
    sparse = SparseLinear_v2(nO=nO, length=length)
    # A very negative bias for labels added later keeps them off until trained,
    # as spaCy's own TextCatBOW does.
    layer = resizable(
        sparse, resize_layer=partial(resize_linear_weighted, fill_defaults={"b": -10.0, "W": 0})
    )
    with Model.define_operators({">>": chain}):
        model = with_cpu(extract >> layer, layer.ops)
        model = model >> with_cpu(softmax_activation(), layer.ops)
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse)
    model.attrs["multi_label"] = False
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=layer)
    return model


# Odd 64-bit multipliers, one per position in a char n-gram; a char n-gram's
# key is the wrapping sum of codepoint × multiplier, offset by n (SparseLinear
# re-hashes keys with murmurhash, so this only has to keep n-grams distinct).
_CHAR_MULT = numpy.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53],
    dtype=numpy.uint64,
)
_CHAR_SALT = numpy.uint64(0xA5A5A5A5DEADBEEF)


def char_ngram_keys(words: Sequence[str], sizes: Sequence[int]) -> numpy.ndarray:
    """Hashed char n-grams of the words, each padded with a space on both
    sides; n-grams never span two words."""
    return batch_char_ngram_keys([words], sizes)[0]


def batch_char_ngram_keys(docs_words: Sequence[Sequence[str]], sizes: Sequence[int]) -> list[numpy.ndarray]:
    """``char_ngram_keys`` for many docs in one vectorised numpy pass."""
    pieces = [" " + "  ".join(words) + " " if words else "" for words in docs_words]
    text = "".join(pieces)
    empty = numpy.zeros((0,), dtype=numpy.uint64)
    if not text:
        return [empty] * len(pieces)
    codes = numpy.frombuffer(text.encode("utf-32-le"), dtype=numpy.uint32).astype(numpy.uint64)
    inner = codes != 32  # the space is only ever a boundary marker
    keys, starts = [], []
    for n in sizes:
        m = len(codes) - n + 1
        if m <= 0:
            continue
        key = numpy.full(m, _CHAR_SALT + numpy.uint64(n), dtype=numpy.uint64)
        ok = numpy.ones(m, dtype=bool) if n > 1 else inner.copy()
        for k in range(n):
            key += codes[k : k + m] * _CHAR_MULT[k]
            if 0 < k < n - 1:
                ok &= inner[k : k + m]
        (where,) = numpy.nonzero(ok)
        keys.append(key[where])
        starts.append(where)
    if not keys:
        return [empty] * len(pieces)
    keys_a, starts_a = numpy.concatenate(keys), numpy.concatenate(starts)
    bounds = numpy.cumsum([len(piece) for piece in pieces])
    doc_of = numpy.searchsorted(bounds, starts_a, side="right")
    order = numpy.argsort(doc_of, kind="stable")
    split = numpy.searchsorted(doc_of[order], numpy.arange(1, len(pieces)))
    return numpy.split(keys_a[order], split)


def _char_words(doc: Doc) -> list[str]:
    """Normalised tokens worth spelling out: not spaces, punctuation marks,
    single letters or gazetteer placeholders (those have their word feature)."""
    return [n for n in (t.norm_ for t in doc) if len(n) > 1 and n[0] != "<" and not n.isspace() and " " not in n]


def extract_word_char_ngrams(ngram_size: int, char_ngrams: Sequence[int], char_weight: float) -> Model:
    model: Model = Model("extract_word_char_ngrams", _word_char_forward)
    model.attrs.update(ngram_size=ngram_size, char_ngrams=tuple(char_ngrams), char_weight=float(char_weight))
    return model


def _word_char_forward(model: Model, docs, is_train: bool):
    ops = model.ops
    xp = ops.xp
    n_words = model.attrs["ngram_size"]
    sizes = model.attrs["char_ngrams"]
    weight = model.attrs["char_weight"]
    batch_keys, batch_vals, lengths = [], [], []
    docs = list(docs)
    all_chars = batch_char_ngram_keys([_char_words(doc) for doc in docs], sizes)
    for doc, chars in zip(docs, all_chars):
        unigrams = ops.asarray(doc.to_array([NORM]))
        ngrams = [unigrams] + [ops.ngrams(n, unigrams) for n in range(2, n_words + 1)]
        keys, vals = xp.unique(xp.concatenate(ngrams), return_counts=True)
        batch_keys += (keys, chars)
        batch_vals += (vals.astype("f"), numpy.full(len(chars), weight, dtype="f"))
        lengths.append(len(keys) + len(chars))
    out = (
        xp.concatenate(batch_keys).astype(numpy.uint64),
        ops.asarray(xp.concatenate(batch_vals), dtype="f"),
        ops.asarray(lengths, dtype="int32"),
    )
    return out, lambda dY: []


@registry.architectures("ime.NormCharBOW.v1")
def build_norm_char_bow(
    ngram_size: int,
    length: int = 262144,
    char_ngrams: list[int] = [3, 4],  # noqa: B006 (config default, never mutated)
    char_weight: float = 1.0,
    nO: int | None = None,
) -> Model:
    """Exclusive-class bag of NORM word n-grams + hashed char n-grams of each
    normalised token → sparse linear → softmax."""
    return _sparse_softmax(extract_word_char_ngrams(ngram_size, char_ngrams, char_weight), length, nO)

