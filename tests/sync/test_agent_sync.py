"""The running agent syncs on its own schedule and says so in the tray's status line."""

from __future__ import annotations

import httpx

from ime_agent import consent
from ime_agent.agent import Agent
from ime_agent.capture._scripted import ScriptedSource, typing
from ime_agent.config import load_config
from ime_agent.store import Store
from ime_agent.sync import enroll
from ime_agent.sync.job import sync_job_for
from studykit import feed, make_study, register, register_study
from xserver import wait_until


def test_typed_line_reaches_the_collector_through_the_agents_own_sync(served, tmp_path):
    url, process = served
    study = make_study(process.url)
    register_study(url, study)
    with httpx.Client(base_url=process.url, timeout=10) as http:
        code = register(http, study, 1)[0]
    config = load_config(data_dir=tmp_path / "profile")
    store = Store.open(config.data_dir, key_source="file")
    consent.grant(store, ["purchase"])
    enroll.join(store, study.manifest_bytes, study.manifest, code, ("purchase",))
    sources: list[ScriptedSource] = []

    def source():
        sources.append(ScriptedSource())
        return sources[-1]

    sync = sync_job_for(store, interval=0.5)
    agent = Agent(config, store, source_factory=source, extra_jobs=(sync.job,), sync_status=sync.describe)
    agent.start()
    try:
        wait_until(lambda: agent.capturing, what="capture")
        sources[0].play(typing("which robot vacuum should i buy under 300", app="firefox", gap=0.01))
        wait_until(lambda: store.studies()[0]["sent"] == 1, 20, what="the agent to sync the summary")
        wait_until(lambda: "last sync" in agent.status_line() and "1 sent to your study" in agent.status_line(),
                   what="the status line to say so")
    finally:
        agent.stop()
        store.close()
    with httpx.Client(base_url=process.url, timeout=10) as http:
        items, _ = feed(http, study)
    (batch,) = [i for i in items if i["kind"] == "batch"]
    from ime_wire.envelope import Upload

    (summary,) = study.open(Upload.from_dict(batch["upload"]))
    assert summary.intent == "purchase"
