"""``ime-research``: the researcher's command line.

A minimal entry point for the data commands (:mod:`ime_research.commands`);
the study commands (``study create``, ``study invite``) join the same group.
"""

from __future__ import annotations

import click

import ime_research
from ime_research.commands import add_commands


@click.group()
@click.version_option(ime_research.__version__, prog_name="ime-research")
def main() -> None:
    """Run a study's data side: pull, export, aggregate, report."""


add_commands(main)
