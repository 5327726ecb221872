"""The report in a real browser: Debian's chromium driven by Playwright.

Every chart must render (an SVG of real size with drawn marks), the page must log
no error, load nothing (it is self-contained) and run no script. Screenshots go
to ``test-artifacts/``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

import research_standins
from research_standins import standins  # noqa: F401  (the fixture)
from ime_wire import manifest as wire_manifest
from ime_research import dp
from ime_research.cli import main
from ime_research.pull import pull
from ime_research.researchdb import ResearchDB
from researchkit import FeedStandIn, Participant, batch_item, random_summary, tombstone_item
from xserver import REQUIRED

pytestmark = pytest.mark.usefixtures("standins")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _missing(message: str):
    if REQUIRED:
        pytest.fail(f"CI requires the real browser test: {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is missing (pip install -e './research[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def populated_study(root: Path) -> Path:
    """Six participants over two weeks, a replay, a forged batch, a withdrawal and one DP release."""
    study_keys = research_standins.create_study(root)
    manifest = wire_manifest.load((root / "study.json").read_bytes())
    rng = random.Random(3)
    people = [Participant() for _ in range(6)]
    feed = FeedStandIn()
    for day in range(2, 16):
        for person in people[: 3 + day % 4]:
            summaries = [random_summary(rng, manifest, skew=2.5) for _ in range(rng.randrange(3, 15))]
            feed.add(batch_item(person, person.upload(manifest, summaries), received=f"2026-03-{day:02d}"))
    feed.add(feed.list[0])  # a replay
    forged = batch_item(people[0], people[0].upload(manifest, [random_summary(rng, manifest)]))
    forged["device_key"] = people[1].device_public
    feed.add(forged, tombstone_item(people[5]))
    with ResearchDB.in_study(root) as db:
        pull(db, feed, manifest, study_keys.hpke)
        dp.aggregate(db, manifest, 10.0, dp.Query("week", None, 10, 1.0), root / "weekly.json")
    return root


def open_report(browser, path: Path, name: str):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return page, problems, requests


def test_every_chart_renders_with_no_errors_and_nothing_loaded(browser, tmp_path):
    study_dir = populated_study(tmp_path / "study")
    result = CliRunner().invoke(main, ["report", str(study_dir), "-o", str(tmp_path / "report.html")])
    assert result.exit_code == 0, result.output
    page, problems, requests = open_report(browser, tmp_path / "report.html", "report")
    assert problems == []
    assert requests == [(tmp_path / "report.html").as_uri()]  # self-contained: nothing else is fetched

    charts = page.locator("figure.chart")
    names = [charts.nth(i).get_attribute("data-chart") for i in range(charts.count())]
    assert names[0] == "intents-per-day" and "participation" in names and "health" in names
    assert {n for n in names if n.startswith("slot-")} == {
        f"slot-{s}" for s in ("product", "price_band", "destination", "trip_length", "party", "concern", "who")}
    for i, name in enumerate(names):
        figure = charts.nth(i)
        box = figure.locator("svg").first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 150, name
        marks = figure.locator("svg .series rect, svg .series circle, svg .series path").count()
        assert marks > 0, f"chart {name} drew nothing"
        figure.screenshot(path=str(ARTIFACTS / f"report-{name}.png"))
    assert page.evaluate("document.scripts.length") == 0

    text = page.inner_text("body")
    assert "bad signatures" in text and "Privacy budget" in text
    rows = page.locator("#participation tbody tr")
    assert rows.count() == 5  # the sixth withdrew: nothing of theirs is left
    page.close()


def test_a_study_without_data_still_gives_a_clean_page(browser, tmp_path):
    research_standins.create_study(tmp_path / "study")
    result = CliRunner().invoke(main, ["report", str(tmp_path / "study"), "-o", str(tmp_path / "empty.html")])
    assert result.exit_code == 0, result.output
    page, problems, _ = open_report(browser, tmp_path / "empty.html", "report-empty")
    assert problems == []
    assert page.locator("figure.chart svg").count() >= 3
    assert "no data yet" in page.inner_text("body")
    page.close()
