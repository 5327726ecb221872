"""The research tool's throughput: pull (verify + decrypt + validate + store), and a k-anonymous export.

1. Pull: participants' batches are sealed and signed with the real wire contract
   (as the agent does), recorded as the collector's feed pages (JSON, 500 items a
   page) and pulled into a fresh research database. Timed: the whole pull — parsing
   each page, signature checks, HPKE opening, validation of every summary against
   the vocabulary, deduplication and the SQLite writes; not the network. Also timed
   alone, on the same batches: signature check + HPKE opening, the cryptographic floor.
2. Export: a million summaries (1,000 participants over 13 weeks, skewed values)
   are put in a research database; then, in the same run, ``export`` to Parquet
   with k = 5 at 1-hour precision (pseudonyms, coding, k-anonymity, sorting, the
   Parquet file, codebook, manifest and hashes) and a plain ``pyarrow.parquet.write_table``
   of the same million input rows (the limit). Loading from the database is timed apart.

Each measure is given as wall time and as this process's CPU time: the reference
machine's two cores are shared, and the CPU time is what the work itself costs
when other processes take turns on them (the load average is printed too).

Run: .venv/bin/python benchmarks/bench_research.py [--summaries 200000] [--batch 100] [--export-rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from researchkit import FeedStandIn, Participant, batch_item, random_summary, make_manifest  # noqa: E402

from ime_wire import manifest as wire_manifest, vocabulary  # noqa: E402
from ime_wire.envelope import Upload, open_raw  # noqa: E402
from ime_research import export, pseudonyms  # noqa: E402
from ime_research.pull import pull  # noqa: E402
from ime_research.researchdb import SUMMARY_SCHEMA, ResearchDB  # noqa: E402


class Clock:
    """Wall and CPU seconds of a ``with`` block."""

    def __enter__(self) -> "Clock":
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu


PAGE = 500


class RecordedFeed:
    """The collector's feed as recorded JSON pages: each request parses its page, as the HTTP client does."""

    def __init__(self, items: list[dict]):
        self.pages = [json.dumps(FeedStandIn(items).items(str(start), PAGE)).encode()
                      for start in range(0, len(items), PAGE)]

    def items(self, after: str | None, limit: int) -> dict:
        return json.loads(self.pages[int(after) // PAGE if after else 0])


def bench_pull(total: int, batch: int, participants: int = 200) -> dict:
    signing, hpke = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    manifest = wire_manifest.load(make_manifest(signing, hpke))
    rng = random.Random(1)
    people = [Participant() for _ in range(participants)]
    items = []
    for n in range(total // batch):
        person = people[n % participants]
        summaries = [random_summary(rng, manifest, days=60, skew=2.0) for _ in range(batch)]
        items.append(batch_item(person, person.upload(manifest, summaries)))
    feed = RecordedFeed(items)
    with tempfile.TemporaryDirectory() as tmp:
        with ResearchDB(Path(tmp) / "research.db") as db:
            with Clock() as clock:
                counts = pull(db, feed, manifest, hpke, limit=PAGE)
    assert counts.summaries == total and counts.batches == len(items), counts
    with Clock() as crypto:
        for item, person in zip(items, (people[n % participants] for n in range(len(items)))):
            upload = Upload.from_dict(item["upload"])
            upload.verify(person.device_key.public_key())
            open_raw(upload.ciphertext, hpke, upload.context)
    return {"summaries": total, "batches": len(items), "clock": clock, "crypto": crypto}


def million_rows(rows: int, participants: int = 1000, days: int = 91) -> tuple[pa.Table, list[str]]:
    """Summaries as stored, with skewed values: a few common products, places and hours."""
    rng = random.Random(2)
    start = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())

    def skewed(values, power=2.5):
        return values[min(int(len(values) * rng.random() ** power), len(values) - 1)]

    hours = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 8, 23, 7, 0]
    columns = {name: [] for name in SUMMARY_SCHEMA.names}
    owners = []
    enrollments = [secrets.token_hex(16) for _ in range(participants)]
    for _ in range(rows):
        owners.append(rng.randrange(participants))
        intent = skewed(vocabulary.CATEGORIES, 1.5)
        bucket = start + 86400 * rng.randrange(days) + 3600 * skewed(hours, 1.3) + 900 * rng.randrange(4)
        slots = vocabulary.SLOTS_FOR[intent]
        columns["id"].append(secrets.token_hex(16))
        columns["bucket"].append(bucket)
        columns["app_category"].append(skewed(vocabulary.APP_CATEGORIES, 1.5))
        columns["lang"].append(skewed(vocabulary.LANGS, 1.2))
        columns["intent"].append(intent)
        columns["confidence"].append(0.45 + 0.55 * rng.random())
        columns["model_id"].append("intent-en-2026.11.1-3a7377d6")
        for name in vocabulary.SLOTS:
            columns[name].append(skewed(vocabulary.SLOTS[name]) if name in slots and rng.random() < 0.7 else None)
    return pa.table(columns, schema=SUMMARY_SCHEMA), [enrollments[o] for o in owners]


def bench_export(rows: int, repeats: int = 3) -> dict:
    signing, hpke = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    manifest_bytes = make_manifest(signing, hpke, days=120)
    manifest = wire_manifest.load(manifest_bytes)
    table, owners = million_rows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with ResearchDB(tmp / "research.db") as db, db.transaction():
            order = sorted(range(rows), key=owners.__getitem__)  # one participant's rows per batch
            for start in range(0, rows, 1000):
                index = pa.array(order[start:start + 1000])
                chunk_owners = {owners[i] for i in order[start:start + 1000]}
                for owner in sorted(chunk_owners):
                    picked = pa.array([i for i in order[start:start + 1000] if owners[i] == owner])
                    db.add_batch(secrets.token_hex(16), owner, "2026-06-01", table.take(picked))
                del index
        load, anonymized, plain, release = [], [], [], None
        with ResearchDB(tmp / "research.db") as db:
            for n in range(repeats):
                with Clock() as clock:
                    summaries = db.load_summaries()
                load.append(clock)
                with Clock() as clock:
                    release = export.export(summaries, manifest, manifest_bytes, tmp / f"export-{n}",
                                            formats=("parquet",), k=5, precision="1h", key=pseudonyms.new_key(),
                                            withdrawn=0)
                anonymized.append(clock)
                with Clock() as clock:
                    pq.write_table(summaries, tmp / f"plain-{n}.parquet")
                plain.append(clock)
        sizes = {"export": (tmp / "export-0" / "summaries.parquet").stat().st_size,
                 "plain": (tmp / "plain-0.parquet").stat().st_size}
    median = {name: {"wall": statistics.median(c.wall for c in clocks), "cpu": statistics.median(c.cpu for c in clocks)}
              for name, clocks in (("load", load), ("export", anonymized), ("plain", plain))}
    return {"rows": rows, **median, "release": release, "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summaries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")

    for batch in sorted({args.batch, 1000}):
        p = bench_pull(args.summaries, batch)
        wall, cpu = p["summaries"] / p["clock"].wall, p["summaries"] / p["clock"].cpu
        print(f"pull, batches of {batch}: {p['summaries']:,} summaries in {p['batches']:,} batches: "
              f"{wall:,.0f} summaries/s wall, {cpu:,.0f} summaries/s CPU; signature check + HPKE opening alone "
              f"{p['summaries'] / p['crypto'].cpu:,.0f} summaries/s CPU  [target >= 50,000 summaries/s]")

    e = bench_export(args.export_rows)
    r = e["release"]
    print(f"export of {e['rows']:,} summaries to Parquet, k = 5, 1h (median of 3): {e['export']['wall']:.2f} s wall, "
          f"{e['export']['cpu']:.2f} s CPU; plain pyarrow write of the same rows: {e['plain']['wall']:.2f} s wall, "
          f"{e['plain']['cpu']:.2f} s CPU; ratio {e['export']['wall'] / e['plain']['wall']:.2f}x wall, "
          f"{e['export']['cpu'] / e['plain']['cpu']:.2f}x CPU  [target <= 3x]")
    print(f"  loading them from the research database: {e['load']['wall']:.2f} s wall; files: export "
          f"{e['sizes']['export'] / 1e6:.1f} MB, plain {e['sizes']['plain'] / 1e6:.1f} MB")
    print(f"  released {r['rows_out']:,} rows of {r['rows_in']:,} ({r['suppressed']:,} suppressed), "
          f"{r['participants']} participants; time generalised: {r['anonymization']['variables']['time']}")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
