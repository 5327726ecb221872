"""The summary record: what is kept of one finished piece of text, and its wire form.

A summary has no text field and no exact time; every value comes from a closed
vocabulary (:mod:`ime_wire.vocabulary`) or is a number. :func:`Summary.from_wire`
validates everything, so a collector's researcher (or a damaged store) can never
slip a value outside the vocabulary into an export.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ime_wire import vocabulary
from ime_wire.errors import InvalidSummary
from ime_wire.timebucket import is_bucket

_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
FIELDS = ("id", "bucket", "app_category", "lang", "intent", "confidence", "slots", "model_id")
_FIELD_SET = frozenset(FIELDS)
# Sets for membership: a researcher validates every summary of every batch (same values as vocabulary.SLOTS).
_SLOT_VALUES = {name: frozenset(values) for name, values in vocabulary.SLOTS.items()}


@dataclass(frozen=True)
class Summary:
    id: str  # 32 lower-case hex digits, random: names the summary, says nothing about it
    bucket: str  # start of the 15-minute window (UTC), "YYYY-MM-DDTHH:MM:SSZ"
    app_category: str
    lang: str
    intent: str
    confidence: float
    slots: dict = field(default_factory=dict)
    model_id: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "bucket": self.bucket, "app_category": self.app_category, "lang": self.lang,
                "intent": self.intent, "confidence": self.confidence, "slots": dict(self.slots),
                "model_id": self.model_id}

    def to_wire(self) -> dict:
        """The form that is sealed into a batch; validated first, so nothing invalid leaves."""
        validate(self, sendable=True)
        return self.to_dict()

    @classmethod
    def from_wire(cls, obj: object, *, sendable: bool = True) -> "Summary":
        """Parse and validate one summary; :class:`InvalidSummary` names the bad field."""
        check_wire(obj, sendable=sendable)
        return cls(obj["id"], obj["bucket"], obj["app_category"], obj["lang"], obj["intent"],
                   obj["confidence"], dict(obj["slots"]), obj["model_id"])


def check_wire(obj: object, *, sendable: bool = True) -> None:
    """What :meth:`Summary.from_wire` checks, without building the summary: for readers of
    many summaries that keep them in another form (the research tool's columns)."""
    if not isinstance(obj, dict):
        raise InvalidSummary("a summary must be a JSON object")
    if obj.keys() != _FIELD_SET:  # the common case costs one comparison; details only when wrong
        missing = [f for f in FIELDS if f not in obj]
        if missing:
            raise InvalidSummary(f"summary lacks {', '.join(missing)}")
        raise InvalidSummary(f"summary has unknown fields: {', '.join(sorted(set(obj) - _FIELD_SET))}")
    if not isinstance(obj["slots"], dict):
        raise InvalidSummary("summary field 'slots' must be an object")
    _check(obj["id"], obj["bucket"], obj["app_category"], obj["lang"], obj["intent"], obj["confidence"],
           obj["slots"], obj["model_id"], sendable)


def validate(summary: Summary, *, sendable: bool = True) -> None:
    """Raise :class:`InvalidSummary` unless every field is in its vocabulary or range.

    ``sendable``: the intent must be a category (``none`` is never sent or stored)."""
    _check(summary.id, summary.bucket, summary.app_category, summary.lang, summary.intent, summary.confidence,
           summary.slots, summary.model_id, sendable)


def _check(id_, bucket, app_category, lang, intent, confidence, slots, model_id, sendable: bool) -> None:
    if not isinstance(id_, str) or not _ID.match(id_):
        raise InvalidSummary("summary field 'id' must be 32 lower-case hex digits")
    if not is_bucket(bucket):
        raise InvalidSummary("summary field 'bucket' must be the start of a 15-minute window, YYYY-MM-DDTHH:MM:00Z")
    if app_category not in vocabulary.APP_CATEGORIES:
        raise InvalidSummary("summary field 'app_category' is not in the vocabulary")
    if lang not in vocabulary.LANGS:
        raise InvalidSummary("summary field 'lang' is not in the vocabulary")
    intents = vocabulary.CATEGORIES if sendable else vocabulary.INTENTS
    if intent not in intents:
        raise InvalidSummary("summary field 'intent' is not in the vocabulary")
    if (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
            or not math.isfinite(confidence) or not 0 <= confidence <= 1):
        raise InvalidSummary("summary field 'confidence' must be a number from 0 to 1")
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise InvalidSummary("summary field 'model_id' must be a short model name (a-z, 0-9, . _ -)")
    allowed = vocabulary.SLOTS_FOR[intent]
    for name, value in slots.items():
        if name not in allowed:
            raise InvalidSummary(f"slot {name!r} does not belong to intent {intent!r}"
                                 if isinstance(name, str) and name in vocabulary.SLOTS
                                 else "a slot name is not in the vocabulary")
        if not isinstance(value, str) or value not in _SLOT_VALUES[name]:
            raise InvalidSummary(f"a value of slot {name!r} is not in the vocabulary")
