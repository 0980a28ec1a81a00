"""`editforge import picobanana`: its options are checked before anything is fetched."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from editforge.cli import app

runner = CliRunner()


def test_bad_options_are_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "sft.jsonl").write_text("")
    tar = tmp_path / "train_0.tar"
    tar.write_bytes(b"")
    cases = {
        ("--splits", "sft,pairs"): "unknown pairs",
        ("--manifest-dir", str(tmp_path / "m"), "--splits", "sft,preference"): "no preference.jsonl",
        ("--openimages-dir", str(tar)): "needs --openimages-csv",
        ("--openimages-dir", str(tmp_path / "nope.tar")): "no such file or folder",
        ("--exports", "parquet"): "unknown export format parquet",
    }
    for args, message in cases.items():
        result = runner.invoke(app, ["import", "picobanana", "--out", str(tmp_path / "out"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
    assert not (tmp_path / "out").exists()  # nothing written before the options were checked


def test_help_names_the_licence() -> None:
    result = runner.invoke(app, ["import", "picobanana", "--help"])
    assert result.exit_code == 0 and "do not redistribute" in " ".join(result.output.split()).lower()
