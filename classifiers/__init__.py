"""On-device intent classification of typed segments (en / zh).

>>> import classifiers
>>> clf = classifiers.load()
>>> clf.classify("想换个MacBook 有推荐吗").label
'purchase'
"""

from __future__ import annotations

from functools import cache

from classifiers.errors import ModelNotFound
from classifiers.intent import IntentClassifier, IntentResult
from classifiers.lang import detect_lang
from classifiers.slots import VOCABULARY
from ime_wire.vocabulary import INTENTS as LABELS

__all__ = ["LABELS", "VOCABULARY", "IntentClassifier", "IntentResult", "ModelNotFound", "detect_lang", "load"]


@cache
def load() -> IntentClassifier:
    """The shipped classifier, loaded once per process."""
    return IntentClassifier.from_dir()
