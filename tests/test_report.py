"""`editforge report`: its stats match the ledger, its paged index is complete, its text is escaped,
its thumbnails are made once, and it reads Pico-Banana-400K manifests."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from editforge import pipeline
from editforge.cli import app
from editforge.config import build_config
from editforge.records import ModelRef, Usage
from editforge.report import build_report, plots
from editforge.report.data import Stats, paper_category_rate, run_stats
from editforge.report.gallery import GalleryIndex
from editforge.report.html import write_html
from editforge.store.ledger import Ledger

THRESHOLD = 0.72  # not the default, so a plot that hard-codes 0.7 would be caught


def make_run(root: Path, photos: dict[str, np.ndarray]) -> Path:
    """A real offline run on a few small photos: single-turn examples, preference pairs, sessions."""
    folder = root / "photos"
    folder.mkdir(parents=True)
    for name, image in photos.items():
        Image.fromarray(image).save(folder / f"{name}.png")
    config = build_config(
        {
            "out": root / "run",
            "images": folder,
            "per_photo": 4,
            "workers": 2,
            "seed": 0,
            "max_attempts": 2,
            "threshold": THRESHOLD,
            "targets": {"multi_turn": 3},
        },
        {},
    )
    pipeline.run(config, quiet=True)
    return root / "run"


def load_js(path: Path) -> object:
    """The value a report data file assigns: `window.X = <json>;`."""
    text = path.read_text(encoding="ascii")
    return json.loads(text[text.index("=") + 1 :].strip().rstrip(";"))


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, small_photos: dict[str, np.ndarray]) -> Path:
    return make_run(tmp_path_factory.mktemp("report"), small_photos)


@pytest.fixture(scope="module")
def report(run: Path, tmp_path_factory: pytest.TempPathFactory):
    return build_report(run_dir=run, out=tmp_path_factory.mktemp("r") / "report", page_size=5)


def test_pass_rates_and_scores_match_the_ledger(run: Path, report) -> None:
    stats = report.stats
    db = sqlite3.connect(run / "ledger.sqlite")
    rows = db.execute("SELECT edit_type, status, COUNT(*) FROM tasks GROUP BY 1, 2").fetchall()
    for key, status, n in rows:
        assert stats.type_status[key][status] == n
    for key in {r[0] for r in rows}:
        passed = sum(n for k, s, n in rows if k == key and s == "passed")
        failed = sum(n for k, s, n in rows if k == key and s == "failed")
        assert stats.pass_rate(key) == (passed / (passed + failed) if passed + failed else None)
    verdicts = [json.loads(js) for (js,) in db.execute("SELECT json FROM verdicts")]
    scored = [v for v in verdicts if v["status"] == "scored"]
    assert stats.scored == len(scored) > 0
    assert all(int(h.sum()) == len(scored) for h in stats.histograms.values())  # every attempt, kept or not
    assert stats.threshold == THRESHOLD
    above = stats.histograms["score"][int(round(THRESHOLD * 50)) :].sum()
    assert above == sum(1 for v in scored if v["passed"])  # the bins split exactly at the threshold
    attempts = db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    assert sum(n * k for c in stats.attempts_per_task.values() for n, k in c.items()) == attempts
    sessions = db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    assert sum(stats.turns_per_session.values()) == sessions > 0
    db.close()


def test_paper_category_rates_are_count_weighted() -> None:
    # Object-Level Semantic: remove 0.8328 (15111), replace 0.8348 (14549), relocate 0.5923 (6612), size 0.6627 (10787)
    expected = (0.8328 * 15111 + 0.8348 * 14549 + 0.5923 * 6612 + 0.6627 * 10787) / (15111 + 14549 + 6612 + 10787)
    assert paper_category_rate("Object-Level Semantic") == pytest.approx(expected)
    assert paper_category_rate("Scale") is None  # no rate known for zoom-in


def test_score_plot_marks_the_threshold(report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, out, name: figures.append(fig) or f"plots/{name}")
    assert plots.score_distributions(report.stats, tmp_path) is not None
    weighted = figures[0].axes[-1]
    lines = [line.get_xdata() for line in weighted.get_lines()]
    assert [THRESHOLD, THRESHOLD] in [list(x) for x in lines]
    assert {p.file for p in report.plots} >= {
        "plots/pass_rate_by_type.png",
        "plots/pass_rate_by_category.png",
        "plots/scores.png",
        "plots/attempts.png",
        "plots/turns.png",
        "plots/labels.png",
    }
    for plot in report.plots:
        assert Image.open(report.report_dir / plot.file).size[0] > 100


def test_cost_per_kept_example(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("report"))
    with Ledger(copy / "ledger.sqlite") as ledger:
        tasks = list(ledger.tasks())
        ref = ModelRef(provider="gemini", model="gemini-2.5-flash-image")
        for i, task in enumerate(tasks):
            ledger.add_call("editor", ref, task.task_id, Usage(images=1, cost_usd=0.039 * (1 + i % 3)), 1.0)
        spent = sum(0.039 * (1 + i % 3) for i in range(len(tasks)))
        stats = run_stats(ledger, "x")
    db = sqlite3.connect(copy / "ledger.sqlite")
    kept = db.execute("SELECT COUNT(*) FROM tasks WHERE status = 'passed'").fetchone()[0]
    db.close()
    assert stats.spent_usd == pytest.approx(spent)
    assert stats.kept() == kept
    assert stats.cost_per_kept() == pytest.approx(spent / kept)
    result = build_report(run_dir=copy)
    assert "plots/cost.png" in {p.file for p in result.plots}
    html = result.index_html.read_text()
    assert f"${spent / kept:.4f}" in html and "per kept example" in html


def test_paged_index_counts_pages_and_facets(run: Path, report) -> None:
    rdir = report.report_dir
    sft, pref, multi = (jsonl(run / f"{n}.jsonl") for n in ("sft", "preference", "multi-turn"))
    db = sqlite3.connect(run / "ledger.sqlite")
    not_passed = db.execute("SELECT COUNT(*) FROM tasks WHERE status IN ('failed', 'error')").fetchone()[0]
    db.close()
    summary = load_js(rdir / "data" / "summary.js")
    counts = summary["counts"]
    assert counts["subset"].get("sft", 0) == len(sft)
    assert counts["subset"].get("preference", 0) == len(pref)
    assert counts["subset"].get("multi_turn", 0) == len(multi) > 0
    assert counts["subset"].get("failed", 0) == not_passed
    total = len(sft) + len(multi) + not_passed  # a preference row is its SFT row's task: one gallery row
    assert summary["rows"] == report.gallery.rows == total
    assert summary["page_size"] == 5 and summary["pages"] == math.ceil(total / 5)
    pages = sorted((rdir / "pages").glob("page-*.js"))
    assert len(pages) == summary["pages"]
    rows = []
    for number, page in enumerate(pages, start=1):
        assert page.read_text().startswith(f"window.EF_PAGES[{number}] = ")
        data = load_js(page)
        assert len(data) == (5 if number < len(pages) else total - 5 * (len(pages) - 1))
        rows += data
    assert [r["id"] for r in rows] == list(range(total))
    keys = load_js(rdir / "data" / "keys.js")
    assert all(len(column) == total for column in keys.values())
    statuses = summary["statuses"]
    assert sum(1 for s in keys["st"] if statuses[s] == "passed") == counts["status"]["passed"]
    sessions = [r for r in rows if "multi_turn" in r["subsets"]]
    assert all(len(r["turns"]) >= 2 for r in sessions)
    preference = [r for r in rows if "preference" in r["subsets"]]
    assert all(any(a["role"] == "rejected" for a in r["turns"][0]["attempts"]) for r in preference)
    for row in rows:  # every image is a thumbnail in the report, linked to its full-size original
        for turn in row["turns"]:
            for image in [turn["input"], *(a["img"] for a in turn["attempts"] if a["img"])]:
                assert (rdir / image["thumb"]).is_file()
                assert (rdir / image["full"]).resolve().is_file()


def test_thumbnails_are_made_once(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    first = build_report(run_dir=run, out=out)
    thumbs = sorted(out.glob("thumbs/*/*.webp"))
    assert first.thumbs_made == len(thumbs) > 0 and first.thumbs_failed == 0
    with Image.open(thumbs[0]) as im:
        assert im.format == "WEBP" and max(im.size) <= 256
    mtimes = {p: p.stat().st_mtime_ns for p in thumbs}
    second = build_report(run_dir=run, out=out)
    assert second.thumbs_made == 0 and second.thumbs_kept == len(thumbs)
    assert {p: p.stat().st_mtime_ns for p in thumbs} == mtimes


def test_html_escapes_every_text(tmp_path: Path) -> None:
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    stats = Stats(title=evil, mode="run", notes=[evil])
    index = GalleryIndex(facets={k: {} for k in ("category", "type", "status", "subset", "label")})
    summary = {"counts": {k: {} for k in index.facets}, "categories": [], "types": [], "statuses": [],
               "subsets": [], "labels": []}  # fmt: skip
    html = write_html(tmp_path, stats, index, [plots.Plot("plots/x.png", evil, evil)], summary).read_text()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    script = (tmp_path / "static" / "gallery.js").read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script


def _manifests(root: Path) -> tuple[list[Path], Path]:
    images = root / "pico"
    for i, color in enumerate(("red", "green", "blue", "orange", "purple", "gray")):
        path = images / "images" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (640, 480), color).save(path)
    sft = [
        {"open_image_input_url": "https://farm1.staticflickr.com/1/0.jpg", "text": "<b>Make</b> it warmer",
         "output_image": "images/1.png", "edit_type": "Change overall color tone (warm ↔ cool)",
         "summarized_text": "warmer"},
        {"open_image_input_url": "images/0.png", "text": "Add a cat on the sofa", "output_image": "images/2.png",
         "edit_type": "Add a new object to the scene", "summarized_text": "add a cat"},
    ]  # fmt: skip
    pref = [{**sft[1], "output_image": "images/3.png", "rejected_images": ["images/4.png", "javascript:alert(1)"]}]
    files = [("original_input_image", "images/0.png"), ("edit_turn1", "images/1.png"), ("final_image", "images/5.png")]
    multi = [
        {
            "files": [{"id": i, "url": u} for i, u in files],
            "metadata_edit_turn_prompts": ["add a hat to the man", "make it blue"],
        }
    ]
    paths = []
    for name, rows in (("sft", sft), ("preference", pref), ("multi-turn", multi)):
        paths.append(root / f"{name}.jsonl")
        paths[-1].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return paths, images


def test_picobanana_manifest_with_local_images(tmp_path: Path) -> None:
    paths, images = _manifests(tmp_path)
    result = build_report(manifests=paths, images=images, out=tmp_path / "out", page_size=2)
    assert result.gallery.rows == 4 and result.gallery.pages == 2
    assert dict(result.gallery.facets["subset"]) == {"sft": 2, "preference": 1, "multi_turn": 1}
    assert result.stats.type_status["color_tone"]["passed"] == 1
    assert result.stats.type_status["add_object"]["passed"] == 2
    assert result.stats.turns_per_session == {2: 1}
    files = {p.file for p in result.plots}
    assert "plots/type_counts.png" in files and "plots/scores.png" not in files
    assert not any("pass_rate" in f for f in files)  # the release has no failed tasks, no scores
    assert result.thumbs_made == 6  # images 0..5; the Flickr URL is not local
    html = result.index_html.read_text()
    assert "no judge scores" in html
    rows = load_js(tmp_path / "out" / "pages" / "page-0001.js") + load_js(tmp_path / "out" / "pages" / "page-0002.js")
    assert rows[0]["turns"][0]["input"] == {"thumb": "https://farm1.staticflickr.com/1/0.jpg",
                                            "full": "https://farm1.staticflickr.com/1/0.jpg"}  # fmt: skip
    assert rows[0]["turns"][0]["long"] == "<b>Make</b> it warmer"  # data stays data; the page sets textContent
    rejected = [a["img"] for a in rows[2]["turns"][0]["attempts"] if a["role"] == "rejected"]
    assert rejected[0]["thumb"].startswith("thumbs/") and "thumb" not in rejected[1]  # no javascript: link
    assert [len(r["turns"]) for r in rows] == [1, 1, 1, 2]
    assert rows[3]["turns"][1]["long"] == "make it blue" and "people" in rows[3]["labels"]


def test_picobanana_manifest_without_images_links_urls(tmp_path: Path) -> None:
    paths, _ = _manifests(tmp_path)
    result = build_report(manifests=paths[:1], base_url="https://example.org/pico/", out=tmp_path / "out")
    assert result.thumbs_made == 0 and not (tmp_path / "out" / "thumbs").exists()
    rows = load_js(tmp_path / "out" / "pages" / "page-0001.js")
    assert rows[1]["turns"][0]["attempts"][0]["img"]["full"] == "https://example.org/pico/images/2.png"


def test_cli_report(run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "rep"), "--page-size", "7"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rep" / "index.html").is_file() and "gallery rows" in result.output
    paths, images = _manifests(tmp_path)
    result = runner.invoke(app, ["report", "--picobanana", str(paths[0]), "--images", str(images)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "index.html").is_file()
    assert runner.invoke(app, ["report"]).exit_code == 2
    assert runner.invoke(app, ["report", str(tmp_path / "nothing")]).exit_code == 2


def test_an_image_missing_from_the_store_is_named_not_broken(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("report"))
    edit = jsonl(copy / "sft.jsonl")[0]["output_image"]
    (copy / edit).unlink()
    result = build_report(run_dir=copy, page_size=500)
    assert result.thumbs_failed == 0
    rows = load_js(result.report_dir / "pages" / "page-0001.js")
    images = [a["img"] for r in rows for t in r["turns"] for a in t["attempts"] if a["img"]]
    assert {"missing": Path(edit).name} in images


def test_manifest_paths_cannot_escape_the_images_folder(tmp_path: Path) -> None:
    from editforge.report.manifest import ImageResolver

    images = tmp_path / "images"
    images.mkdir()
    (images / "ok.png").write_bytes(b"x")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"x")
    (images / "link.png").symlink_to(secret)
    resolve = ImageResolver(images, None)
    assert resolve("ok.png") == {"path": str((images / "ok.png").resolve())}
    for ref in ("../secret.png", str(secret), "link.png", "a/../../secret.png"):
        assert "refused" in resolve(ref)["missing"], ref


def _bomb_png(path: Path, width: int = 30000, height: int = 20000) -> None:
    """A tiny PNG file that declares 600 Mpx: PIL refuses it (DecompressionBombError) on open."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(
        b"IEND", b""))  # fmt: skip


