"""``ime-agent study join|status|preview|leave`` and ``ime-agent sync``: thin commands over
:mod:`ime_agent.sync`."""

from __future__ import annotations

import json

import click

from ime_agent.cli.data import _exists, _interactive, _open, profile_config
from ime_agent.errors import BadInput, StudyError, SyncError
from ime_agent.sync import enroll, outbox
from ime_agent.sync.job import sync_once, withdraw


def _pick(store, study_id: str | None) -> outbox.Study:
    joined = outbox.studies(store)
    if study_id is not None:
        for study in joined:
            if study.study_id == study_id:
                return study
        raise StudyError(f"this profile is not in study {study_id}; see `ime-agent study status`")
    if not joined:
        raise StudyError("this profile is in no study; join one with `ime-agent study join MANIFEST --code CODE`")
    if len(joined) > 1:
        raise BadInput("this profile is in several studies: say which with --study ID (see `ime-agent study status`)")
    return joined[0]


study_option = click.option("--study", "study_id", metavar="ID", help="The study, when the profile is in several.")


@click.group(name="study")
def study_group() -> None:
    """Take part in a study: join with a code, see what is sent, leave."""


@study_group.command(name="join")
@click.argument("manifest")
@click.option("--code", required=True, help="The single-use join code the study gave you (XXXXX-XXXXX-XXXXX).")
@click.option("--category", "categories", multiple=True, metavar="C",
              help="Share only these (purchase, travel, health; repeatable). Default: what the study asks for "
                   "and you consented to here, health only when named.")
@click.option("--yes", is_flag=True, help="Join without being asked (you have read the study's information).")
@click.pass_context
def join(ctx: click.Context, manifest: str, code: str, categories: tuple[str, ...], yes: bool) -> None:
    """Join the study described by MANIFEST (its study.json, a file or an https URL)."""
    config = profile_config(ctx)
    with _open(config) as store:
        data, parsed = enroll.read_manifest(manifest, store.now())  # before the code is used
        chosen = enroll.shareable(store, parsed, categories)
        if not yes:
            if not _interactive():
                raise BadInput("not asking without a terminal: read the study's information, then run the "
                               "same command with --yes")
            click.echo(enroll.describe(parsed))
            click.echo("")
            asked = tuple(c for c in chosen
                          if click.confirm(f"Share summaries about {c} with this study?", default=True))
            if not asked:
                click.echo("Nothing chosen: not joined.")
                return
            chosen = asked
        joined = enroll.join(store, data, parsed, code, chosen)
    click.echo(f"joined {parsed.title!r} (enrollment {joined.enrollment_id}); sharing {', '.join(joined.categories)}; "
               f"signing key {parsed.fingerprint}")


