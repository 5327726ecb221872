"""The research tool installs and starts without the desktop stack, and its commands are documented."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from ime_research.cli import main
from ime_research.commands import add_commands

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"pynput", "pystray", "pillow", "spacy", "matplotlib"}


def test_no_forbidden_dependency_even_transitively():
    seen, todo = set(), ["ime-research"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name.lower().replace("_", "-"))
    assert not seen & FORBIDDEN, seen & FORBIDDEN


def test_help_imports_no_desktop_or_heavy_module():
    code = ("import sys; from click.testing import CliRunner; from ime_research.cli import main; "
            "assert CliRunner().invoke(main, ['--help']).exit_code == 0; "
            "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                text=True).stdout.split())
    assert not loaded & {"pynput", "pystray", "PIL", "spacy", "matplotlib", "pyarrow", "opendp", "pygal"}


def test_every_data_command_is_documented():
    doc = (ROOT / "docs" / "research.md").read_text()
    import click
    group = click.Group()
    add_commands(group)
    for name, command in group.commands.items():
        assert f"## `ime-research {name} " in doc, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert any(opt in doc for opt in param.opts), f"{name} {param.opts}"
    assert set(group.commands) <= set(main.commands)


