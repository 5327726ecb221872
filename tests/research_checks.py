"""Checks of an export directory, shared by the research tests and end-to-end tests.

Each takes ``OUTDIR`` as ``ime-research export`` wrote it and fails with a plain
assertion naming what is wrong. :func:`check_export` runs them all.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

from ime_wire.timebucket import coarsen
from ime_research.export import read_back

PRECISIONS = ["15m", "1h", "1d", "1w"]


def rows_of(out: Path) -> list[dict]:
    """The rows of the export, after checking that every format written holds the same rows in order."""
    files = sorted(Path(out).glob("summaries.*"))
    assert files, f"no summaries file in {out}"
    tables = [read_back(path) for path in files]
    assert all(table == tables[0] for table in tables), "the formats do not hold the same rows and values"
    return tables[0]


def check_k_anonymous(rows: list[dict], k: int) -> None:
    classes = defaultdict(set)
    for row in rows:
        classes[tuple(v for c, v in row.items() if c != "participant")].add(row["participant"])
    small = [values for values, people in classes.items() if len(people) < k]
    assert not small, f"{len(small)} released value combinations are shared by fewer than {k} participants"


def check_no_identifiers(out: Path, identifiers: set[str]) -> None:
    """No file holds any of ``identifiers`` (enrollment ids, device keys, batch ids, keys...)."""
    for path in Path(out).iterdir():
        content = path.read_bytes()
        leaked = [i for i in identifiers if i.encode() in content]
        assert not leaked, f"{path.name} holds {len(leaked)} identifiers"


def check_codebook(out: Path, rows: list[dict], precision: str) -> None:
    """Every column is in the codebook and every value allowed; time aligned, never finer than asked."""
    book = json.loads((Path(out) / "codebook.json").read_text())
    if rows:
        assert [c["name"] for c in book["columns"]] == list(rows[0])
    allowed = {c["name"]: set(c["values"]) | set(c["missing_codes"]) for c in book["columns"] if c["values"]}
    for row in rows:
        assert all(row[name] in values for name, values in allowed.items()), row
        assert coarsen(row["time"], row["time_precision"]) == row["time"], row
        assert PRECISIONS.index(row["time_precision"]) >= PRECISIONS.index(precision), row


def check_manifest(out: Path, rows: list[dict]) -> dict:
    """The manifest's counts match the rows, and every file's hash matches it; returns the manifest."""
    document = json.loads((Path(out) / "manifest.json").read_text())
    assert document["rows_out"] == len(rows)
    assert document["rows_in"] == document["rows_out"] + document["suppressed"] + document["outside_study"]
    assert document["participants"] == len({r["participant"] for r in rows})
    for name, digest in document["files"].items():
        assert hashlib.sha256((Path(out) / name).read_bytes()).hexdigest() == digest, name
    withheld = sum(value == "withheld" for row in rows for value in row.values())
    assert withheld == sum(v["withheld"] for v in document["anonymization"]["variables"].values())
    return document


def check_export(out: Path, *, identifiers: set[str] = frozenset()) -> tuple[list[dict], dict]:
    """Every check above, with k and the precision read from the manifest; returns rows and manifest."""
    rows = rows_of(out)
    document = check_manifest(out, rows)
    check_k_anonymous(rows, document["k"])
    check_codebook(out, rows, document["time_precision"])
    check_no_identifiers(out, set(identifiers))
    return rows, document
