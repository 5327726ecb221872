"""Hostile and careless input: one clear line, a non-zero exit, nothing half-stored, never a
traceback or a hang; memory bounded on endless input. Plus fuzzing of the two readers."""

from __future__ import annotations

import io
import json
import os

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from ime_agent.capture._replay import iter_events
from ime_agent.cli import main
from ime_agent.cli.classify import read_jsonl
from ime_agent.errors import ClassifyInputError, SessionFormatError

GOOD = [{"t": 0, "type": "focus", "app": "firefox", "title": "Shop", "secure": False},
        *({"t": 0.1 * i, "type": "press", "key": c} for i, c in enumerate("new laptop", 1)),
        {"t": 2, "type": "press", "key": "Key.enter"}]


def one_line_error(result, *fragments: str) -> str:
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # handled, not a crash
    text = result.output.strip()
    assert text.startswith("Error: ") and "\n" not in text, text
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text
    return text


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("IME_AGENT_KEY_SOURCE", "file")
    monkeypatch.delenv("IME_AGENT_PASSPHRASE", raising=False)

    def invoke(*args, env=None, input=None):
        return CliRunner().invoke(main, ["--data-dir", str(tmp_path / "profile"), *args], env=env, input=input)

    return invoke


def session(tmp_path, name: str, lines: list[str]):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    return path


HOSTILE_LINES = {
    "nan": ('{"t": NaN, "type": "click"}', "'NaN' is not a JSON number"),
    "infinity": ('{"t": Infinity, "type": "click"}', "is not a JSON number"),
    "1e400": ('{"t": 1e400, "type": "click"}', "'t' must be from 0 to"),
    "401 digits": ('{"t": ' + "9" * 401 + ', "type": "click"}', "'t' must be from 0 to"),
    "negative": ('{"t": -1, "type": "click"}', "'t' must be from 0 to"),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    "surrogate text": ('{"t": 1, "type": "text", "text": "a\\ud800b"}', "lone surrogate"),
    "surrogate app": ('{"t": 1, "type": "focus", "app": "\\ud800", "title": "", "secure": false}', "lone surrogate"),
    "huge line": ('{"t": 1, "type": "text", "text": "' + "x" * (1024 * 1024 + 10) + '"}', "line longer than"),
}


@pytest.mark.parametrize("case", list(HOSTILE_LINES))
def test_bad_session_lines_are_one_line_and_ingest_stores_nothing(case, run, tmp_path):
    line, words = HOSTILE_LINES[case]
    good = session(tmp_path, "good.jsonl", [json.dumps(e) for e in GOOD])
    bad = session(tmp_path, "bad.jsonl", [json.dumps(GOOD[0]), line])
    one_line_error(run("replay", "--json", str(bad)), "bad.jsonl:2", words)
    run("consent", "grant", "--all", "--yes")
    one_line_error(run("ingest", str(good), str(bad)), "bad.jsonl:2", words)
    assert "summaries:  0 kept" in run("status").output  # not even the good file's


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "directory"])
def test_sessions_that_are_not_files_are_refused_at_once(special, run, tmp_path):
    if special == "fifo":
        special = str(tmp_path / "pipe")
        os.mkfifo(special)
    elif special == "directory":
        special = str(tmp_path)
    result = run("replay", special)  # returns at once: never reads a device or waits on a pipe
    one_line_error(result, special)


def test_replay_json_is_always_valid_json(run, tmp_path):
    path = session(tmp_path, "s.jsonl", [json.dumps(e) for e in GOOD])
    for line in run("replay", "--json", str(path)).output.splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in the output"))


