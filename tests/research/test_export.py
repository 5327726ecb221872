"""Export: k-anonymity, no identifiers, withdrawals honoured, formats agree, reproducible bytes."""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings, strategies as st

import research_standins
from research_standins import standins  # noqa: F401  (the fixture)
from ime_wire import keys, manifest as wire_manifest, vocabulary
from ime_research import export, pseudonyms
from ime_research.cli import main
from ime_research.codebook import CONFIDENCE_BANDS, MISSING_CODES, NOT_APPLICABLE, NOT_STATED, WITHHELD
from ime_research.researchdb import SUMMARY_SCHEMA, ResearchDB
from research_checks import check_export
from researchkit import make_manifest

pytestmark = pytest.mark.usefixtures("standins")

MANIFEST_BYTES = make_manifest(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
MANIFEST = wire_manifest.load(MANIFEST_BYTES)
MONDAY = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
SLOT_NAMES = [name for name in SUMMARY_SCHEMA.names if name in vocabulary.SLOTS]


@st.composite
def summary_rows(draw):
    """One participant's summaries, from small pools of values so that rows collide often."""
    rows = []
    for _ in range(draw(st.integers(0, 25))):
        intent = draw(st.sampled_from(vocabulary.CATEGORIES))
        row = {"id": secrets.token_hex(16), "bucket": MONDAY + 900 * draw(st.integers(0, 7 * 96 * 2)),
               "app_category": draw(st.sampled_from(vocabulary.APP_CATEGORIES[:3])),
               "lang": draw(st.sampled_from(vocabulary.LANGS)), "intent": intent,
               "confidence": draw(st.floats(0, 1)), "model_id": "intent-en-test"}
        for name in SLOT_NAMES:
            row[name] = None
        for name in vocabulary.SLOTS_FOR[intent]:
            row[name] = draw(st.none() | st.sampled_from(vocabulary.SLOTS[name][:3]))
        rows.append(row)
    return rows


datasets = st.lists(st.tuples(summary_rows(), st.booleans()), min_size=1, max_size=10)


class Fixture:
    """A research DB filled with participants, some withdrawn, and everything that identifies them."""

    def __init__(self, root: Path, participants: list[tuple[list[dict], bool]]):
        self.root = root
        self.identifiers: set[str] = set()
        self.withdrawn: set[str] = set()
        self.rows: dict[str, list[dict]] = {}
        self.db_path = root / "research.db"
        with ResearchDB(self.db_path) as db, db.transaction():
            for rows, withdraws in participants:
                enrollment_id = secrets.token_hex(16)
                device = keys.encode_public(Ed25519PrivateKey.generate().public_key())
                db.add_enrollment(enrollment_id, device)
                self.identifiers |= {enrollment_id, device}
                for start in range(0, len(rows), 10):
                    batch_id = secrets.token_hex(16)
                    self.identifiers.add(batch_id)
                    chunk = rows[start:start + 10]
                    self.identifiers |= {r["id"] for r in chunk}
                    db.add_batch(batch_id, enrollment_id, "2026-03-20", pa.Table.from_pylist(chunk, SUMMARY_SCHEMA))
                if withdraws:
                    db.apply_tombstone(enrollment_id, "2026-03-21")
                    self.withdrawn.add(enrollment_id)
                else:
                    self.rows[enrollment_id] = rows

    def export(self, out: Path, *, k=5, precision="1h", key=b"\x01" * 32, formats=export.FORMATS) -> dict:
        with ResearchDB(self.db_path) as db:
            return export.export(db.load_summaries(), MANIFEST, MANIFEST_BYTES, out, formats=formats, k=k,
                                 precision=precision, key=key, withdrawn=len(db.withdrawn()))


def band(confidence: float) -> str:
    return next(name for name, low, high in reversed(CONFIDENCE_BANDS) if confidence >= low)


def explains(out: dict, row: dict) -> bool:
    """Whether released row ``out`` is input ``row`` generalised (nothing invented)."""
    seconds = {"15m": 900, "1h": 3600, "1d": 86400, "1w": 7 * 86400}[out["time_precision"]]
    start = int(datetime.fromisoformat(out["time"].replace("Z", "+00:00")).timestamp())
    if not start <= row["bucket"] < start + seconds:
        return False
    if (out["intent"], out["lang"]) != (row["intent"], row["lang"]):
        return False
    if out["app_category"] not in (row["app_category"], WITHHELD):
        return False
    if out["confidence"] not in (band(row["confidence"]), WITHHELD):
        return False
    for name in SLOT_NAMES:
        truth = NOT_APPLICABLE if name not in vocabulary.SLOTS_FOR[row["intent"]] else row[name] or NOT_STATED
        if out[name] not in (truth, WITHHELD) or (out[name] == WITHHELD and truth == NOT_APPLICABLE):
            return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets, k=st.integers(2, 5), precision=st.sampled_from(["15m", "1h", "1d", "1w"]))
