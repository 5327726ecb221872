"""The operator's and the researcher's installs carry none of the participant's desktop or ML stack.

From the installed metadata (``importlib.metadata``), the requirements of
ime-collector and ime-research are followed transitively: pynput, pystray,
Pillow and spaCy are unreachable. And ``--help`` imports none of them."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

FORBIDDEN = {"pynput", "pystray", "pillow", "spacy"}
FORBIDDEN_MODULES = ("pynput", "pystray", "PIL", "spacy")


def reachable(distribution: str) -> set[str]:
    """Every distribution ``distribution`` requires, transitively (extras not asked for are left out)."""
    seen: set[str] = set()
    todo = [(canonicalize_name(distribution), frozenset())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform, never installed here
        for text in requires:
            requirement = Requirement(text)
            environments = [{"extra": e} for e in extras] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return {name for name, _ in seen}


@pytest.mark.parametrize("distribution", ["ime-collector", "ime-research"])
def test_no_desktop_or_ml_package_is_reachable(distribution):
    names = reachable(distribution)
    assert "ime-wire" in names and "cryptography" in names  # the walk does follow requirements
    assert names & FORBIDDEN == set()


def test_the_walk_would_notice_them():
    assert {"pynput", "pystray", "pillow", "spacy"} <= reachable("ime-agent")


@pytest.mark.parametrize("program, module", [("ime-collector", "ime_collector.cli"), ("ime-research", "ime_research.cli")])
def test_help_imports_none_of_them(program, module):
    code = (f"import sys, json\nfrom {module} import main\n"
            f"try:\n    main(['--help'], prog_name={program!r})\nexcept SystemExit:\n    pass\n"
            f"print(json.dumps(sorted(m for m in {FORBIDDEN_MODULES!r} if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    *help_lines, loaded = result.stdout.splitlines()
    assert any(program in line for line in help_lines)
    assert json.loads(loaded) == []
