"""README.md documents every command and option of the three programs, and every variable.

Walks the click command trees (not the text of --help), so a new command or option
that is not documented fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def programs():
    from ime_agent.cli import main as agent
    from ime_collector.cli import main as collector
    from ime_research.cli import main as research

    return {"ime-agent": agent, "ime-collector": collector, "ime-research": research}


def walk(name: str, command: click.Command):
    yield name, command
    if isinstance(command, click.Group):
        for sub_name, sub in command.commands.items():
            yield from walk(f"{name} {sub_name}", sub)


def every_command():
    return [(path, command) for program, root in programs().items() for path, command in walk(program, root)]


@pytest.mark.parametrize("path, command", every_command(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_and_option_is_in_the_readme(path, command):
    assert f"`{path}" in README, f"README.md does not document `{path}`"
    for param in command.params:
        if isinstance(param, click.Option):
            names = [n for n in param.opts + param.secondary_opts if n.startswith("--")]
            if names and names[0] not in ("--help", "--version"):
                assert any(re.search(re.escape(n) + r"\b", README) for n in names), \
                    f"README.md does not mention {names[0]} of `{path}`"


def test_every_environment_variable_is_in_the_readme():
    from ime_agent.env import VARIABLES

    missing = [name for name in VARIABLES if f"`{name}`" not in README]
    assert not missing, f"README.md does not document {missing}"


def test_the_walk_finds_the_commands_issues_name():
    paths = {path for path, _ in every_command()}
    assert {"ime-agent study join", "ime-agent study status", "ime-agent study preview", "ime-agent study leave",
            "ime-agent sync", "ime-collector serve", "ime-collector add-study", "ime-research study create",
            "ime-research study invite"} <= paths
