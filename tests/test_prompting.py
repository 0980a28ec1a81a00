import json

import pytest

from editforge import taxonomy
from editforge.models.prompting import (
    JUDGE_SCHEMA,
    PROMPT_VERSION,
    ReplyError,
    judge_prompt,
    parse_instruction_reply,
    parse_judge_reply,
    rewriter_prompt,
    writer_prompt,
)

GOOD = {
    "instruction_compliance": 0.9,
    "seamlessness": 0.8,
    "preservation": 0.7,
    "technical_quality": 1,
    "rationale": "The mug is now blue; the table is unchanged.",
}


def test_prompts_carry_type_history_and_examples() -> None:
    prompt = writer_prompt(taxonomy.get("person_sticker"), history=["add a red hat", "make it snow"])
    assert "Sticker-ify the person" in prompt and "person" in prompt
    assert "1. add a red hat" in prompt and "turn 3" in prompt
    assert "turn" not in writer_prompt(taxonomy.get("zoom_in"))
    assert "make it warmer" in rewriter_prompt("Shift the tones toward amber.")
    judge = judge_prompt("make the mug blue", taxonomy.get("object_attribute"))
    assert "make the mug blue" in judge and "0.40" in judge and "EDITED image first" in judge
    assert set(PROMPT_VERSION) == {"writer", "rewriter", "judge"}
    assert set(JUDGE_SCHEMA["required"]) == {*GOOD}


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(GOOD),
        f"```json\n{json.dumps(GOOD)}\n```",
        f"Here is my verdict: {json.dumps(GOOD)} Thanks.",
    ],
    ids=["plain", "fenced", "prose-around"],
)
def test_judge_reply_parsed_or_repaired(raw: str) -> None:
    scores, rationale = parse_judge_reply(raw)
    assert scores.weighted() == pytest.approx(0.4 * 0.9 + 0.25 * 0.8 + 0.2 * 0.7 + 0.15)
    assert rationale.startswith("The mug")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("The edit looks good, 8/10.", "not JSON"),
        ('{"instruction_compliance": 0.9', "not JSON"),
        (json.dumps({**GOOD, "seamlessness": 8}), "outside"),
        (json.dumps({**GOOD, "preservation": -0.1}), "outside"),
        (json.dumps({**GOOD, "technical_quality": "high"}), "not a number"),
        (json.dumps({**GOOD, "technical_quality": True}), "not a number"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "rationale"}), "lacks rationale"),
        (json.dumps([GOOD]), "not an object"),
        (
            '{"instruction_compliance": NaN, "seamlessness": 1, "preservation": 1, "technical_quality": 1,'
            ' "rationale": "x"}',
            "outside",
        ),
        ("I'm sorry, I can't help with evaluating this image.", "refused"),
        ("", "not JSON"),
    ],
)
def test_bad_judge_replies_are_errors_never_guesses(raw: str, why: str) -> None:
    with pytest.raises(ReplyError, match=why) as info:
        parse_judge_reply(raw)
    assert info.value.raw == raw


def test_instruction_replies_cleaned_or_refused() -> None:
    assert parse_instruction_reply('  "Make the sky pink."  ') == "Make the sky pink."
    assert parse_instruction_reply("Instruction: Add a hat.") == "Add a hat."
    for raw, why in [("", "empty"), ("I'm sorry, but I can't do that.", "refused"), ("word " * 200, "words")]:
        with pytest.raises(ReplyError, match=why):
            parse_instruction_reply(raw)


def test_the_writer_is_asked_for_the_photos_content_labels_in_the_same_call() -> None:
    from editforge.models.prompting import parse_writer_reply

    prompt = writer_prompt(taxonomy.get("zoom_in"))
    assert PROMPT_VERSION["writer"] == "writer.v2" and "`Labels:`" in prompt
    assert all(label in prompt for label in taxonomy.CONTENT_LABELS)
    reply = "Zoom in on the cat's face until it fills the frame.\nLabels: Animals, sky, dragons"
    text, labels = parse_writer_reply(reply)
    assert text == "Zoom in on the cat's face until it fills the frame." and labels == ["animals", "sky"]
    assert parse_writer_reply("Make it warmer.\n\n**Labels:** none")[1] == []
    assert parse_writer_reply("Make it warmer.")[1] is None  # not said: not known, never guessed
    with pytest.raises(ReplyError):
        parse_writer_reply("Labels: food, people")  # labels and no instruction
