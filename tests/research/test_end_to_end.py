"""A whole study, every program real: six participants ingest recorded sessions, join with codes,
sync to a real collector process (SQLite and PostgreSQL); one leaves; the researcher pulls, exports,
aggregates and builds the report."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

from collectors import collector_command, start_collector
from conftest import SESSIONS_DIR
from research_checks import check_export

PASSPHRASE = "a study passphrase for tests"
SESSIONS = sorted(p for p in SESSIONS_DIR.glob("session-*.jsonl") if not p.name.endswith(".expected.jsonl"))


@pytest.fixture(params=["sqlite", "postgresql"])
def collector(request, tmp_path):
    url = f"sqlite:///{tmp_path}/collector.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    process = start_collector(url, tmp_path / "collector.log")
    yield url, process
    process.stop()


def research(*args: str):
    from ime_research.cli import main

    result = CliRunner().invoke(main, list(args), env={"IME_RESEARCH_PASSPHRASE": PASSPHRASE})
    assert result.exit_code == 0, result.output
    return result.stdout


def agent(profile, *args: str, ok: bool = True):
    from ime_agent.cli import main

    result = CliRunner().invoke(main, ["--data-dir", str(profile), *args],
                                env={"IME_AGENT_KEY_SOURCE": "file", "IME_AGENT_PASSPHRASE": None})
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_six_participants_to_an_export_an_aggregate_and_a_report(collector, tmp_path):
    url, process = collector
    study_dir = tmp_path / "mystudy"
    research("study", "create", str(study_dir), "--title", "Plans and purchases", "--collector", process.url,
             "--review-hold", "0", "--organisation", "Example Lab", "--dp-budget", "5")
    added = subprocess.run([*collector_command(), "--db", url, "add-study", str(study_dir / "study.json")],
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    codes = research("study", "invite", str(study_dir), "-n", "6").split()
    assert len(codes) == 6

    profiles = [tmp_path / f"participant-{i}" for i in range(6)]
    enrollments = []
    for i, (profile, code) in enumerate(zip(profiles, codes)):
        agent(profile, "consent", "grant", "--all", "--yes")
        agent(profile, "study", "join", str(study_dir / "study.json"), "--code", code, "--yes",
              "--category", "purchase", "--category", "travel", "--category", "health")
        agent(profile, "ingest", *map(str, SESSIONS[i::3]))  # participants overlap in what they typed
        assert "sent" in agent(profile, "sync").output
        enrollments.append(json.loads(agent(profile, "study", "status", "--json").output)["enrollment_id"])
    agent(profiles[5], "study", "leave", "--yes")

    out = research("pull", str(study_dir))
    counts = dict(line.split(": ", 1) for line in out.strip().splitlines() if ": " in line)
    assert int(counts["batches"]) >= 5 and int(counts["tombstones applied"]) == 1
    assert int(counts["bad signatures"]) == 0 and int(counts["envelopes not opened"]) == 0
    assert "batches: 0" in research("pull", str(study_dir))  # resumes: nothing new

    export_dir = tmp_path / "release"
    research("export", str(study_dir), "--format", "csv", "--format", "jsonl", "--format", "parquet",
             "-o", str(export_dir), "--k", "2", "--time", "1d")
    identifiers = set(enrollments) | {code.replace("-", "") for code in codes}
    rows, manifest = check_export(export_dir, identifiers=identifiers)
    assert manifest["participants"] == 5 and manifest["withdrawn"] == 1 and manifest["k"] == 2
    assert rows and manifest["rows_out"] == len(rows)

    research("aggregate", str(study_dir), "--epsilon", "1", "--by", "week", "-o", str(tmp_path / "weekly.json"))
    assert (tmp_path / "weekly.json").exists()
    from ime_research.cli import main

    over = CliRunner().invoke(main, ["aggregate", str(study_dir), "--epsilon", "10", "-o", str(tmp_path / "no.json")],
                              env={"IME_RESEARCH_PASSPHRASE": PASSPHRASE})
    assert over.exit_code != 0 and "budget" in over.output and not (tmp_path / "no.json").exists()

    research("report", str(study_dir), "-o", str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "<script" not in html
    assert not any(enrollment in html for enrollment in enrollments)
