"""``ime-agent run`` and ``ime-agent autostart enable|disable|status``."""

from __future__ import annotations

import logging
import shlex

import click

from ime_agent import autostart
from ime_agent.cli.data import passphrase_prompt, profile_config
from ime_agent.config import default_data_dir


def _describe(status: autostart.Status) -> str:
    if not status.enabled:
        return f"autostart: disabled ({status.location} absent)"
    command = f": {shlex.join(status.command)}" if status.command else ""
    return f"autostart: enabled ({status.location}){command}"


@click.group(name="autostart")
def autostart_group() -> None:
    """Start the agent when you log in (per user; nothing system-wide)."""


@autostart_group.command()
@click.pass_context
def enable(ctx: click.Context) -> None:
    """Start the agent at login, for this profile."""
    # The login session has none of this shell's variables: name any non-default profile.
    data_dir = profile_config(ctx).data_dir
    click.echo(_describe(autostart.enable(None if data_dir == default_data_dir() else data_dir)))


@autostart_group.command()
def disable() -> None:
    """Stop starting the agent at login; removes the login entry entirely."""
    click.echo(_describe(autostart.disable()))


@autostart_group.command()
def status() -> None:
    """Say whether the agent starts at login, and from where."""
    click.echo(_describe(autostart.status()))


@click.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the agent with its tray icon (asks for consent first; one per profile)."""
    from ime_agent.agent.app import run as run_agent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_agent(profile_config(ctx), prompt=passphrase_prompt)


def register(group: click.Group) -> None:
    group.add_command(autostart_group)
    group.add_command(run)
