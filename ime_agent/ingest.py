"""Recorded sessions through the whole pipeline, the demo, and the no-text-on-disk check.

``ingest`` treats each session as typed live, finishing at the moment of ingestion:
its ``t`` offsets count from ``now - (the session's length)`` (see
:mod:`ime_agent.pipeline`), so no summary lands in a window that has not begun. It
obeys consent (none at all: :class:`NoConsent`), pause (checked by the store for
every summary, so a pause from another process stops an ingest already running)
and the guards of the user's config (secure fields, denied apps). Every file is
read and checked before anything is stored, so a malformed (or empty) file stores
nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

from ime_agent import consent
from ime_agent.capture import iter_events, reconstruct
from ime_agent.capture.guards import Guards
from ime_agent.config import Config
from ime_agent.errors import SessionFormatError
from ime_agent.pipeline import Pipeline, Report
from ime_agent.store import Store
from ime_wire.summary import Summary

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be")


@dataclass
class IngestReport(Report):
    files: int = 0
    #: key events dropped before buffering, by guard: secure, denied, paused
    dropped_events: Counter = field(default_factory=Counter)


def ingest(
    store: Store,
    paths: Iterable[Path | str],
    config: Config,
    *,
    classifier=None,
    start: datetime | None = None,
    on_commit: Callable[[str], None] | None = None,
) -> IngestReport:
    consent.require(store)
    paused = store.paused_state().paused
    guards = Guards.from_config(config)
    replays = [reconstruct(_events(p), idle_commit=config.idle_commit, guards=guards, paused=paused) for p in paths]
    report = IngestReport(files=len(replays))
    pipeline = Pipeline(store, classifier, on_commit)
    now = store.now()
    groups = []
    for replay in replays:
        report.dropped_events.update(replay.dropped)
        groups.append((replay.segments, start or now - timedelta(seconds=replay.end)))
    report.add(pipeline.process_groups(groups))
    for replay in replays:
        replay.segments.clear()  # the text goes no further than the pipeline
    return report


def _events(path):
    """The file's events; an empty file is an error (most likely the wrong file)."""
    any_event = False
    for event in iter_events(path):
        any_event = True
        yield event
    if not any_event:
        raise SessionFormatError(f"{path}: no events (empty file); pass a recorded session (format: "
                                 "docs/key-events.md)")


def typed_texts(path: Path | str) -> list[str]:
    """Every piece of text a session's key events spell, guards ignored, secure fields included:
    what must never be found on disk."""
    events = (replace(e, secure=False) for e in iter_events(path))
    return [s.text for s in reconstruct(events, guards=Guards(denied_apps=frozenset(), secure_title_patterns=())).segments]


# --- the no-text-on-disk check ----------------------------------------------------------


def find_texts(roots: Iterable[Path | str], texts: Iterable[str]) -> list[tuple[Path, int, str]]:
    """Every ``(file, index of text, encoding)`` where one of ``texts`` occurs in ``roots`` (files or dirs).

    Texts are searched as UTF-8, UTF-16-LE and UTF-16-BE bytes. Unreadable files are skipped.
    """
    needles = [(i, enc, t.encode(enc)) for i, t in enumerate(texts) if t for enc in ENCODINGS]
    found = []
    for path in _files(roots):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found.extend((path, i, enc) for i, enc, needle in needles if needle in data)
    return found


def _files(roots: Iterable[Path | str]) -> Iterable[Path]:
    for root in map(Path, roots):
        if root.is_file():
            yield root
        for dirpath, _dirs, files in os.walk(root):
            yield from (Path(dirpath, name) for name in files)


# --- the demo ---------------------------------------------------------------------------


@dataclass
class DemoResult:
    profile: Path
    categories: tuple[str, ...]
    report: IngestReport
    summaries: list[Summary]
    texts_checked: int
    files_checked: int
    leaks: list[tuple[Path, int, str]]


def sample_names() -> list[str]:
    folder = resources.files("ime_agent").joinpath("data", "samples")
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".jsonl"))


def run_demo(
    config: Config,
    categories=consent.CATEGORIES,
    *,
    classifier=None,
    sessions: list[Path] | None = None,
    keep: bool = False,
) -> DemoResult:
    """A fresh temporary profile, consent for ``categories``, the bundled samples
    ingested, then a byte scan of the profile for every segment's text."""
    profile = Path(tempfile.mkdtemp(prefix="ime-agent-demo-"))
    try:
        with ExitStack() as stack:
            if sessions is None:
                folder = resources.files("ime_agent").joinpath("data", "samples")
                sessions = [stack.enter_context(resources.as_file(folder.joinpath(n))) for n in sample_names()]
            store = stack.enter_context(Store.open(profile, key_source="file"))
            consent.grant(store, categories)
            report = ingest(store, sessions, config, classifier=classifier)
            summaries = store.summaries()
            # What could have been typed: every segment, the guarded ones included.
            texts = list(dict.fromkeys(t for p in sessions for t in typed_texts(p)))
            leaks = find_texts([profile], texts)  # with the store open: database, WAL, SHM
            store.close()
            leaks += find_texts([profile], texts)  # and once everything is checkpointed and closed
            files = sum(len(f) for _d, _s, f in os.walk(profile))
            count = len(texts)
            del texts
        return DemoResult(profile, tuple(categories), report, summaries, count, files, leaks)
    finally:
        if not keep:
            shutil.rmtree(profile, ignore_errors=True)