def test_a_decompression_bomb_in_a_picobanana_folder_becomes_a_placeholder(tmp_path: Path) -> None:
    paths, images = _manifests(tmp_path)
    _bomb_png(images / "images" / "2.png")
    with pytest.raises(Image.DecompressionBombError):
        Image.open(images / "images" / "2.png")  # the file really is one
    result = build_report(manifests=paths, images=images, out=tmp_path / "out", page_size=2)
    assert result.gallery.rows == 4 and result.thumbs_failed == 1 and result.thumbs_made == 5
    thumbs = sorted((tmp_path / "out" / "thumbs").rglob("*.webp"))
    assert len(thumbs) == 6 and all(Image.open(t).size[0] == 256 for t in thumbs)  # the bad one: a grey card


def test_no_legend_covers_a_bar_or_its_label(report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, out, name: figures.append((name, fig)) or f"plots/{name}")
    for make in (plots.pass_rate_by_type, plots.pass_rate_by_category, plots.attempts_per_task):
        make(report.stats, tmp_path)
    plots.label_counts(report.stats, report.gallery, tmp_path)
    legends = 0
    for name, fig in figures:
        fig.tight_layout()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is None:
                continue
            legends += 1
            box = legend.get_window_extent(renderer)
            for artist in [*ax.texts, *ax.patches]:
                other = artist.get_window_extent(renderer)
                assert not box.overlaps(other), f"{name}: the legend covers {artist}"
    assert legends >= 2


