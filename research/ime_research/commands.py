"""The researcher's data commands: ``pull``, ``export``, ``aggregate``, ``report``.

Thin click commands over :mod:`ime_research.pull`, :mod:`~ime_research.export`,
:mod:`~ime_research.dp` and :mod:`~ime_research.report`; :func:`add_commands`
puts them on the ``ime-research`` group. Library errors become one
``Error: ...`` line here. Heavy modules (pyarrow, OpenDP, pygal) are imported
inside the commands, so ``--help`` stays quick.
"""

from __future__ import annotations

from pathlib import Path

import click
import httpx

from ime_wire.errors import WireError

from ime_research.errors import ResearchError
from ime_research.prompts import passphrase

#: The study key's passphrase, for commands that open envelopes (otherwise asked on the terminal).
def add_commands(group: click.Group) -> None:
    for command in (pull_command, export_command, aggregate_command, report_command):
        group.add_command(command)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _study(path: Path):
    from ime_research.studydir import StudyDir

    try:
        return StudyDir(path)
    except (ResearchError, WireError, OSError, ValueError) as exc:
        raise _fail(exc) from None


def _open_feed(study, keys):
    """The collector's researcher feed, in requests signed by the study key."""
    from ime_research.client import CollectorClient

    manifest = study.manifest
    return CollectorClient(manifest.collector_url, manifest.study_id, keys.signing)


def _pseudonym_key(load: Path | None, save: Path | None, out_dir: Path | None = None) -> bytes:
    from ime_research import pseudonyms

    if load and save:
        raise click.UsageError("give --pseudonym-key (reuse a saved key) or --save-pseudonym-key (keep this "
                               "one), not both")
    for path in (load, save):
        if path and out_dir and Path(path).resolve().parent == Path(out_dir).resolve():
            raise click.UsageError("keep the pseudonym key out of the export directory: with it, pseudonyms "
                                   "can be traced back to enrollments")
    try:
        if load:
            return pseudonyms.load_key(load)
        key = pseudonyms.new_key()
        if save:
            pseudonyms.save_key(save, key)
        return key
    except ResearchError as exc:
        raise _fail(exc) from None


def _pulled(study_dir: Path):
    """The study's research database; a clear line if nothing was ever pulled into it."""
    from ime_research.researchdb import FILE_NAME, ResearchDB

    if not (Path(study_dir) / FILE_NAME).exists():
        raise click.ClickException(f"nothing has been pulled into {study_dir} yet: run "
                                   f"'ime-research pull {study_dir}' first")
    return ResearchDB.in_study(study_dir)


_DIR = click.Path(file_okay=False, path_type=Path)
_KEY_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("pull")
@click.argument("study_dir", type=_DIR)
def pull_command(study_dir: Path) -> None:
    """Fetch, verify, open and store the collector's new batches and tombstones.

    Every batch's device signature is checked and its summaries validated against the vocabulary;
    duplicates are dropped and a withdrawn participant's data is deleted. Safe to interrupt and rerun:
    it resumes from where it stopped. The study key's passphrase comes from IME_RESEARCH_PASSPHRASE
    or is asked for.
    """
    from ime_research.pull import pull
    from ime_research.researchdb import ResearchDB

    study = _study(study_dir)
    try:
        keys = study.unlock(passphrase())
    except (ResearchError, WireError, ValueError) as exc:
        raise _fail(exc) from None
    feed = None
    try:
        feed = _open_feed(study, keys)
        with ResearchDB.in_study(study_dir) as db:
            counts = pull(db, feed, study.manifest, keys.hpke)
    except (ResearchError, WireError, ValueError) as exc:
        raise _fail(exc) from None
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the collector at {study.manifest.collector_url}: {exc}; "
                                   "nothing was lost, run pull again") from None
    finally:
        if feed is not None and hasattr(feed, "close"):
            feed.close()
    for line in counts.lines():
        click.echo(line)


@click.command("export")
@click.argument("study_dir", type=_DIR)
@click.option("--format", "formats", multiple=True, required=True, type=click.Choice(["csv", "jsonl", "parquet"]),
              help="File format; repeat to write several (the same rows and pseudonyms in each).")
@click.option("-o", "--output", "out_dir", required=True, type=_DIR, help="A new (or empty) directory.")
@click.option("--k", "k", default=5, show_default=True, type=int,
              help="Every row's values are shared by at least k participants (2 or more).")
@click.option("--time", "precision", default="1h", show_default=True, type=click.Choice(["15m", "1h", "1d", "1w"]),
              help="Time precision (rows may be coarsened further for k-anonymity).")