def test_every_export_of_random_data_is_k_anonymous_truthful_and_leaks_nothing(data, k, precision):
    with tempfile.TemporaryDirectory() as tmp:
        fixture = Fixture(Path(tmp), data)
        key = pseudonyms.new_key()
        document = fixture.export(Path(tmp) / "out", k=k, precision=precision, key=key)
        out = Path(tmp) / "out"
        # the formats agree; k-anonymity; values from the codebook; no identifier (nor the key) in any file
        rows, manifest = check_export(out, identifiers=fixture.identifiers | {key.hex()})
        assert len(list(out.glob("summaries.*"))) == 3
        assert (manifest["k"], manifest["time_precision"]) == (k, precision)
        assert manifest == document

        # withdrawn participants are absent; the others' rows are their own, only generalised
        by_pseudonym = {pseudonyms.pseudonym(key, e): e for e in fixture.rows}
        withdrawn = {pseudonyms.pseudonym(key, e) for e in fixture.withdrawn}
        assert not withdrawn & {r["participant"] for r in rows}
        for row in rows:
            assert any(explains(row, source) for source in fixture.rows[by_pseudonym[row["participant"]]])
        assert document["rows_in"] == sum(len(r) for r in fixture.rows.values())
        assert document["withdrawn"] == len(fixture.withdrawn)


def test_same_inputs_and_key_give_byte_identical_files_whatever_the_pull_order(tmp_path):
    import random
    rng = random.Random(7)
    participants = [([{"id": secrets.token_hex(16), "bucket": MONDAY + 900 * rng.randrange(96 * 14),
                       "app_category": rng.choice(["browser", "chat"]), "lang": "en", "intent": "travel",
                       "confidence": rng.random(), "model_id": "intent-en-test", **{n: None for n in SLOT_NAMES},
                       "destination": rng.choice(["Japan", "France", None])} for _ in range(40)], False)
                    for _ in range(12)]
    (tmp_path / "a").mkdir()
    first = Fixture(tmp_path / "a", participants)
    # the same batches in another database, stored in the opposite order
    with ResearchDB(first.db_path) as source:
        batches = source.conn.execute("SELECT * FROM batches ORDER BY rowid DESC").fetchall()
    (tmp_path / "b").mkdir()
    with ResearchDB(tmp_path / "b" / "research.db") as db, db.transaction():
        db.conn.executemany("INSERT INTO batches VALUES (?, ?, ?, ?, ?)", batches)
    second = Fixture(tmp_path / "b", [])

    key = pseudonyms.new_key()
    first.export(tmp_path / "a" / "out", key=key)
    second.export(tmp_path / "b" / "out", key=key)
    names = sorted(p.name for p in (tmp_path / "a" / "out").iterdir())
    assert names == ["codebook.json", "codebook.md", "manifest.json", "summaries.csv", "summaries.jsonl",
                     "summaries.parquet"]
    for name in names:
        assert (tmp_path / "a" / "out" / name).read_bytes() == (tmp_path / "b" / "out" / name).read_bytes(), name
    first.export(tmp_path / "a" / "fresh", key=pseudonyms.new_key())
    assert (tmp_path / "a" / "fresh" / "summaries.csv").read_bytes() != \
        (tmp_path / "a" / "out" / "summaries.csv").read_bytes()


def test_codebook_describes_every_column_from_the_vocabulary(tmp_path):
    fixture = Fixture(tmp_path, [])
    fixture.export(tmp_path / "out", formats=("csv",))
    book = json.loads((tmp_path / "out" / "codebook.json").read_text())
    columns = {c["name"]: c for c in book["columns"]}
    header = (tmp_path / "out" / "summaries.csv").read_text().splitlines()[0].replace('"', "").split(",")
    assert list(columns) == header
    assert columns["destination"]["values"] == list(vocabulary.SLOTS["destination"])
    assert columns["destination"]["missing_codes"] == list(MISSING_CODES)
    assert columns["destination"]["applies_to_intent"] == "travel"
    assert columns["trip_length"]["description"] == vocabulary.SLOT_DESCRIPTIONS["trip_length"]
    assert columns["app_category"]["values"] == list(vocabulary.APP_CATEGORIES)
    assert all(c["type"] and c["description"] for c in columns.values())
    markdown = (tmp_path / "out" / "codebook.md").read_text()
    assert all(f"### `{name}`" in markdown for name in columns)
    assert "day_trip (1 day)" in markdown  # what a bucket means, straight from the vocabulary