@study_group.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per study.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The studies this profile is in, what waits to be sent and what was sent."""
    config = profile_config(ctx)
    rows = []
    if _exists(config):
        with _open(config, unlock=False) as store:
            for study in outbox.studies(store):
                counts = store.outbox_counts(study.study_id)
                rows.append({
                    "study_id": study.study_id, "title": study.manifest.title,
                    "enrollment_id": study.enrollment_id, "categories": list(study.categories),
                    "collector": study.manifest.collector_url,
                    "pending": sum(counts.values()), "held": counts.get("held", 0),
                    "sent": study.sent, "last_sync": study.last_sync_at,
                    "last_sync_outcome": study.last_sync_outcome,
                    "review_hold_seconds": study.manifest.review_hold_seconds,
                })
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return
    if not rows:
        click.echo("in no study (join one with `ime-agent study join MANIFEST --code CODE`)")
        return
    for row in rows:
        click.echo("\n".join([
            f"study:      {row['title']} ({row['study_id']})",
            f"enrollment: {row['enrollment_id']}",
            f"sharing:    {', '.join(row['categories'])}",
            f"collector:  {row['collector']}",
            f"pending:    {row['pending']} summaries ({row['held']} still in review)",
            f"sent:       {row['sent']} summaries acknowledged by the collector",
            f"last sync:  {row['last_sync'] or 'never'}"
            + (f" ({row['last_sync_outcome']})" if row["last_sync_outcome"] else ""),
        ]))


@study_group.command(name="preview")
@click.option("--json", "as_json", is_flag=True, help="The next upload as one JSON object.")
@study_option
@click.pass_context
def preview(ctx: click.Context, as_json: bool, study_id: str | None) -> None:
    """Exactly what the next upload holds (decoded) and its SHA-256; nothing is sent."""
    with _open(profile_config(ctx)) as store:
        study = _pick(store, study_id)
        shown = outbox.preview(store, study, store.now())
    if as_json:
        click.echo(json.dumps({"study_id": shown.study_id, "sha256": shown.sha256, "frozen": shown.frozen,
                               "summaries": shown.summaries,
                               "held": [{"id": sid, "due": due} for sid, due in shown.held]},
                              ensure_ascii=False, sort_keys=True))
        return
    if not shown.summaries:
        click.echo("the next upload is empty: nothing is due yet")
    else:
        state = "sealed: these exact bytes go next" if shown.frozen else "due: sealed at the next sync"
        click.echo(f"next upload ({len(shown.summaries)} summaries, {state}), SHA-256 {shown.sha256}:")
        for summary in shown.summaries:
            click.echo("  " + json.dumps(summary, ensure_ascii=False, sort_keys=True))
    if shown.held:
        click.echo(f"in review, not sent yet: {len(shown.held)} summaries (the first is due {shown.held[0][1]})")


@study_group.command(name="leave")
@click.option("--yes", is_flag=True, help="Leave without being asked.")
@study_option
@click.pass_context
def leave(ctx: click.Context, yes: bool, study_id: str | None) -> None:
    """Leave the study: nothing more is sent, and the collector deletes what it holds from you."""
    with _open(profile_config(ctx)) as store:
        study = _pick(store, study_id)
        if not yes:
            if not _interactive():
                raise BadInput("not asking without a terminal: run `ime-agent study leave --yes`")
            if not click.confirm(f"Leave {study.manifest.title!r}? The collector deletes what it holds from you.",
                                 default=False):
                click.echo("still in the study")
                return
        dropped = store.leave_study(study.study_id)
        row = next(r for r in store.studies(active=False) if r["study_id"] == study.study_id)
        click.echo(f"left {study.manifest.title!r}: nothing more is sent; {dropped} unsent summaries dropped")
        try:
            deleted = withdraw(store, row)
        except SyncError as exc:
            raise SyncError(f"{exc}. The withdrawal is kept and sent again by `ime-agent sync` and the agent "
                            "until the collector confirms it") from None
    click.echo(f"the collector deleted what it held from you ({deleted} batches)")


@click.command(name="sync")
@click.pass_context
def sync(ctx: click.Context) -> None:
    """Upload everything due now to your studies' collectors, and say what was sent."""
    config = profile_config(ctx)
    if not _exists(config):
        click.echo("in no study: nothing to send")
        return
    with _open(config) as store:
        report = sync_once(store, everything_due=True)
    if not report.studies and not report.withdrawals and not report.errors:
        click.echo("in no study: nothing to send")
    for done in report.withdrawals:
        click.echo(f"withdrawal from study {done} confirmed by the collector")
    for study in report.studies:
        click.echo(f"{study.title}: sent {study.sent} summaries in {study.batches} batches"
                   + (f" ({study.duplicates} already there)" if study.duplicates else "")
                   + f"; {study.pending} still on this device")
    problems = [*report.errors, *(f"{s.title}: {s.error}" for s in report.studies if s.error)]
    if problems:
        for problem in problems[:-1]:
            click.echo(f"Error: {problem}", err=True)
        raise SyncError(problems[-1])


def register(group: click.Group) -> None:
    group.add_command(study_group)
    group.add_command(sync)
