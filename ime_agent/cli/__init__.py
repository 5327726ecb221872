"""The ``ime-agent`` command: thin click commands over plain functions.

Each area registers its commands from its own module; library errors
(:class:`ime_agent.errors.ImeAgentError`) become one ``error: ...`` line here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ime_agent import __version__
from ime_agent.errors import ImeAgentError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ImeAgentError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="ime-agent")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),  # the store says, in one line, what is wrong with it
    envvar="IME_AGENT_DATA_DIR",
    help="Profile data directory (default: the platform's user data dir). Env: IME_AGENT_DATA_DIR.",
)
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Consented, local-first input-method intent capture for research."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir


def _register() -> None:
    # Explicit imports so packagers see every command module.
    from ime_agent.cli import agent, capture, classify, data, study

    for module in (capture, classify, data, study, agent):
        module.register(main)


_register()