@click.option("--pseudonym-key", "load_key", type=_KEY_FILE,
              help="Reuse a saved pseudonym key, so pseudonyms match an earlier export.")
@click.option("--save-pseudonym-key", "save_key", type=_KEY_FILE,
              help="Save this export's fresh pseudonym key to a new file (keep it private).")
def export_command(study_dir: Path, formats: tuple[str, ...], out_dir: Path, k: int, precision: str,
                   load_key: Path | None, save_key: Path | None) -> None:
    """Write an anonymized export: summaries, codebook and provenance manifest.

    Pseudonyms are new for every export unless --pseudonym-key is given. No enrollment id, device key
    or batch id is written; each row is k-anonymous over all released columns but the pseudonym.
    """
    from ime_research.export import export

    study = _study(study_dir)
    if k < 2:
        raise click.BadParameter("k must be 2 or more", param_hint="--k")
    key = _pseudonym_key(load_key, save_key, out_dir)
    try:
        manifest_bytes = (Path(study_dir) / "study.json").read_bytes()
        with _pulled(study_dir) as db:
            summaries, withdrawn = db.load_summaries(), len(db.withdrawn())
        document = export(summaries, study.manifest, manifest_bytes, out_dir, formats=formats, k=k,
                          precision=precision, key=key, withdrawn=withdrawn)
    except (ResearchError, OSError) as exc:
        raise _fail(exc) from None
    click.echo(f"exported {document['rows_out']:,} of {document['rows_in']:,} summaries "
               f"({document['suppressed']:,} suppressed) from {document['participants']} participants "
               f"({document['withdrawn']} withdrawn) to {out_dir}, k = {k}")
    for name, change in document["anonymization"]["variables"].items():
        parts = [f"{n:,} rows to {p}" for p, n in change["generalised"].items()]
        parts += [f"{change['withheld']:,} values withheld"] if change["withheld"] else []
        if parts:
            click.echo(f"  {name}: {', '.join(parts)}")


@click.command("aggregate")
@click.argument("study_dir", type=_DIR)
@click.option("--epsilon", required=True, type=float, help="Privacy loss this release spends from the budget.")
@click.option("--by", default="day", show_default=True, type=click.Choice(["day", "week"]))
@click.option("--slot", default=None, help="Count the values of this slot instead of categories.")
@click.option("--max-per-period", default=10, show_default=True, type=int,
              help="Declared bound: summaries one participant may add to each period (more are sampled).")
@click.option("-o", "--output", "out_file", required=True, type=_KEY_FILE, help="A .json or .csv file.")
def aggregate_command(study_dir: Path, epsilon: float, by: str, slot: str | None, max_per_period: int,
                      out_file: Path) -> None:
    """Differentially private counts per category (or slot value) per period.

    The participant is the privacy unit. The release is recorded in the study's budget ledger; one that
    would exceed the study's total epsilon is refused and nothing is written.
    """
    from ime_research import dp

    study = _study(study_dir)
    query = dp.Query(by=by, slot=slot, max_per_period=max_per_period, epsilon=epsilon)
    try:
        with _pulled(study_dir) as db:
            result = dp.aggregate(db, study.manifest, float(study.dp_budget), query, out_file)
    except ResearchError as exc:
        raise _fail(exc) from None
    click.echo(f"released {len(result['counts']):,} noisy counts (epsilon {result['epsilon']:g}, noise scale "
               f"{result['noise_scale']:g}) to {out_file}; epsilon left: {result['remaining']:g} of "
               f"{float(study.dp_budget):g}")


@click.command("report")
@click.argument("study_dir", type=_DIR)
@click.option("-o", "--output", "out_file", required=True, type=_KEY_FILE, help="The HTML file to write.")
@click.option("--pseudonym-key", "load_key", type=_KEY_FILE,
              help="Show participants under the pseudonyms of a saved key (as in an export).")
def report_command(study_dir: Path, out_file: Path, load_key: Path | None) -> None:
    """One self-contained HTML page: intents, slots, participation, pipeline health, privacy budget."""
    from ime_research import report
    from ime_research.researchdb import ResearchDB

    study = _study(study_dir)
    key = _pseudonym_key(load_key, None)
    try:
        with ResearchDB.in_study(study_dir) as db:
            page = report.build(db, study.manifest, key=key, budget=float(study.dp_budget))
        Path(out_file).write_text(page, encoding="utf-8")
    except ResearchError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {out_file}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out_file}")