def test_export_of_a_study_with_fewer_slots_releases_only_those(tmp_path):
    manifest_bytes = make_manifest(Ed25519PrivateKey.generate(), X25519PrivateKey.generate(),
                                   categories=("travel",), slots=("destination",))
    manifest = wire_manifest.load(manifest_bytes)
    rows = [{"id": secrets.token_hex(16), "bucket": MONDAY, "app_category": "browser", "lang": "en",
             "intent": intent, "confidence": 0.9, "model_id": "m", **{n: None for n in SLOT_NAMES},
             "destination": "Japan" if intent == "travel" else None, "party": "solo" if intent == "travel" else None}
            for intent in ("travel", "purchase")]
    table = pa.Table.from_pylist(rows * 3, SUMMARY_SCHEMA).append_column(
        "enrollment_id", pa.array([f"{i:032x}" for i in range(6)]).dictionary_encode())
    document = export.export(table, manifest, manifest_bytes, tmp_path / "out", formats=("jsonl",), k=2,
                             precision="1d", key=b"k" * 32, withdrawn=0)
    released = export.read_back(tmp_path / "out" / "summaries.jsonl")
    assert {r["intent"] for r in released} == {"travel"}
    assert "party" not in released[0] and released[0]["destination"] == "Japan"
    assert (document["rows_in"], document["outside_study"], document["rows_out"]) == (6, 3, 3)


def test_export_command_writes_a_release_and_saves_or_reuses_a_pseudonym_key(tmp_path):
    study_dir = tmp_path / "study"
    research_standins.create_study(study_dir)
    Fixture(study_dir, [([], False)])  # an empty research DB in the study directory
    runner = CliRunner()
    key_file = tmp_path / "pseudonym.key"
    result = runner.invoke(main, ["export", str(study_dir), "--format", "parquet", "--format", "csv",
                                  "-o", str(tmp_path / "one"), "--k", "3", "--time", "1d",
                                  "--save-pseudonym-key", str(key_file)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("exported 0 of 0 summaries")
    assert key_file.stat().st_mode & 0o777 == 0o600
    document = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert document["pseudonym_key_id"] == pseudonyms.key_id(pseudonyms.load_key(key_file))
    assert document["study"]["manifest_sha256"] == hashlib.sha256((study_dir / "study.json").read_bytes()).hexdigest()
    assert (document["k"], document["time_precision"]) == (3, "1d")
    result = runner.invoke(main, ["export", str(study_dir), "--format", "jsonl", "-o", str(tmp_path / "two"),
                                  "--pseudonym-key", str(key_file)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "two" / "manifest.json").read_text())["pseudonym_key_id"] == \
        document["pseudonym_key_id"]


def test_export_before_any_pull_says_what_to_do(tmp_path):
    research_standins.create_study(tmp_path / "study")
    result = CliRunner().invoke(main, ["export", str(tmp_path / "study"), "--format", "csv",
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output == (f"Error: nothing has been pulled into {tmp_path / 'study'} yet: run "
                             f"'ime-research pull {tmp_path / 'study'}' first\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--k", "1"], "k must be 2 or more"),
    (["-o", "{full}"], "is not an empty directory"),
    (["--save-pseudonym-key", "{out}/key"], "keep the pseudonym key out of the export directory"),
    (["--pseudonym-key", "{bad}"], "is not a pseudonym key"),
    (["--pseudonym-key", "/dev/zero"], "is not a pseudonym key"),  # never read whole
    (["--pseudonym-key", "{huge}"], "is not a pseudonym key"),
])
def test_export_command_refuses_bad_input_in_one_line(tmp_path, args, message):
    study_dir = tmp_path / "study"
    research_standins.create_study(study_dir)
    ResearchDB.in_study(study_dir).close()  # pulled, though nothing came
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    (tmp_path / "bad").write_text("not a key")
    (tmp_path / "huge").write_text("00" * 32 + " " * 10_000_000)
    paths = {"full": tmp_path / "full", "out": tmp_path / "out", "bad": tmp_path / "bad", "huge": tmp_path / "huge"}
    args = [a.format(**paths) for a in args]
    command = ["export", str(study_dir), "--format", "csv"]
    if "-o" not in args:
        command += ["-o", str(tmp_path / "out")]
    result = CliRunner().invoke(main, command + args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
