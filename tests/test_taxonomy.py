from editforge import taxonomy


def test_35_types_in_8_categories() -> None:
    assert len(taxonomy.all_types()) == 35
    assert len(taxonomy.categories()) == 8
    assert len(set(taxonomy.keys())) == 35


def test_lookup_by_key_or_release_string_is_case_insensitive() -> None:
    by_key = taxonomy.get("weather")
    assert taxonomy.get("Change weather conditions (sunny/rainy/snowy)") is by_key
    assert taxonomy.get("change weather conditions (sunny/rainy/snowy)") is by_key
    assert by_key.category == "Scene Composition & Multi-Subject"


def test_requirements_and_paper_rates() -> None:
    assert taxonomy.get("person_lineart").needs == "person"
    assert taxonomy.get("replace_text").needs == "text"
    assert taxonomy.get("add_text").needs is None
    assert taxonomy.get("style_transfer").paper_success_rate == 0.934
    assert (
        sum(t.paper_count for t in taxonomy.all_types()) == 257_746
    )  # about the 257,730 rows of the released SFT split


def test_unknown_type_names_the_command_that_lists_them() -> None:
    import pytest

    with pytest.raises(KeyError, match="editforge taxonomy"):
        taxonomy.get("make it pop")


def test_unspecified_names_an_imported_turn_but_is_never_planned() -> None:
    import pytest

    from editforge import taxonomy
    from editforge.config import ConfigError, build_config

    assert taxonomy.get("unspecified").release_name == "" and "unspecified" not in taxonomy.keys()
    assert "Unspecified" not in taxonomy.categories()
    with pytest.raises(ConfigError, match="cannot be planned"):
        build_config({"out": "x", "edit_types": ["unspecified"]}, {})
