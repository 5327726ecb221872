"""``ime-agent replay`` and ``ime-agent capture``: segments from recordings or live typing."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import click

from ime_agent.capture import accessibility_on, open_source, replay_session
from ime_agent.capture._base import Segment
from ime_agent.capture.guards import Guards
from ime_agent.capture.live import LiveCapture
from ime_agent.config import load_config, parse_idle_commit
from ime_agent.errors import BackendUnavailable, ImeAgentError


def _format(segment: Segment, source: str | None, as_json: bool) -> str:
    if as_json:
        record = {"text": segment.text, "app": segment.app, "reason": segment.reason,
                  "t_start": round(segment.t_start, 3), "t_end": round(segment.t_end, 3)}
        if source is not None:
            record["source"] = source
        return json.dumps(record, ensure_ascii=False)
    prefix = f"{source}\t" if source is not None else ""
    return f"{prefix}{segment.app}\t{segment.reason}\t{segment.text}"


def _idle_commit(_ctx, _param, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_idle_commit(value, "--idle-commit")
    except ImeAgentError as exc:
        raise click.BadParameter(str(exc).removeprefix("--idle-commit ")) from None


@click.command()
@click.option("--idle-commit", callback=_idle_commit, metavar="SECONDS",
              help="Commit a segment after this many idle seconds, 0.1 to 3600 (default 10, or the config's).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per segment and line.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def replay(ctx: click.Context, idle_commit: float | None, as_json: bool, files: tuple[Path, ...]) -> None:
    """Print the text segments of recorded key-event sessions (JSONL, format v1).

    Guards apply as in live capture: secure fields and denied apps yield nothing.
    """
    config = load_config(data_dir=ctx.obj.get("data_dir"))
    guards = Guards.from_config(config)
    idle = idle_commit or config.idle_commit
    for path in files:
        result = replay_session(path, idle_commit=idle, guards=guards)
        lines = [_format(segment, str(path), as_json) for segment in result.segments]
        if lines:
            click.echo("\n".join(lines))


@click.command()
@click.option("--print", "print_segments", is_flag=True, required=True,
              help="Print segments to this terminal as they commit (nothing is stored).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per segment and line.")
@click.option("--idle-commit", callback=_idle_commit, metavar="SECONDS",
              help="Commit a segment after this many idle seconds, 0.1 to 3600 (default 10, or the config's).")
@click.option("--show-focus", is_flag=True, help="Also report focus changes (app id only) on stderr.")
@click.pass_context
def capture(ctx: click.Context, print_segments: bool, as_json: bool, idle_commit: float | None,
            show_focus: bool) -> None:
    """Capture live typing from the X server in DISPLAY and print its segments.

    A way to try capture in the foreground: it runs only until Ctrl-C, prints only
    to this terminal and stores nothing. Guards apply as in the agent.
    """
    config = load_config(data_dir=ctx.obj.get("data_dir"))
    with accessibility_on():
        _capture(config, as_json, idle_commit, show_focus)


def _capture(config, as_json: bool, idle_commit: float | None, show_focus: bool) -> None:
    source = open_source()
    lock = threading.Lock()
    stop = threading.Event()
    lost: list[str] = []

    def on_segment(segment: Segment) -> None:
        with lock:
            click.echo(_format(segment, None, as_json))

    def on_focus(app: str | None, blocked: bool) -> None:
        if show_focus:
            click.echo(f"focus: {app}{' (blocked)' if blocked else ''}", err=True)

    def on_health(alive: bool) -> None:
        if not alive:  # everything is being dropped from now on: say so and end
            lost.append(source.name)
            stop.set()

    live = LiveCapture(source, on_segment, guards=Guards.from_config(config),
                       idle_commit=idle_commit or config.idle_commit, on_focus=on_focus, on_health=on_health)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    live.start()
    click.echo(f"capturing keyboard input ({source.name}); press Ctrl-C to stop", err=True)
    stop.wait()
    live.stop()
    if lost:
        raise BackendUnavailable(f"capture source {', '.join(lost)} stopped observing (its display or bus went "
                                 "away); nothing typed after that was kept. Start capture again")
    click.echo("capture stopped", err=True)


def register(group: click.Group) -> None:
    group.add_command(replay)
    group.add_command(capture)
