"""``ime-research``: thin click commands over :mod:`ime_research.study` and friends.

Results go to standard output (``study invite`` prints exactly the codes there);
everything said to the researcher goes to standard error.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from ime_research import __version__, settings
from ime_research.errors import ResearchError
from ime_research.prompts import passphrase
from ime_wire import vocabulary


def _say(message: str) -> None:
    click.echo(message, err=True)


def _duration(ctx, param, value: str) -> int:
    from ime_research.study import parse_duration  # noqa: PLC0415
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _information_text(path: Path) -> str:
    """The information sheet's text: a regular UTF-8 file within the manifest's limit, read bounded."""
    from ime_wire import files  # noqa: PLC0415
    from ime_wire.manifest import TEXT_LIMITS  # noqa: PLC0415

    limit = TEXT_LIMITS["information"]

    def refuse(problem: str) -> click.BadParameter:
        return click.BadParameter(f"{path} {problem}; pass a UTF-8 text file of at most {limit:,} characters",
                                  param_hint="--information")

    try:
        data = files.read_small(path, 4 * limit)  # UTF-8 takes at most 4 bytes a character
    except files.FileTooLarge:
        raise refuse("is too long") from None
    except files.FileRefused as exc:
        raise refuse(str(exc)) from None
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("is not UTF-8 text") from None
    if len(text) > limit:
        raise refuse("is too long")
    return text


def _day(ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ime-research")
def main() -> None:
    """The researcher's tool for ime-agent studies: set up, pull, export, aggregate, report."""


@main.group()
def study() -> None:
    """Create a study and invite its participants."""


@study.command("create")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", required=True, help="the study's title, as participants see it")
@click.option("--collector", "collector_url", required=True, metavar="URL",
              help="where participants' agents upload (https://; http:// only to this machine)")
@click.option("--category", "categories", multiple=True, type=click.Choice(vocabulary.CATEGORIES),
              help="a category to collect (repeat; default: all)")
@click.option("--review-hold", default=settings.DEFAULT_REVIEW_HOLD, show_default=True, callback=_duration,
              metavar="DURATION", help="how long summaries wait on the device before upload (0 allowed)")
@click.option("--dp-budget", default=settings.DEFAULT_DP_BUDGET, show_default=True, type=float, metavar="EPSILON",
              help="total epsilon for the study's differentially private releases")
@click.option("--organisation", default="", help="who runs the study")
@click.option("--contact", default="", help="how participants reach the study team")
@click.option("--ethics-ref", default="", help="the ethics approval's reference")
@click.option("--information", "information_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a text file with the information sheet (default: a short generated text)")
@click.option("--retention-days", default=settings.DEFAULT_RETENTION_DAYS, show_default=True,
              type=click.IntRange(1, 3650), help="days the collector keeps a batch")
@click.option("--starts", callback=_day, metavar="YYYY-MM-DD", help="first day of the study (default: today)")
@click.option("--ends", callback=_day, metavar="YYYY-MM-DD",
              help=f"last day of the study (default: {settings.DEFAULT_STUDY_DAYS} days after the start)")
def create_command(directory: Path, title: str, collector_url: str, categories: tuple[str, ...], review_hold: int,
                   dp_budget: float, organisation: str, contact: str, ethics_ref: str,
                   information_file: Path | None, retention_days: int, starts: date | None,
                   ends: date | None) -> None:
    """Create DIRECTORY with the study's signed manifest and its passphrase-sealed keys."""
    from ime_research.study import create_study  # noqa: PLC0415

    information = _information_text(information_file) if information_file else None
    try:
        created = create_study(directory, title=title, collector_url=collector_url, passphrase=passphrase(True),
                               categories=categories or vocabulary.CATEGORIES, review_hold_seconds=review_hold,
                               dp_budget=dp_budget, organisation=organisation, contact=contact,
                               ethics_ref=ethics_ref, information=information, retention_days=retention_days,
                               starts=starts, ends=ends)
    except ResearchError as exc:
        raise click.ClickException(str(exc)) from None
    m = created.manifest
    click.echo(f"created study {m.study_id} in {directory}")
    click.echo(f"  {m.title!r}: {', '.join(m.categories)}; {m.starts} to {m.ends}; collector {m.collector_url}")
    click.echo(f"signing key fingerprint (print it on the information sheet): {m.fingerprint}")
    _say(f"next: the collector's operator runs `ime-collector add-study {directory / 'study.json'}`, "
         f"then `ime-research study invite {directory} -n N` makes join codes")


@study.command("invite")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-n", "count", required=True, type=click.IntRange(1, 10_000), help="how many join codes")
@click.option("--expires", default=settings.DEFAULT_INVITE_EXPIRY, show_default=True, callback=_duration,
              metavar="DURATION", help="how long the codes stay valid")
def invite_command(directory: Path, count: int, expires: int) -> None:
    """Register N single-use join codes with the collector and print them, one per line."""
    from ime_research.study import invite  # noqa: PLC0415
    from ime_research.studydir import StudyDir  # noqa: PLC0415

    try:
        study_dir = StudyDir(directory)
        study_keys = study_dir.unlock(passphrase())
        codes, expiry = invite(study_dir, study_keys, count, expires)
    except ResearchError as exc:
        raise click.ClickException(str(exc)) from None
    for code in codes:
        click.echo(code)
    _say(f"registered {count} join code(s) with {study_dir.manifest.collector_url}, valid until "
         f"{expiry:%Y-%m-%d %H:%M} UTC; each works once")


def _register_data_commands() -> None:
    from ime_research.commands import add_commands  # noqa: PLC0415  (explicit: packagers see it)

    add_commands(main)


_register_data_commands()