CONFIGS = {
    "extra_denied_apps = 5": "'extra_denied_apps' must be a list of app ids",
    'extra_denied_apps = "my-vault"': "'extra_denied_apps' must be a list of app ids",
    "extra_denied_app = ['x']": "did you mean 'extra_denied_apps'?",
    "retention_day = 10": "did you mean 'retention_days'?",
    "idle_commit = nan": "from 0.1 to 3600",
    "idle_commit = inf": "from 0.1 to 3600",
    "idle_commit = true": "from 0.1 to 3600",
    "idle_commit = 1e-300": "from 0.1 to 3600",
    "retention_days = 1.9": "a whole number of days from 1 to 30",
    "retention_days = 31": "a whole number of days from 1 to 30",
    "data_dir = 5": "'data_dir' must be text",
    "this is = not toml": "not valid TOML",
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_config_that_would_weaken_the_guards_is_refused(config, run, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(config + "\n")
    one_line_error(run("status", env={"IME_AGENT_CONFIG": str(path)}), CONFIGS[config])


@pytest.mark.parametrize("variable, value, words", [
    ("IME_AGENT_IDLE_COMMIT", "nan", "IME_AGENT_IDLE_COMMIT must be"),
    ("IME_AGENT_PASSPHRASE", os.fsdecode(b"\xff\xfe-not-utf8"), "IME_AGENT_PASSPHRASE is not valid UTF-8"),
    ("IME_AGENT_PROFILE", "../escape", "bad profile name"),
    ("IME_AGENT_KEY_SOURCE", "usb-stick", "use keyring, file or passphrase"),
])
def test_bad_environment_is_one_line(variable, value, words, run, tmp_path, monkeypatch):
    monkeypatch.delenv("IME_AGENT_KEY_SOURCE", raising=False)
    monkeypatch.setenv(variable, value)
    one_line_error(run("consent", "grant", "--yes"), words)
    assert not (tmp_path / "profile").exists() or not any((tmp_path / "profile").iterdir())


def test_classify_binary_and_odd_stdin(run):
    one_line_error(run("classify", input=b"\xff\xfe\x00garbage\n"), "line 1: not UTF-8")
    one_line_error(run("classify", input='{"text": NaN}\n'), "line 1")
    one_line_error(run("classify", input="[" * 100_000 + "\n"), "line 1")


def test_classify_handles_a_segment_of_any_length(run):
    long = "i need a new laptop for uni " * 80_000  # over 2 million characters
    result = run("classify", "--json", long)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["intent"] in ("purchase", "none")
    result = run("classify", "--json", input=json.dumps({"text": long}) + "\n")
    assert result.exit_code == 0 and len(result.output.splitlines()) == 1


def test_endless_input_keeps_memory_bounded():
    """An endless line (no newline ever) is cut after a bounded read, not buffered whole."""

    class Endless(io.RawIOBase):
        read_bytes = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"x" * len(buffer)
            Endless.read_bytes += len(buffer)
            return len(buffer)

    stream = io.BufferedReader(Endless())
    with pytest.raises(ClassifyInputError, match="longer than"):
        list(read_jsonl(stream))
    assert Endless.read_bytes < 16 * 1024 * 1024


# --- fuzzing -------------------------------------------------------------------------------

lines = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.fixed_dictionaries({"t": st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=3)),
                           "type": st.sampled_from(["press", "release", "focus", "click", "text", "field",
                                                    "insert", "delete", "caret", "x"]),
                           "key": st.text(max_size=5), "text": st.text(max_size=5), "app": st.text(max_size=5),
                           "offset": st.integers(-3, 2**40)}).map(
        lambda d: json.dumps(d, allow_nan=True).encode()),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(lines, max_size=8))
def test_fuzzed_sessions_give_events_or_one_format_error(tmp_path, chunks):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(chunks) + b"\n")
    try:
        for event in iter_events(path):
            assert 0 <= event.t <= 1e7
    except SessionFormatError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(lines, max_size=8))
def test_fuzzed_classify_stdin_gives_texts_or_one_input_error(chunks):
    try:
        for batch in read_jsonl(io.BytesIO(b"\n".join(chunks) + b"\n")):
            assert all(isinstance(text, str) for text in batch)
    except ClassifyInputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("line ")
