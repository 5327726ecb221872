"""``ime-collector``: serve the API, register a study's manifest. Thin commands over plain functions."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from ime_collector import __version__
from ime_collector.errors import CollectorError
from ime_collector.settings import DB_ENV, DEFAULT_HOST, DEFAULT_PORT, Settings, default_database_url
from ime_wire.errors import InvalidManifest


def _settings(ctx: click.Context) -> Settings:
    try:
        return Settings.from_environment(database_url=ctx.obj["db"])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _open(settings: Settings):
    from ime_collector.storage import open_storage  # noqa: PLC0415 (keep --help light)
    try:
        return open_storage(settings.database_url, settings.pool_size,
                            create_directory=settings.database_url == default_database_url())
    except CollectorError as exc:
        raise click.ClickException(str(exc)) from None


def add_study(storage, data: bytes, source: str, today: str) -> str:
    """Check a signed manifest and register it; a line saying what happened."""
    from ime_wire import manifest  # noqa: PLC0415
    study = manifest.load(data, source=source)
    if today > study.ends:
        raise InvalidManifest(f"{source}: the study ended on {study.ends}; there is nothing left to collect")
    if storage.add_study(study.study_id, data, study.collector_retention_days, today):
        return (f"registered study {study.study_id} ({study.title!r}), open {study.starts} to {study.ends}; "
                f"batches are kept {study.collector_retention_days} days")
    return f"study {study.study_id} is already registered with exactly this manifest; nothing changed"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ime-collector")
@click.option("--db", metavar="URL", help=f"sqlite:///relative/path, sqlite:////absolute/path or postgresql://… "
              f"(default: ${DB_ENV}, else a SQLite file in the user's data directory)")
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """The collection server of ime-agent studies: it keeps encrypted summaries it cannot read."""
    ctx.obj = {"db": db}


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="address to listen on (put a TLS proxy in front)")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="server processes (more than one needs PostgreSQL to be worth it)")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (docs/protocol.md) until stopped."""
    import uvicorn  # noqa: PLC0415

    from ime_collector.app import create_app  # noqa: PLC0415
    from ime_collector.storage import redact  # noqa: PLC0415

    settings = _settings(ctx)
    storage = _open(settings)  # migrate once, and fail here with one clear line
    click.echo(f"ime-collector {__version__}: {storage.kind} database {redact(settings.database_url)}, "
               f"schema level {storage.schema_level()}", err=True)
    # No access log and no proxy headers: the collector keeps no address of anyone.
    options = dict(host=host, port=port, access_log=False, proxy_headers=False, server_header=False,
                   log_level="info")
    if workers == 1:
        uvicorn.run(create_app(settings, storage), **options)
        return
    storage.close()
    os.environ[DB_ENV] = settings.database_url  # the worker processes read their settings from here
    uvicorn.run("ime_collector.app:app_from_environment", factory=True, workers=workers, **options)


@main.command("add-study")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def add_study_command(ctx: click.Context, file: Path) -> None:
    """Register a study's signed manifest (study.json) so its participants can join and upload."""
    from ime_wire import manifest  # noqa: PLC0415

    try:
        data = manifest.read_file(file)
    except InvalidManifest as exc:
        raise click.ClickException(f"{exc}; pass the study's study.json") from None
    storage = _open(_settings(ctx))
    try:
        click.echo(add_study(storage, data, str(file), datetime.now(UTC).date().isoformat()))
    except (InvalidManifest, CollectorError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        storage.close()


if __name__ == "__main__":
    sys.exit(main())
