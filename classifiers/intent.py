"""Load the shipped intent pipelines, route segments by language, classify.

Raw text only passes through here: nothing is logged or stored, and every
batch runs inside ``nlp.memory_zone()`` so the words of a segment do not stay
behind in spaCy's string store once its result is built.

Any string is accepted. A segment longer than ``MAX_CHARS`` characters is cut
to its first ``MAX_CHARS`` before routing and spaCy (typed segments are a few
dozen characters; a multi-megabyte paste is judged by its beginning, in bounded
time and memory, and spaCy's own length limit is never reached). Lone
surrogates (undecodable input bytes) become U+FFFD.

Scores are the model's probabilities after temperature scaling (the
temperature was fitted on held-out dev rows at training time), so a
confidence of 0.8 means right about 80 % of the time on text like the dev set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import spacy
from spacy.language import Language

from classifiers import components  # noqa: F401  (registers ime_normalize, ime.NormBOW.v1, ime.NormCharBOW.v1)
from classifiers.lang import LANGS, detect_lang
from classifiers.decision import Threshold, decide, with_temperature
from classifiers.errors import ModelNotFound
from classifiers.slots import SlotExtractor
from ime_wire.vocabulary import INTENTS as LABELS

MODELS_DIR = Path(__file__).resolve().parent / "models"
BATCH_SIZE = 512
#: Characters of a segment that are classified; the rest is not read.
MAX_CHARS = 2000


@dataclass(frozen=True)
class IntentResult:
    """The summary of one segment: never contains the segment's text."""

    label: str
    confidence: float  # the model's probability for ``label``
    scores: Mapping[str, float]
    lang: str
    slots: Mapping[str, str] = field(default_factory=dict)
    model_id: str = ""
    abstained: bool = False  # a non-none label scored below the threshold

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "lang": self.lang,
            "slots": dict(self.slots),
            "model_id": self.model_id,
            "abstained": self.abstained,
        }


@dataclass(frozen=True)
class _Model:
    nlp: Language
    threshold: Threshold  # one for every intent, or intent → threshold
    model_id: str
    slots: SlotExtractor
    temperature: float = 1.0


def _load_model(path: Path) -> _Model:
    try:
        nlp = spacy.load(path)
        info = nlp.meta["ime_agent"]
        return _Model(nlp, _threshold(info["threshold"]), str(info["model_id"]), SlotExtractor(nlp, nlp.lang),
                      float(info.get("temperature", 1.0)))
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelNotFound(
            f"cannot load the intent model in {path} ({type(exc).__name__}); "
            "reinstall ime-agent or run `python -m classifier_training.train`"
        ) from None


def _threshold(value) -> Threshold:
    """A model's abstention threshold from its meta: a number, or intent → number."""
    if isinstance(value, dict):
        missing = [label for label in LABELS if label != "none" and label not in value]
        if missing:
            raise ValueError(f"no threshold for {missing[0]}")
        return MappingProxyType({str(label): float(t) for label, t in value.items()})
    return float(value)


def _prepared(text: str) -> str:
    """The part of a segment that is classified: at most ``MAX_CHARS`` characters,
    lone surrogates (undecodable input bytes) as U+FFFD since spaCy cannot encode them."""
    if not isinstance(text, str):
        raise TypeError(f"a segment must be a str, not {type(text).__name__}")
    text = text[:MAX_CHARS]
    return text if text.isascii() else text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


class IntentClassifier:
    """Language routing + per-language spaCy textcat + threshold + slots."""

    def __init__(self, models: Mapping[str, _Model]):
        self._models = dict(models)

    @classmethod
    def from_dir(cls, models_dir: Path = MODELS_DIR) -> IntentClassifier:
        return cls({lang: _load_model(models_dir / lang) for lang in LANGS})

    @property
    def model_ids(self) -> dict[str, str]:
        return {lang: m.model_id for lang, m in self._models.items()}

    @property
    def thresholds(self) -> dict[str, Threshold]:
        return {lang: m.threshold for lang, m in self._models.items()}

    def classify(self, text: str) -> IntentResult:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Iterable[str], batch_size: int = BATCH_SIZE) -> list[IntentResult]:
        """Classify segments in input order; each language is one ``nlp.pipe`` pass.
        Segments of any length: only the first ``MAX_CHARS`` characters are read."""
        texts = [_prepared(t) for t in texts]
        results: list[IntentResult | None] = [None] * len(texts)
        by_lang: dict[str, list[int]] = {lang: [] for lang in self._models}
        for i, text in enumerate(texts):
            lang = detect_lang(text)
            if text.strip():
                by_lang[lang].append(i)
            else:  # nothing to classify (and spaCy's BOW cannot score an empty batch)
                results[i] = self._blank(self._models[lang], lang)
        for lang, idx in by_lang.items():
            if not idx:
                continue
            model = self._models[lang]
            with model.nlp.memory_zone():
                docs = model.nlp.pipe((texts[i] for i in idx), batch_size=batch_size)
                for i, doc in zip(idx, docs):
                    results[i] = self._result(model, doc, lang)
        return results  # type: ignore[return-value]

    @staticmethod
    def _blank(model: _Model, lang: str) -> IntentResult:
        scores = {label: float(label == "none") for label in LABELS}
        return IntentResult("none", 1.0, MappingProxyType(scores), lang, MappingProxyType({}), model.model_id)

    @staticmethod
    def _result(model: _Model, doc, lang: str) -> IntentResult:
        scores = with_temperature({label: float(doc.cats[label]) for label in LABELS}, model.temperature)
        label, abstained = decide(scores, model.threshold)
        return IntentResult(
            label=label,
            confidence=scores[label],
            scores=MappingProxyType(scores),
            lang=lang,
            slots=MappingProxyType(model.slots(doc, label)),
            model_id=model.model_id,
            abstained=abstained,
        )
