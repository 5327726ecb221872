"""Heavy ingestion for the crash and concurrency tests: ingests one session over
and over into a profile (consent already given), printing each committed
summary id on its own line, flushed. Stops after LIMIT ids if one is given.

usage: python crash_worker.py SESSION [LIMIT]   (profile: IME_AGENT_DATA_DIR)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ime_agent.config import load_config
from ime_agent.ingest import ingest
from ime_agent.store import Store


@dataclass(frozen=True)
class Result:
    label: str = "travel"
    confidence: float = 0.9
    lang: str = "en"
    slots: dict = field(default_factory=lambda: {"destination": "Vietnam"})
    model_id: str = "crash-worker"


class Classifier:
    def classify_many(self, texts):
        return [Result() for _ in texts]


def main() -> None:
    session, limit = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None
    config = load_config()
    committed = 0

    def report(summary_id: str) -> None:
        nonlocal committed
        print(summary_id, flush=True)
        committed += 1
        if limit is not None and committed >= limit:
            raise SystemExit(0)

    with Store.open(config.data_dir) as store:
        while True:
            ingest(store, [session], config, classifier=Classifier(), on_commit=report)


if __name__ == "__main__":
    main()
