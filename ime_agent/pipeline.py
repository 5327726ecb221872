"""Segment → classifier → Summary → store: the only place raw text and storage meet.

The raw text ends here. A :class:`~ime_wire.summary.Summary` has no text field;
segment text is handed to the classifier and dropped; nothing here logs it or
puts it in an exception message (a classifier failure is reported by its type only).

Time: the summary's bucket is the 15-minute window (UTC) of the moment the text
was finished. Live capture stamps that moment on the segment (``wall_end``, read
from the wall clock when it commits). A recorded session has only offsets, so
``ingest`` passes the time of ingestion as ``start`` and the end is ``start + t_end``,
as if the session were being typed from then on.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Callable, Iterable, Protocol

from ime_agent import consent
from ime_agent.capture import Segment
from ime_agent.errors import ClassifierError, ImeAgentError
from ime_agent.store import Store
from ime_wire import vocabulary
from ime_wire.summary import Summary
from ime_wire.timebucket import bucket_of
from ime_wire.vocabulary import app_category

log = logging.getLogger(__name__)

#: What :meth:`Pipeline.process_segment` did with a segment (never any text).
STORED, NONE, NO_CONSENT, PAUSED = "stored", "none", "no_consent", "paused"


class Classifier(Protocol):
    def classify_many(self, texts: list[str]) -> list: ...


def finished_at(segment: Segment, start: datetime) -> datetime:
    """When the segment's text was finished (see the module docstring)."""
    if segment.wall_end is not None:
        return datetime.fromtimestamp(segment.wall_end, UTC)
    return start + timedelta(seconds=segment.t_end)


def summarize(segment: Segment, result, start: datetime) -> Summary:
    """Pure but for the random id: the summary of one classified segment."""
    return Summary(
        id=uuid.uuid4().hex,
        bucket=bucket_of(finished_at(segment, start)),
        app_category=app_category(segment.app),
        lang=str(result.lang),
        intent=str(result.label),
        confidence=round(float(result.confidence), 4),
        slots=vocabulary.closed_slots(str(result.label), result.slots),
        model_id=str(result.model_id),
    )


@dataclass
class Report:
    segments: int = 0
    stored: Counter = field(default_factory=Counter)  # per category
    not_stored: Counter = field(default_factory=Counter)  # no_consent, none

    def add(self, other: "Report") -> None:
        self.segments += other.segments
        self.stored.update(other.stored)
        self.not_stored.update(other.not_stored)


class Pipeline:
    """Classify segments and keep what consent allows.

    ``classifier`` defaults to the shipped one (``classifiers.load()``), loaded on
    first use. ``on_commit(summary_id)`` is called after each summary is committed.
    Consent is checked inside each summary's write transaction, so a withdrawal
    (from the tray or another process) applies to the very next segment. One
    thread at a time per pipeline; other processes may write the same profile
    (they queue on SQLite's busy timeout).
    """

    def __init__(self, store: Store, classifier: Classifier | None = None,
                 on_commit: Callable[[str], None] | None = None):
        self.store = store
        self._classifier = classifier
        self._on_commit = on_commit
        self._load_lock = threading.Lock()

    @property
    def classifier(self) -> Classifier:
        with self._load_lock:
            if self._classifier is None:
                try:
                    import classifiers

                    self._classifier = classifiers.load()
                except (ImportError, AttributeError) as exc:
                    raise ClassifierError(
                        f"cannot load the intent classifier ({type(exc).__name__}); "
                        "reinstall ime-agent (pip install -e .)"
                    ) from None
        return self._classifier

    def process_segment(self, segment: Segment, start: datetime | None = None) -> str:
        """One segment as live capture delivers it. Returns :data:`STORED`, :data:`NONE`,
        :data:`NO_CONSENT` or :data:`PAUSED`."""
        report = self.process([segment], start)
        return STORED if report.stored else next(iter(report.not_stored))

    def process(self, segments: Iterable[Segment], start: datetime | None = None) -> Report:
        """``start``: the wall-clock time the segments' offsets count from, for segments without
        ``wall_end`` (recorded sessions); default now."""
        return self.process_groups([(list(segments), start)])

    def process_groups(self, groups: list[tuple[list[Segment], datetime | None]]) -> Report:
        """Several groups of segments, each with its own ``start``: everything is classified
        first, so a classifier failure stores nothing of any group."""
        now = self.store.now()
        items = [(segment, start or now) for segments, start in groups for segment in segments]
        report = Report(segments=len(items))
        if not items:
            return report
        if not consent.consented(self.store):
            report.not_stored[NO_CONSENT] += len(items)  # not even classified
            return report
        results = self._classify([segment.text for segment, _start in items])
        summaries = [summarize(segment, result, start) for (segment, start), result in zip(items, results)]
        for summary in summaries:
            if summary.intent == "none":
                self.store.add_count(summary.bucket[:10], "none")
                report.not_stored[NONE] += 1
                continue
            outcome = self.store.add_summary(summary)  # consent and pause checked inside its write
            if outcome == STORED:
                report.stored[summary.intent] += 1
                if self._on_commit:
                    self._on_commit(summary.id)
            else:
                report.not_stored[outcome] += 1
        log.debug("pipeline: %d segments, stored %s, not stored %s",
                  report.segments, dict(report.stored), dict(report.not_stored))
        return report

    def _classify(self, texts: list[str]) -> list:
        classifier = self.classifier
        try:
            results = list(classifier.classify_many(texts))
        except ImeAgentError:
            raise
        except Exception as exc:  # the message might quote the text: keep only the type
            raise ClassifierError(f"the classifier failed ({type(exc).__name__}); nothing was stored") from None
        if len(results) != len(texts):
            raise ClassifierError("the classifier returned the wrong number of results; nothing was stored")
        return results