def test_picobanana_bad_rows_are_named_by_line_counted_and_the_report_renders(tmp_path: Path) -> None:
    paths, images = _manifests(tmp_path)
    good = json.loads(paths[0].read_text().splitlines()[1])
    lost = {**good, "open_image_input_url": "images/not-there.png"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(good) + "\n"
        + '{"open_image_input_url": "images/0.png", "text": "cut short\n'  # line 2: not JSON
        + json.dumps({k: v for k, v in good.items() if k != "output_image"}) + "\n"  # line 3: a key missing
        + "\n"  # blank lines are no rows
        + "[1, 2]\n"  # line 5: JSON, not a row
        + json.dumps(lost) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    result = CliRunner().invoke(
        app, ["report", "--picobanana", str(bad), "--images", str(images), "--out", str(tmp_path / "r")],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Traceback" not in text
    assert "bad.jsonl:2: not JSON" in text
    assert "bad.jsonl:3: a sft row without output_image" in text
    assert "bad.jsonl:5: not a JSON object but a list" in text
    text = text.replace("│ ", "")
    assert "rows skipped (unreadable) 3" in text and "images not found 1" in text, text
    assert "gallery rows 2 (1 page of 200)" in text
    html = (tmp_path / "r" / "index.html").read_text()
    assert "3 rows skipped" in html and "1 images not found" in html
