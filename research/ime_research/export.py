"""``ime-research export``: an anonymized, documented, reproducible release of a study's summaries.

What is released (the columns of :mod:`ime_research.codebook`): a pseudonym per
participant (:mod:`ime_research.pseudonyms`), the time window coarsened to the
chosen precision, intent, language, app category, a confidence band and the
study's slots. No enrollment id, device key, batch id, summary id or exact
confidence leaves. Every row is k-anonymous over all columns but the pseudonym
(:mod:`ime_research.kanon`); the manifest reports, per variable, what was
generalised and withheld, and how many rows were suppressed.

Output (``OUTDIR``): ``summaries.<format>`` for each format asked (the same rows
and values), ``codebook.json``, ``codebook.md`` and ``manifest.json`` (provenance,
counts and each file's SHA-256). Rows are sorted by their released values, so
the order says nothing the values do not, and the same database, options and
pseudonym key give byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import ime_wire
from ime_wire import keys as wire_keys
from ime_wire import vocabulary
from ime_wire.manifest import Manifest

import ime_research
from ime_research import codebook, kanon, pseudonyms
from ime_research.codebook import CONFIDENCE_BANDS, MISSING_CODES
from ime_research.errors import ResearchError

FORMATS = ("csv", "jsonl", "parquet")
DEFAULT_K = 5
DEFAULT_PRECISION = "1h"
MANIFEST_VERSION = 1
#: Withheld first when a row is still too rare: the confidence band, before time goes to weeks.
WITHHELD_BEFORE_WEEK = ("confidence",)


@dataclass(frozen=True)
class Release:
    """The anonymized rows and what it took to make them."""

    table: pa.Table  # released columns, sorted, string values (dictionary-encoded)
    rows_in: int
    outside_study: int  # rows of an intent the study does not collect: never released
    suppressed: int
    participants: int
    models: tuple[str, ...]  # classifier versions behind the study's summaries
    first: str | None  # start of the earliest window released
    last_end: str | None  # end of the latest window released
    ladder: tuple[str, ...]
    variables: dict  # per variable: what was generalised and withheld


def ladder_for(manifest: Manifest, precision: str) -> list[kanon.Step]:
    """Time up to a day, the confidence band, time to a week, the slots (most values first), the app."""
    slots = sorted(codebook.slot_names(manifest), key=lambda name: -len(vocabulary.SLOTS[name]))
    return kanon.ladder(precision, before_week=list(WITHHELD_BEFORE_WEEK),
                        after_week=[*slots, "app_category"])


def anonymize(summaries: pa.Table, manifest: Manifest, *, k: int, precision: str, key: bytes) -> Release:
    """Pseudonymise, code, make k-anonymous and decode ``summaries`` (as loaded from the research DB)."""
    if k < 2:
        raise ResearchError("k must be 2 or more (k = 1 would release every row as it is)")
    if precision not in kanon.PRECISIONS:
        raise ResearchError(f"time precision must be one of {', '.join(kanon.PRECISIONS)}")
    rows_in = summaries.num_rows
    intents = tuple(c for c in vocabulary.CATEGORIES if c in manifest.categories)
    needed = ["bucket", "app_category", "lang", "intent", "confidence", "model_id", "enrollment_id",
              *codebook.slot_names(manifest)]
    rows = summaries.select(needed)  # summary ids are never released, nor copied
    in_study = pc.is_in(rows["intent"], value_set=pa.array(intents))
    if pc.sum(in_study.cast(pa.int64())).as_py() != rows_in:
        rows = rows.filter(in_study)
    enrollment = rows["enrollment_id"].combine_chunks()
    names = [pseudonyms.pseudonym(key, e) for e in enrollment.dictionary.to_pylist()]
    rank = {name: i for i, name in enumerate(sorted(names))}
    # one number per participant, in the order of their pseudonyms: released rows are sorted by it
    person = pc.take(pa.array([rank[n] for n in names], pa.int32()), enrollment.indices)
    coded, values = _code(rows, manifest, intents, person)
    steps = ladder_for(manifest, precision)
    placement = kanon.anonymize(coded, k=k, precision=precision, steps=steps)
    time, precision_index, codes, withheld = kanon.released(coded, placement, precision, steps)
    released_person = person.take(placement.rows)

    columns = {
        "participant": pa.DictionaryArray.from_arrays(released_person, pa.array(sorted(names), pa.string())),
        "time": _time_strings(time),
        "time_precision": pa.DictionaryArray.from_arrays(precision_index.cast(pa.int32()),
                                                         pa.array(kanon.PRECISIONS)),
    }
    for name in values:
        columns[name] = pa.DictionaryArray.from_arrays(codes[name].cast(pa.int32()),
                                                       pa.array([*MISSING_CODES, *values[name]]))
    table = pa.table(columns)
    seconds = pc.take(pa.array([kanon.SECONDS[p] for p in kanon.PRECISIONS]), precision_index)
    return Release(
        table=table, rows_in=rows_in, outside_study=rows_in - rows.num_rows,
        suppressed=placement.suppressed,
        participants=len(pc.unique(released_person)),
        models=tuple(sorted(pc.unique(rows["model_id"]).to_pylist())),
        first=_iso(pc.min(time).as_py()), last_end=_iso(pc.max(pc.add(time, seconds)).as_py()),
        ladder=tuple(str(step) for step in steps),
        variables=_variables(precision_index, precision, withheld),
    )


def _code(rows: pa.Table, manifest: Manifest, intents: tuple[str, ...], person: pa.Array
          ) -> tuple[kanon.Coded, dict]:
    """Each quasi-identifier as integer codes (see :mod:`ime_research.kanon`), and each column's values."""
    values = {"intent": intents, "lang": vocabulary.LANGS, "app_category": vocabulary.APP_CATEGORIES,
              "confidence": tuple(name for name, _, _ in CONFIDENCE_BANDS)}
    columns = {name: _codes(rows[name], values[name]) for name in ("intent", "lang", "app_category")}
    band = None
    for _, low, _ in CONFIDENCE_BANDS[1:]:
        above = pc.greater_equal(rows["confidence"], low).cast(pa.int32())
        band = above if band is None else pc.add(band, above)
    columns["confidence"] = pc.add(band, _FIRST)
    for name in codebook.slot_names(manifest):
        intent = next(i for i, slots in vocabulary.SLOTS_FOR.items() if name in slots)
        values[name] = vocabulary.SLOTS[name]
        stated = pc.coalesce(_codes(rows[name], values[name]), _NOT_STATED)
        columns[name] = pc.if_else(pc.equal(columns["intent"], _FIRST.as_py() + intents.index(intent)),
                                   stated, _NOT_APPLICABLE)
    coded = kanon.Coded(
        time=_flat(rows["bucket"], pa.int64()),
        columns={name: _flat(column, pa.int32()) for name, column in columns.items()},
        radix={name: kanon.FIRST_VALUE + len(values[name]) for name in columns},
        person=person,
    )
    return coded, values


