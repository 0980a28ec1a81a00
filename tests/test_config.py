from pathlib import Path

import pytest

from editforge.config import ConfigError, build_config, load_yaml


def test_yaml_values_with_cli_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "images: photos\nout: runs/a\nseed: 7\nper_photo: 2\nedit_types: [color_tone, Zoom in]\n"
        "roles:\n  judge: {provider: offline}\n"
    )
    values = load_yaml(cfg)
    config = build_config(values, {"seed": 9, "per_photo": None})
    assert config.seed == 9 and config.per_photo == 2
    assert config.images == tmp_path / "photos"  # relative to the config file
    assert config.out == tmp_path / "runs/a"
    assert config.edit_types == ["color_tone", "zoom_in"]  # release strings normalised to keys
    assert config.roles.judge.provider == "offline"


def test_misspelt_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text("out: x\nmax_atempts: 2\n")
    with pytest.raises(ConfigError, match=r"run.yaml.*max_atempts"):
        build_config(load_yaml(cfg), {}, str(cfg))


def test_unknown_edit_type_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="edit_types.*unknown edit type"):
        build_config({"out": "x", "edit_types": ["sparkle"]}, {})
    bad = tmp_path / "bad.yaml"
    bad.write_text("out: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_yaml(bad)


def test_folder_source_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--images"):
        build_config({"out": tmp_path}, {}).check_runnable()
    with pytest.raises(ConfigError, match="not a directory"):
        build_config({"out": tmp_path, "images": tmp_path / "nope"}, {}).check_runnable()
