"""The report in a real browser: Debian's Chromium, driven by Playwright, opening index.html from disk.

A real offline run with a `<script>` planted in one instruction and an `<img onerror>` in a rationale;
the page must show both as text, run neither, load its plots and thumbnails, filter, page and sort,
and log no error. No browser is downloaded: Chromium comes from Debian (`apt-get install chromium`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from editforge.report import build_report
from test_report import load_js, make_run

PLANTED = "<script>window.__pwned=1</script> make it warmer"
PLANTED_IMG = '<img src=x onerror="window.__pwned=2"> the edit looks fine'
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _chromium() -> str:
    for path in ("/usr/bin/chromium", shutil.which("chromium")):
        if path and Path(path).exists():
            return path
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(
            "apt-get update -qq && apt-get install -y -qq chromium", shell=True, capture_output=True, timeout=900
        )
        if Path("/usr/bin/chromium").exists():
            return "/usr/bin/chromium"
    pytest.skip("Chromium is missing and could not be installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, small_photos: dict[str, np.ndarray]):
    run = make_run(tmp_path_factory.mktemp("browser"), small_photos)
    db = sqlite3.connect(run / "ledger.sqlite")
    first = db.execute("SELECT task_id FROM tasks ORDER BY seq LIMIT 1").fetchone()[0]  # gallery row 0
    db.execute(
        "UPDATE instructions SET json = json_set(json, '$.text', ?) WHERE task_id = ? AND kind = 'long'",
        (PLANTED, first),
    )
    db.execute("UPDATE verdicts SET json = json_set(json, '$.rationale', ?) WHERE task_id = ?", (PLANTED_IMG, first))
    db.commit()
    db.close()
    return build_report(run_dir=run, page_size=5)


class Page:
    """One tab on the report, recording every console error and page error."""

    def __init__(self, browser, url: str) -> None:  # noqa: ANN001
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.goto(url)
        self.page.wait_for_selector("body[data-rendered]")

    def act(self, action) -> None:  # noqa: ANN001
        """Do something that re-renders the gallery and wait until it has."""
        before = int(self.page.evaluate("Number(document.body.dataset.rendered)"))
        action()
        # a function, not an expression: the page's CSP forbids eval, which an expression would need
        self.page.wait_for_function("n => Number(document.body.dataset.rendered) > n", arg=before)

    def cards(self) -> list[dict]:
        return self.page.eval_on_selector_all(
            "#cards .card",
            """els => els.map(e => ({id: Number(e.dataset.id), score: e.dataset.score, cls: e.className,
                cat: e.querySelector('.cat').textContent, type: e.querySelector('.type').textContent}))""",
        )

    def option(self, facet: str, starts: str) -> tuple[str, int]:
        options = self.page.eval_on_selector_all(f"#f-{facet} option", "os => os.map(o => [o.value, o.textContent])")
        value, text = next((v, t) for v, t in options if v and t.startswith(starts))
        return value, int(text.rsplit("(", 1)[1].rstrip(")"))

    def info(self) -> str:
        return self.page.locator(".page-info").first.text_content()

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def tab(report, browser):  # noqa: ANN001 - the run first: playwright holds an event loop
    page = Page(browser, report.index_html.as_uri())
    yield page
    page.close()
    assert page.errors == [], "the report logged errors"


def test_plots_images_and_planted_text(tab: Page, report) -> None:  # noqa: ANN001
    page = tab.page
    page.wait_for_function("() => Array.from(document.querySelectorAll('#plots img')).every(i => i.complete)")
    widths = page.eval_on_selector_all("#plots img", "els => els.map(e => e.naturalWidth)")
    assert len(widths) == len(report.plots) >= 5 and all(w > 0 for w in widths)
    first = page.locator('.card[data-id="0"]')
    first.scroll_into_view_if_needed()
    page.wait_for_function(
        """() => { const imgs = document.querySelectorAll('.card[data-id="0"] img');
                   return imgs.length >= 2 && Array.from(imgs).every(i => i.complete && i.naturalWidth > 0); }"""
    )
    long = first.locator(".instr.long .text")
    assert long.text_content() == PLANTED and long.is_visible()
    assert page.get_by_text(PLANTED_IMG).first.is_visible()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#cards script").count() == 0 and page.locator('#cards img[src="x"]').count() == 0
    assert len(tab.cards()) == 5


def test_filters_change_the_rows(tab: Page, report) -> None:  # noqa: ANN001
    total = report.gallery.rows
    assert tab.info().startswith(f"{total} of {total} rows")
    value, n = tab.option("status", "failed")
    tab.act(lambda: tab.page.select_option("#f-status", value))
    cards = tab.cards()
    assert 0 < len(cards) == min(n, 5) and all("failed" in c["cls"] for c in cards)
    assert tab.info().startswith(f"{n} of {total} rows")
    tab.act(lambda: tab.page.select_option("#f-status", ""))
    value, n = tab.option("category", "Stylistic")
    tab.act(lambda: tab.page.select_option("#f-category", value))
    cards = tab.cards()
    assert len(cards) == min(n, 5) and all("Stylistic" in c["cat"] for c in cards)
    assert tab.info().startswith(f"{n} of {total} rows")
    tab.act(lambda: tab.page.select_option("#f-category", ""))
    key = next(k for k, c in report.gallery.facets["type"].items() if c >= 2)
    value, n = tab.option("type", key)
    tab.act(lambda: tab.page.select_option("#f-type", value))
    cards = tab.cards()
    assert len(cards) == min(n, 5) and all(key in c["type"] for c in cards) and n < total
    value, n = tab.option("subset", "multi-turn")
    tab.act(lambda: tab.page.select_option("#f-type", ""))
    tab.act(lambda: tab.page.select_option("#f-subset", value))
    assert len(tab.cards()) == min(n, 5) and tab.page.locator("#cards .turn h4").count() >= 2 * min(n, 5)


def test_paging(tab: Page, report) -> None:  # noqa: ANN001
    assert [c["id"] for c in tab.cards()] == [0, 1, 2, 3, 4]
    tab.act(lambda: tab.page.locator(".next").first.click())
    assert [c["id"] for c in tab.cards()] == [5, 6, 7, 8, 9]
    assert "page 2 of" in tab.info()
    tab.act(lambda: tab.page.keyboard.press("ArrowRight"))
    assert tab.cards()[0]["id"] == 10
    tab.act(lambda: tab.page.locator(".prev").first.click())
    assert tab.cards()[0]["id"] == 5


def test_sorting_by_score(tab: Page, report) -> None:  # noqa: ANN001
    scores = [s for s in load_js(report.report_dir / "data" / "keys.js")["score"] if s is not None]
    tab.act(lambda: tab.page.select_option("#f-sort", "score-desc"))
    desc = [float(c["score"]) for c in tab.cards() if c["score"]]
    assert desc == sorted(desc, reverse=True) and desc[0] == max(scores)
    tab.act(lambda: tab.page.select_option("#f-sort", "score-asc"))
    asc = [float(c["score"]) for c in tab.cards() if c["score"]]
    assert asc == sorted(asc) and asc[0] == min(scores)
    tab.act(lambda: tab.page.locator(".next").first.click())
    more = [float(c["score"]) for c in tab.cards() if c["score"]]
    assert more and more[0] >= asc[-1]


def test_labelling_marks_persist_and_download_as_calibration_labels(tab: Page, report, tmp_path: Path) -> None:  # noqa: ANN001
    from editforge.calibrate.labels import read_labels

    page = tab.page
    turns = page.locator("#cards .turn.labellable")
    assert turns.count() >= 3
    turns.nth(0).locator(".instr.long").click()
    page.keyboard.press("g")  # good, and the next turn becomes current
    page.keyboard.press("b")
    page.keyboard.press("j")
    page.keyboard.press("k")  # back onto the third turn
    turns.nth(2).locator(".mark button[data-label=fail]").click()
    turns.nth(2).locator(".mark input").fill("the sky got a seam")
    turns.nth(2).locator(".mark input").press("Tab")
    marks = page.eval_on_selector_all("#cards .turn.labellable", "els => els.slice(0, 3).map(e => e.dataset.mark)")
    assert marks == ["pass", "fail", "fail"]
    assert page.locator("#labelbar .count").text_content() == "3 marked (1 good, 2 bad)"
    page.reload()  # marks live in the browser: a reload keeps them
    page.wait_for_selector("body[data-rendered]")
    assert page.locator("#labelbar .count").text_content() == "3 marked (1 good, 2 bad)"
    page.locator("#labelbar .rater").fill("ann")
    page.locator("#labelbar .rater").press("Tab")
    with page.expect_download() as download:
        page.locator("#labelbar .download").click()
    path = tmp_path / "labels.jsonl"
    download.value.save_as(path)
    rows, problems = read_labels(path, root=report.report_dir)
    assert problems == [] and len(rows) == 3
    assert sorted(r.label for r in rows) == ["fail", "fail", "pass"] and {r.rater for r in rows} == {"ann"}
    assert [r.note for r in rows if r.note] == ["the sky got a seam"]
    assert all(r.source.is_file() and r.edited.is_file() for r in rows)


def test_cards_show_the_photos_file_name_whole(tab: Page, report) -> None:  # noqa: ANN001
    page = tab.page
    page.set_viewport_size({"width": 420, "height": 900})  # a phone: the long temp-dir path cannot fit
    shown = page.eval_on_selector_all(
        "#cards .card .source",
        """els => els.map(e => { const f = e.querySelector('.file'), d = e.querySelector('.dir');
            return {file: f.textContent, whole: f.scrollWidth <= f.clientWidth + 1,
                    cut: d.scrollWidth > d.clientWidth + 1, title: e.title}; })""",
    )
    assert shown and all(s["file"].endswith(".png") and "/" not in s["file"] and s["whole"] for s in shown), shown
    assert all(s["title"].endswith(s["file"]) or s["file"] in s["title"] for s in shown)
    assert any(s["cut"] for s in shown), "the test should make the folder too long to show"
