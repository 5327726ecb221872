"""`ime-agent classify` through click's CliRunner."""

import json

import pytest
from click.testing import CliRunner

from ime_agent.cli import main


@pytest.fixture
def run():
    runner = CliRunner()
    return lambda args, stdin=None: runner.invoke(main, ["classify", *args], input=stdin)


def test_args_table(run):
    result = run(["想换个MacBook 有推荐吗", "lol that meeting could have been an email"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:2] == ["#", "intent"]
    assert lines[1].split()[:2] == ["1", "purchase"]
    assert lines[2].split()[:2] == ["2", "none"]
    assert "MacBook" not in result.output  # the text itself is never printed


def test_args_json(run):
    result = run(["--json", "booked our flights to tokyo for next month!!"])
    assert result.exit_code == 0
    row = json.loads(result.output)
    assert row["intent"] == "travel" and row["lang"] == "en"
    assert row["slots"]["destination"] == "Japan"
    assert {"confidence", "scores", "model_id"} <= set(row)


def test_stdin_jsonl_in_order(run):
    texts = ["宝宝发烧38度半 要不要去医院", "can you review my PR", "booked our flights to tokyo for next month!!"] * 700
    stdin = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    result = run(["--json"], stdin)
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == len(texts)
    assert [r["intent"] for r in rows[:3]] == ["health", "none", "travel"]
    assert [r["lang"] for r in rows[-3:]] == ["zh", "en", "en"]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ('{"text": "secret words here"', "not valid JSON"),
        ('{"txt": "secret words here"}', '"text"'),
        ('["secret words here"]', '"text"'),
        ('{"text": 42}', '"text"'),
    ],
)
def test_malformed_line_is_one_error_line(run, bad, why):
    stdin = '{"text": "booked our flights to tokyo"}\n\n' + bad + "\n" + '{"text": "more"}\n'
    result = run(["--json"], stdin)
    assert result.exit_code == 1
    out_lines = result.output.strip().splitlines()
    assert json.loads(out_lines[0])["intent"] == "travel"  # lines before the bad one are kept
    error = out_lines[-1]
    assert error.lower().startswith("error: line 3:") and why in error
    assert "secret" not in result.output
    assert "Traceback" not in result.output
    assert len(out_lines) == 2


@pytest.mark.parametrize("args", [[], ["--json"]])
@pytest.mark.parametrize("stdin", ["", "\n\n  \n"])
def test_empty_stdin_prints_nothing(run, args, stdin):
    result = run(args, stdin)
    assert result.exit_code == 0
    assert result.output == ""


def test_undecodable_input_is_classified_not_a_crash():
    """A lone surrogate (an input byte that was not UTF-8) must not take a batch down."""
    import classifiers

    results = classifiers.load().classify_many(["cheap fli\ud800ghts to rome", "ok"])
    assert [r.lang for r in results] == ["en", "en"] and len(results) == 2
