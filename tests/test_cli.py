"""The command line, end to end, through the real offline providers."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from editforge import taxonomy
from editforge.cli import app
from editforge.export.picobanana import PREFERENCE_KEYS, SFT_KEYS

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_help_shows_examples() -> None:
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "editforge run --images" in result.output


def test_taxonomy_lists_35_types_whole_and_marks_what_offline_can_do() -> None:
    from editforge.models.registry import build_role

    result = runner.invoke(app, ["taxonomy"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "person_lineart" in result.output and "Spatial/Layout" in result.output
    wide = runner.invoke(app, ["taxonomy"], env={"COLUMNS": "200"})
    assert "Outpainting" in wide.output
    offline = set(build_role("editor", "offline").supported_types) & set(build_role("judge", "offline").supported_types)
    offline &= set(build_role("writer", "offline").supported_types)
    for t in taxonomy.all_types():  # each key whole, on a row marked as the offline models allow
        line = next(line for line in result.output.splitlines() if re.search(rf"\b{t.key}\b", line))
        assert ("✓" in line.split(t.key, 1)[1].split("│")[1]) == (t.key in offline), line
    assert f"offline: {len(offline)} of 35 types" in result.output


def test_run_on_a_folder_writes_release_schema_rows(tmp_path: Path, photo_dir: Path) -> None:
    (photo_dir / "notes.txt").write_text("not a photo, ignored")
    (photo_dir / "broken.jpg").write_bytes(b"<html>saved page</html>")
    out = tmp_path / "run"
    result = invoke(
        "run", "--images", photo_dir, "--out", out, "--per-photo", 3, "--seed", 1, "--workers", 2, "--quiet"
    )
    assert result.exit_code == 0, result.output
    sft, pref = rows(out / "sft.jsonl"), rows(out / "preference.jsonl")
    assert sft, "a run on real photos should keep some edits"
    for row in sft:
        assert tuple(row) == SFT_KEYS
        assert (out / row["output_image"]).is_file()
        assert taxonomy.get(row["edit_type"]).release_name == row["edit_type"]
        # relative to the images folder: no absolute path of the building machine in a dataset
        assert row["text"] and row["summarized_text"] and (photo_dir / row["open_image_input_url"]).exists()
    for row in pref:
        assert tuple(row) == PREFERENCE_KEYS and row["rejected_images"]
        assert all((out / p).is_file() for p in row["rejected_images"])
    meta = rows(out / "sft.meta.jsonl")
    assert [m["output_image"] for m in meta] == [r["output_image"] for r in sft]
    assert all(m["score"] >= m["threshold"] and m["judge"]["model"] == "metric-judge" for m in meta)
    db = sqlite3.connect(out / "ledger.sqlite")
    (reason,) = db.execute("SELECT reason FROM source_failures").fetchone()
    assert "broken.jpg" in reason
    status = runner.invoke(app, ["status", str(out)], env={"COLUMNS": "200"})
    assert status.exit_code == 0 and "finished" in status.output
    assert re.search(r"single-turn tasks\s*│\s*\d+ \(\d+ passed", status.output), status.output


def test_run_from_yaml_config(tmp_path: Path, photo_dir: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        f"images: {photo_dir}\nout: yaml-run\nphotos: 2\nper_photo: 1\n"
        "edit_types: [color_tone, film_grain_vintage]\nworkers: 1\n"
    )
    result = invoke("run", config, "--quiet")
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(tmp_path / "yaml-run" / "ledger.sqlite")
    types = {t for (t,) in db.execute("SELECT edit_type FROM tasks")}
    assert types <= {"color_tone", "film_grain_vintage"} and db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 2


def test_user_errors_are_one_line_not_tracebacks(tmp_path: Path) -> None:
    result = invoke("run", "--images", tmp_path / "missing", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "not a directory" in flat(result.output)
    result = invoke("run", "--images", tmp_path, "--out", tmp_path / "o", "--edit-types", "sparkle")
    assert result.exit_code == 2 and "sparkle" in flat(result.output)


def test_changed_settings_on_an_existing_run_are_refused(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    args = [
        "run",
        "--images",
        photo_dir,
        "--out",
        out,
        "--photos",
        1,
        "--per-photo",
        1,
        "--quiet",
        "--workers",
        1,
    ]
    assert invoke(*args, "--seed", 1).exit_code == 0
    result = invoke(*args, "--seed", 2)
    assert result.exit_code == 2 and "seed" in flat(result.output)


def test_edit_then_judge(tmp_path: Path, small_photos: dict[str, np.ndarray]) -> None:
    source = tmp_path / "coffee.png"
    Image.fromarray(small_photos["coffee"]).save(source)
    edited = tmp_path / "warm.png"
    passed = None
    for seed in range(5):  # the editor is stochastic: a seed or two may miss, as a generative one does
        assert (
            invoke(
                "edit", "--source", source, "--instruction", "make it warmer", "--out", edited, "--seed", seed
            ).exit_code
            == 0
        )
        result = invoke("judge", "--source", source, "--edited", edited, "--instruction", "make it warmer", "--json")
        assert result.exit_code == 0, result.output
        verdict = json.loads(result.output)
        assert set(verdict["scores"]) == {
            "instruction_compliance",
            "seamlessness",
            "preservation",
            "technical_quality",
        }
        assert verdict["edit_type"] == "color_tone"
        passed = passed or verdict["passed"]
    assert passed
    # judging the untouched photo as the edit: "nothing changed" fails
    result = invoke("judge", "--source", source, "--edited", source, "--instruction", "make it warmer", "--json")
    assert json.loads(result.output)["passed"] is False


def test_judge_abstains_on_a_type_it_cannot_check(tmp_path: Path, small_photos: dict[str, np.ndarray]) -> None:
    source, edited = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(small_photos["chelsea"]).save(source)
    Image.fromarray(np.ascontiguousarray(small_photos["chelsea"][:, ::-1])).save(edited)
    args = ("--instruction", "remove the cat", "--edit-type", "Remove an existing object", "--json")
    result = invoke("judge", "--source", source, "--edited", edited, *args)
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)
    assert verdict["passed"] is None and verdict["scores"] is None and "no check" in verdict["rationale"]
    # but "nothing changed" fails whatever the type: that needs no type-specific check
    unchanged = json.loads(invoke("judge", "--source", source, "--edited", source, *args).output)
    assert unchanged["passed"] is False and "no visible change" in unchanged["rationale"]


@pytest.mark.parametrize("instruction", ["", "reticulate the splines"])
def test_edit_refuses_what_it_cannot_do(tmp_path: Path, small_photos, instruction: str) -> None:
    source = tmp_path / "a.png"
    Image.fromarray(small_photos["coffee"]).save(source)
    result = invoke("edit", "--source", source, "--instruction", instruction, "--out", tmp_path / "b.png")
    assert result.exit_code == 1 and not (tmp_path / "b.png").exists()


def test_estimate_prices_a_run_before_it_starts(photo_dir: Path) -> None:
    offline = invoke("estimate", "--images", photo_dir, "--per-photo", 3)
    assert offline.exit_code == 0, offline.output
    assert "4 photos × 3 types → 12 tasks" in flat(offline.output) and "0.0000" in offline.output
    gemini = invoke("estimate", "--images", photo_dir, "--per-photo", 3, "--provider", "gemini")
    assert gemini.exit_code == 0, gemini.output
    text = flat(gemini.output)
    assert "gemini-2.5-pro" in text and "gemini-2.5-flash-image" in text
    total = float(re.search(r"total[│ ]+([0-9.]+)", text).group(1))
    # 12 tasks: at least one image per task at $0.039, plus the writer, rewriter and judge calls
    assert 12 * 0.039 < total < 12 * 3 * 0.1


def test_demo_with_progress_bar_and_summary_table(tmp_path: Path) -> None:
    result = invoke("demo", "--out", tmp_path / "demo", "--photos", 2, "--per-photo", 2, "--workers", 1)
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "single-turn tasks, by category" in text
    assert rows(tmp_path / "demo" / "sft.jsonl")
    _every_number_agrees_with_the_files(text, tmp_path / "demo")


def _every_number_agrees_with_the_files(text: str, out: Path) -> None:
    """The summary line, the category table and the target line count what the files and ledger hold."""
    line = re.search(
        r"(\d+) tasks: (\d+) passed, (\d+) failed, (\d+) errors → (\d+) SFT rows, (\d+) preference rows; "
        r"(\d+) sessions \((\d+) later turns run\) → (\d+) multi-turn rows",
        text,
    )
    assert line, text
    tasks, passed, failed, errors, sft, preference, sessions, turns, multi = map(int, line.groups())
    assert (sft, preference, multi) == tuple(
        len(rows(out / name)) for name in ("sft.jsonl", "preference.jsonl", "multi-turn.jsonl")
    )
    db = sqlite3.connect(out / "ledger.sqlite")
    single = dict(db.execute("SELECT status, COUNT(*) FROM tasks WHERE session_id IS NULL GROUP BY status"))
    assert tasks == sum(single.values()) and (passed, failed, errors) == tuple(
        single.get(s, 0) for s in ("passed", "failed", "error")
    )
    assert sessions == db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    assert turns == db.execute("SELECT COUNT(*) FROM tasks WHERE session_id IS NOT NULL").fetchone()[0]
    table = re.search(r"all\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)", text)
    assert table and tuple(map(int, table.groups())) == (passed, failed, errors), text
    target = re.search(r"target multi_turn: (\d+)/", text)
    assert target is None or int(target.group(1)) == multi


def test_a_local_judge_by_folder_records_garbage_as_a_failure(tmp_path: Path, small_photos, tiny_model) -> None:
    source, edited = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(small_photos["coffee"]).save(source)
    Image.fromarray(small_photos["rocket"]).save(edited)
    args = ("judge", "--source", source, "--edited", edited, "--instruction", "make it warmer", "--provider", "local")
    result = invoke(*args, "--model", tiny_model("vlm"))
    assert result.exit_code == 1 and "judge could not score it" in flat(result.output)  # random weights: no score
    missing = invoke(*args, "--model", "editforge-tests/not-downloaded")
    assert missing.exit_code == 2 and "hf download editforge-tests/not-downloaded" in flat(missing.output)


def test_a_folder_with_no_usable_photo_is_an_error_and_leaves_no_run(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("run", "--images", empty, "--out", tmp_path / "a", "--workers", 1, "-q")
    assert result.exit_code != 0 and f"no usable photos in {empty} (it holds no files)" in flat(result.output)
    assert not (tmp_path / "a").exists()
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "broken.jpg").write_bytes(b"not a jpeg at all")
    (junk / "notes.txt").write_text("hello")
    result = invoke("run", "--images", junk, "--out", tmp_path / "b", "--workers", 1, "-q")
    text = flat(result.output)
    assert result.exit_code != 0 and f"no usable photos in {junk} (2 files skipped:" in text, text
    assert "broken.jpg" in text and "notes.txt" in text and "0 photos" not in text
    assert not (tmp_path / "b").exists()


def test_a_run_that_fails_validation_leaves_no_run_directory(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    result = invoke("run", "--images", photo_dir, "--out", out, "--edit-types", "remove_object", "--workers", 1)
    text = flat(result.output)
    assert result.exit_code == 2 and "no edit type asked for is supported" in text
    assert text.count("color_tone") == 1 and "remove_object: not the" in text  # each list once
    assert not out.exists()


def test_usage_mistakes_are_one_error_line_like_every_other_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    for args in (["nonexist"], ["run", "--per-photo", "x", "--out", str(tmp_path)], ["status"]):
        done = subprocess.run([sys.executable, "-m", "editforge", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stderr.startswith("error: "), done.stderr
        assert "Error" not in done.stderr and "╭" not in done.stderr and "Traceback" not in done.stderr


def test_switches_show_no_value_type_in_help() -> None:
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "160"})
    assert "--quiet" in result.output and "<bool>" not in result.output and "<path>" in result.output
    assert "--exports" in result.output and "--align" in result.output


def test_run_takes_exports_and_align_flags(tmp_path: Path, photo_dir: Path) -> None:
    out = tmp_path / "run"
    args = ("run", "--images", photo_dir, "--out", out, "--per-photo", 1, "--workers", 1, "-q")
    result = invoke(*args, "--exports", "picobanana,webdataset", "--align", "pad")
    assert result.exit_code == 0, result.output
    shards = list((out / "webdataset").rglob("*.tar"))
    assert rows(out / "sft.jsonl") and shards and not (out / "hf").exists()
    import tarfile

    with tarfile.open(shards[0]) as tar:
        meta = next(tar.extractfile(m).read() for m in tar.getmembers() if m.name.endswith(".json"))
    assert json.loads(meta)["alignment"]["method"] == "pad"


def test_skipped_photos_are_told_without_source_locations_and_the_lock_goes(tmp_path: Path, photo_dir: Path) -> None:
    (photo_dir / "broken.png").write_bytes(b"\x89PNG but not really")
    out = tmp_path / "run"
    result = invoke("run", "--images", photo_dir, "--out", out, "--per-photo", 1, "--workers", 1)
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.output.splitlines() if "skipped photo" in line]
    assert skipped and not any(re.search(r"\w+\.py:\d+", line) for line in skipped), skipped
    assert not (out / ".editforge.lock").exists()


@pytest.mark.parametrize(("name", "format_"), [("warm.jpg", "JPEG"), ("warm.JPEG", "JPEG"), ("warm.webp", "WEBP")])
def test_edit_writes_the_format_its_out_suffix_names(
    tmp_path: Path, small_photos: dict[str, np.ndarray], name: str, format_: str
) -> None:
    source = tmp_path / "coffee.png"
    Image.fromarray(small_photos["coffee"]).save(source)
    result = invoke("edit", "--source", source, "--instruction", "make it warmer", "--out", tmp_path / name)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / name) as written:
        assert written.format == format_


def test_edit_refuses_an_out_suffix_that_names_no_image_format(tmp_path: Path, coffee: np.ndarray) -> None:
    source = tmp_path / "coffee.png"
    Image.fromarray(coffee).save(source)
    result = invoke("edit", "--source", source, "--instruction", "make it warmer", "--out", tmp_path / "warm.txt")
    assert result.exit_code == 2 and "cannot tell the image format" in flat(result.output)
    assert not (tmp_path / "warm.txt").exists()


def test_estimate_counts_the_turns_of_multi_turn_sessions(tmp_path: Path, photo_dir: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"images: {photo_dir}\nper_photo: 1\nsessions:\n  lengths: {{2: 1.0, 4: 1.0}}\n")
    result = invoke("estimate", config, "--multi-turn", 2)
    text = flat(result.output)
    assert result.exit_code == 0, text
    # 4 single-turn tasks, and 2 sessions of 3 turns on average: 2 more turns each
    assert "4 photos × 1 types → 4 tasks + ≈4 session turns" in text, text
    writer_calls = int(re.search(r"writer[│ ]+\S+[│ ]+(\d+)", text).group(1))
    assert writer_calls == 8


def test_estimate_names_the_providers_it_knows(photo_dir: Path) -> None:
    result = invoke("estimate", "--images", photo_dir, "--provider", "claude")
    text = flat(result.output)
    assert result.exit_code == 2 and "unknown provider 'claude'" in text and "gemini" in text and "offline" in text


def test_edit_takes_unquoted_words_and_says_what_it_did(tmp_path: Path, coffee: np.ndarray) -> None:
    source = tmp_path / "coffee.png"
    Image.fromarray(coffee).save(source)
    result = invoke("edit", "-s", source, "--instruction", "write MEOW at the bottom", "--out", tmp_path / "m.png")
    text = flat(result.output)
    assert result.exit_code == 0, text
    assert "Add new" in text and "'MEOW'" in text and "position bottom" in text and "{" not in text
    result = invoke("edit", "-s", source, "-t", "write MEOW at the bottom", "-o", tmp_path / "m.png", "--json")
    assert result.exit_code == 0
    said = json.loads(result.output[result.output.index("{") :])
    assert said["editor"]["operation"] == "add_text" and said["editor"]["params"]["text"] == "MEOW"