# Scalars made once: making one from a Python number is slow in pyarrow (it retries optional imports).
_FIRST = pa.scalar(kanon.FIRST_VALUE, pa.int32())
_NOT_STATED = pa.scalar(kanon.NOT_STATED, pa.int32())
_NOT_APPLICABLE = pa.scalar(kanon.NOT_APPLICABLE, pa.int32())


def _codes(column, values: tuple[str, ...]) -> pa.ChunkedArray:
    """Code = position in ``values`` + FIRST_VALUE; null stays null."""
    return pc.add(pc.index_in(column, value_set=pa.array(values)), _FIRST)


def _flat(column, type_) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return array.cast(type_)


def _time_strings(time: pa.Array) -> pa.DictionaryArray:
    encoded = pc.dictionary_encode(time)
    text = [_iso(t) for t in encoded.dictionary.to_pylist()]
    return pa.DictionaryArray.from_arrays(encoded.indices, pa.array(text, pa.string()))


def _iso(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _variables(precision_index: pa.Array, precision: str, withheld: dict[str, int]) -> dict:
    """Per variable, over released rows: rows whose time was coarsened (by precision), values withheld."""
    start = kanon.PRECISIONS.index(precision)
    counts = pc.value_counts(precision_index).to_pylist() if len(precision_index) else []
    coarser = {kanon.PRECISIONS[c["values"]]: c["counts"] for c in sorted(counts, key=lambda c: c["values"])
               if c["values"] > start}
    return {"time": {"generalised": coarser, "withheld": 0},
            **{name: {"generalised": {}, "withheld": n} for name, n in withheld.items()}}


# --- writing -----------------------------------------------------------------------------------


def export(summaries: pa.Table, manifest: Manifest, manifest_bytes: bytes, out_dir: Path, *,
           formats: tuple[str, ...], k: int = DEFAULT_K, precision: str = DEFAULT_PRECISION,
           key: bytes, withdrawn: int) -> dict:
    """Write the export to ``out_dir`` (new or empty) in one step; return its manifest."""
    if not formats or any(f not in FORMATS for f in formats):
        raise ResearchError(f"--format must be one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ResearchError(f"{out_dir} exists and is not an empty directory; export into a new directory")
    release = anonymize(summaries, manifest, k=k, precision=precision, key=key)
    book = codebook.codebook(manifest, precision=precision, k=k)
    staging = out_dir.parent / f".{out_dir.name}.partial-{secrets.token_hex(4)}"
    try:
        staging.mkdir(parents=True)
        files = {}
        for fmt in sorted(set(formats)):
            files[f"summaries.{fmt}"] = _WRITERS[fmt](release.table, staging / f"summaries.{fmt}")
        files["codebook.json"] = _write_bytes(staging / "codebook.json", codebook.to_json(book))
        files["codebook.md"] = _write_bytes(staging / "codebook.md", codebook.to_markdown(book))
        document = _manifest(release, manifest, manifest_bytes, key=key, k=k, precision=precision,
                             withdrawn=withdrawn, files=files)
        _write_bytes(staging / "manifest.json", (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    except OSError as exc:
        raise ResearchError(f"cannot write the export to {out_dir}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return document


def _manifest(release: Release, manifest: Manifest, manifest_bytes: bytes, *, key: bytes, k: int,
              precision: str, withdrawn: int, files: dict[str, str]) -> dict:
    return {
        "export_version": MANIFEST_VERSION,
        "study": {
            "study_id": manifest.study_id,
            "title": manifest.title,
            "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "encryption_key_id": manifest.key_id,
            "signing_key_id": wire_keys.key_id(manifest.signing_public_key),
            "signing_key_fingerprint": manifest.fingerprint,
        },
        "pseudonym_key_id": pseudonyms.key_id(key),
        "tool": {"ime-research": ime_research.__version__, "ime-wire": ime_wire.__version__,
                 "pyarrow": pa.__version__, "schema_version": ime_wire.SCHEMA_VERSION},
        "models": list(release.models),
        "time_range": {"first": release.first, "end": release.last_end},
        "time_precision": precision,
        "k": k,
        "participants": release.participants,
        "withdrawn": withdrawn,
        "rows_in": release.rows_in,
        "rows_out": release.table.num_rows,
        "suppressed": release.suppressed,
        "outside_study": release.outside_study,
        "anonymization": {
            "method": "local generalisation along a fixed ladder, then suppression: a row whose values are "
                      "shared by fewer than k participants climbs one rung at a time; rows still short of k at "
                      "the top are suppressed",
            "ladder": list(release.ladder),
            "variables": release.variables,
            "generalised": "rows released at a coarser time precision than asked, by precision",
            "withheld": "values replaced by the missing code 'withheld'",
        },
        "files": dict(sorted(files.items())),
    }


def _write_bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain(table: pa.Table) -> pa.Table:
    return pa.table({name: table[name].cast(pa.string()) for name in table.column_names})


def _write_parquet(table: pa.Table, path: Path) -> str:
    # min/max statistics of the dictionary-coded text columns would cost more than the rest of
    # the write and prune little; they are kept for time, the column readers filter on
    pq.write_table(table, path, compression="zstd", write_statistics=["time"])
    return _sha256(path)


def _write_csv(table: pa.Table, path: Path) -> str:
    pacsv.write_csv(_plain(table), path, pacsv.WriteOptions(quoting_style="needed"))
    return _sha256(path)


def _write_jsonl(table: pa.Table, path: Path) -> str:
    names = table.column_names
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for batch in _plain(table).to_batches(max_chunksize=65536):
            for row in zip(*(column.to_pylist() for column in batch.columns)):
                f.write(json.dumps(dict(zip(names, row)), ensure_ascii=False, separators=(",", ":")) + "\n")
    return _sha256(path)


_WRITERS = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}


def read_back(path: Path) -> list[dict]:
    """The rows of a ``summaries.*`` file as dicts of strings (for checks and tests)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return _plain(pq.read_table(path)).to_pylist()
    with open(path, encoding="utf-8", newline="") as f:
        if path.suffix == ".csv":
            return list(csv.DictReader(f))
        return [json.loads(line) for line in f]
