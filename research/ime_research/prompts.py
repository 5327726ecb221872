"""Asking the researcher: the study key's passphrase, for every command that needs it."""

from __future__ import annotations

import sys

import click

from ime_research import settings


def passphrase(confirm: bool = False) -> str:
    """From IME_RESEARCH_PASSPHRASE, else asked on the terminal (never an argument: it would show in ps)."""
    value = settings.passphrase_from_environment()
    if value:
        return value
    if not sys.stdin.isatty():
        raise click.ClickException(f"no passphrase: set {settings.PASSPHRASE_ENV} or run in a terminal")
    return click.prompt("Passphrase for the study's keys", hide_input=True, confirmation_prompt=confirm,
                        err=True)
