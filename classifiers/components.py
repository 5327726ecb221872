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
"""

from __future__ import annotations

import re
import unicodedata
from functools import partial

from spacy.attrs import IS_SPACE, LOWER, NORM
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
_KEEP_LEX_ATTRS = (LOWER, IS_SPACE)


class Normalizer:
    """Sets ``Token.norm_``; tokens inside a gazetteer phrase of a configured
    slot (e.g. any place name) all get that slot's placeholder ("<destination>"),
    so a rare city shares weights with every other place."""

    def __init__(self, nlp: Language, placeholders: list[str]):
        self.placeholders = list(placeholders)
        getters = nlp.vocab.lex_attr_getters
        nlp.vocab.lex_attr_getters = {k: getters[k] for k in _KEEP_LEX_ATTRS if k in getters}
        self.matcher = None
        if self.placeholders:
            from classifiers.slots import gazetteer_phrases  # slots is data-only; no cycle

            self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
            for slot in self.placeholders:
                self.matcher.add(f"<{slot}>", [nlp.make_doc(t) for t in gazetteer_phrases(slot, nlp.lang)])

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            token.norm_ = normalize_token(token.text)
        if self.matcher is not None:
            strings = doc.vocab.strings
            for match_id, start, end in self.matcher(doc):
                for token in doc[start:end]:
                    token.norm_ = strings[match_id]
        return doc


@Language.factory("ime_normalize", default_config={"placeholders": []})
def make_normalizer(nlp: Language, name: str, placeholders: list[str]) -> Normalizer:
    return Normalizer(nlp, placeholders)


@registry.architectures("ime.NormBOW.v1")
def build_norm_bow(
    ngram_size: int, length: int = 262144, nO: int | None = None
) -> Model:
    """Exclusive-class bag of NORM n-grams → sparse linear → softmax."""
    length = 2 ** (length - 1).bit_length()
    sparse = SparseLinear_v2(nO=nO, length=length)
    # A very negative bias for labels added later keeps them off until trained,
    # as spaCy's own TextCatBOW does.
    layer = resizable(
        sparse, resize_layer=partial(resize_linear_weighted, fill_defaults={"b": -10.0, "W": 0})
    )
    with Model.define_operators({">>": chain}):
        model = with_cpu(extract_ngrams(ngram_size, attr=NORM) >> layer, layer.ops)
        model = model >> with_cpu(softmax_activation(), layer.ops)
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse)
    model.attrs["multi_label"] = False
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=layer)
    return model
