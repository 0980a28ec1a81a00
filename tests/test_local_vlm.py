"""The local writer, judge and rewriter on tiny random-weight models loaded from saved folders, the way a
user's model folder is loaded. Where a test needs a reply that parses, only the tokens the model emits are
forced (tests/local_support.py); everything else, the reply parsing included, is the real path."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("transformers")  # the `local` extra (CI installs it)

from editforge import taxonomy
from editforge.models.base import JudgeReply, ModelCallError, TextReply, WriteRequest
from editforge.models.local.judge_schemes import EditScoreScheme
from editforge.models.prompting import ReplyError
from editforge.models.registry import build_role
from local_support import forced_replies

COLOR = taxonomy.get("color_tone")
FAST = {"max_new_tokens": 24, "devices": ["cpu"]}


@pytest.fixture(scope="module")
def writer(tiny_model):
    return build_role("writer", "local", str(tiny_model("vlm")), dict(FAST))


@pytest.fixture(scope="module")
def judge(tiny_model):
    return build_role("judge", "local", str(tiny_model("vlm")), {**FAST, "retries": 2})


@pytest.fixture(scope="module")
def rewriter(tiny_model):
    return build_role("rewriter", "local", str(tiny_model("lm")), dict(FAST))


def _verdict(**scores: float) -> str:
    return json.dumps({**scores, "rationale": "The sky is warmer and nothing else changed."})


GOOD = _verdict(instruction_compliance=0.9, seamlessness=0.8, preservation=0.7, technical_quality=0.6)


def test_writer_writes_the_instruction_the_model_emits(writer, small_photos) -> None:
    text = "Warm the whole photo toward amber late-afternoon light, keeping the astronaut's suit white."
    with forced_replies(writer, [text]):
        reply = writer.write(WriteRequest(image=small_photos["astronaut"], edit_type=COLOR, seed=3))
    assert isinstance(reply, TextReply) and reply.text == text and reply.raw == text
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens == len(text.encode()) + 1  # bytes + end
    assert reply.usage.device_seconds > 0 and reply.usage.cost_usd == 0
    with forced_replies(writer, [f"{text}\nLabels: people, sky"]):  # writer.v2 asks for the photo's labels
        labelled = writer.write(WriteRequest(image=small_photos["astronaut"], edit_type=COLOR, seed=3))
    assert labelled.text == text and labelled.labels == ["people", "sky"]


def test_thinking_is_turned_off_and_a_thought_is_not_the_reply(writer, small_photos) -> None:
    # Thinking models' templates (Qwen3.5, Qwen3) take enable_thinking; off, they pre-fill an empty thought.
    assert writer.loaded._prompt("write", 1).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    with forced_replies(writer, ["<think>\nThe photo is dim.\n</think>\n\nBrighten the whole photo."]):
        reply = writer.write(WriteRequest(image=small_photos["coffee"], edit_type=COLOR, seed=1))
    assert reply.text == "Brighten the whole photo." and reply.raw.startswith("<think>\nThe photo is dim.")


@pytest.mark.parametrize(
    "raw, text",
    [
        ("Make it warmer.", "Make it warmer."),
        ("<think>\nhmm\n</think>\n\nMake it warmer.", "Make it warmer."),
        ("hmm, the template opened the thought\n</think>\nMake it warmer.", "Make it warmer."),
        ("<think>\na thought cut off by the token limit", ""),
    ],
)
def test_the_reply_is_what_follows_a_thought(raw: str, text: str) -> None:
    from editforge.models.local.generation import without_thought

    assert without_thought(raw) == text


def test_a_qwen3_5_checkpoint_writes_with_thinking_off(tiny_model, small_photos) -> None:
    writer = build_role("writer", "local", str(tiny_model("qwen3_5")), {**FAST, "max_new_tokens": 6})
    assert type(writer.loaded.model).__name__ == "Qwen3_5ForConditionalGeneration"
    assert writer.loaded._prompt("write", 1).endswith("<think>\n\n</think>\n\n")
    images, seeds = [small_photos["coffee"], small_photos["rocket"]], [3, 4]
    batch = writer.loaded.generate(["write", "write more"], [[image] for image in images], seeds, writer.sampling)
    alone = [
        writer.loaded.generate([p], [[i]], [s], writer.sampling)[0]
        for p, i, s in zip(["write", "write more"], images, seeds, strict=True)
    ]
    assert [g.text for g in batch] == [g.text for g in alone] and all(g.output_tokens for g in batch)


def test_an_internvl_checkpoint_judges_through_the_same_path(tiny_model, small_photos) -> None:
    judge = build_role("judge", "local", str(tiny_model("internvl")), {**FAST, "max_new_tokens": 6, "retries": 0})
    assert type(judge.loaded.model).__name__ == "InternVLForConditionalGeneration"
    with forced_replies(judge, [GOOD, "no idea"]):
        good, bad = judge.judge_many(
            [small_photos["coffee"]] * 2, [small_photos["rocket"]] * 2, ["warmer", "warmer"], [COLOR] * 2
        )
    assert isinstance(good, JudgeReply) and good.scores.preservation == 0.7
    assert isinstance(bad, ReplyError) and bad.raw == "no idea"


def test_writer_on_random_weights_returns_a_reply_or_a_recorded_failure(writer, small_photos) -> None:
    requests = [WriteRequest(image=small_photos[name], edit_type=COLOR, seed=i) for i, name in enumerate(small_photos)]
    replies = writer.write_many(requests)
    assert len(replies) == len(requests)
    for reply in replies:
        assert isinstance(reply, TextReply | ModelCallError)
        assert reply.usage.input_tokens > 0  # a failed reply was still computed: its usage is kept


def test_a_batch_gives_each_item_what_it_gets_alone(writer, small_photos) -> None:
    images, seeds = list(small_photos.values()), [7, 8, 9, 10]
    batch = writer.loaded.generate(["describe"] * 4, [[image] for image in images], seeds, writer.sampling)
    pairs = zip(images, seeds, strict=True)
    alone = [writer.loaded.generate(["describe"], [[image]], [seed], writer.sampling)[0] for image, seed in pairs]
    assert [g.text for g in batch] == [g.text for g in alone]
    assert [g.input_tokens for g in batch] == [g.input_tokens for g in alone]
    assert [g.output_tokens for g in batch] == [g.output_tokens for g in alone]


def test_same_seed_same_text_other_seed_other_text(writer, small_photos) -> None:
    image = small_photos["coffee"]
    first, again, other = writer.loaded.generate(["describe"] * 3, [[image]] * 3, [5, 5, 6], writer.sampling)
    assert first.text == again.text and first.output_tokens > 0
    assert other.text != first.text


def test_judge_scores_a_reply_that_parses(judge, small_photos) -> None:
    with forced_replies(judge, [GOOD]):
        reply = judge.judge(small_photos["coffee"], small_photos["chelsea"], "make it warmer", COLOR)
    assert isinstance(reply, JudgeReply)
    assert reply.scores.model_dump() == {
        "instruction_compliance": 0.9, "seamlessness": 0.8, "preservation": 0.7, "technical_quality": 0.6,
    }  # fmt: skip
    assert reply.rationale.startswith("The sky") and reply.raw == GOOD
    assert judge.ref.provider == "local" and judge.ref.prompt_version == "judge.v1"


def test_judge_on_garbage_is_a_recorded_failure_never_a_score(judge, small_photos) -> None:
    """Random weights reply garbage: asked 1 + retries times, then a failure with every raw reply."""
    replies = judge.judge_many(
        [small_photos["coffee"]] * 2, [small_photos["rocket"]] * 2, ["make it warmer", "add snow"], [COLOR] * 2
    )
    for reply in replies:
        assert isinstance(reply, ReplyError), reply
        assert "asked 3 times" in reply.reason
        assert reply.raw.count("\n---\n") == 2  # three replies kept for the ledger
        assert reply.usage.output_tokens > 0 and reply.usage.input_tokens > 0
    with pytest.raises(ModelCallError):
        judge.judge(small_photos["coffee"], small_photos["rocket"], "make it warmer", COLOR)


def test_judge_retries_an_unparseable_reply_with_another_seed(judge, small_photos) -> None:
    bad = '{"instruction_compliance": 1.4, "rationale": "too generous"}'
    refusal = "I'm sorry, I cannot judge this."
    with forced_replies(judge, [bad, refusal], [GOOD, refusal], [refusal]) as batches:
        first, second = judge.judge_many(
            [small_photos["coffee"]] * 2, [small_photos["rocket"]] * 2, ["warmer", "warmer"], [COLOR] * 2
        )
    assert batches == [2, 2, 1]  # a parsed item is not asked again
    assert isinstance(first, JudgeReply) and first.scores.instruction_compliance == 0.9
    assert first.raw == f"{bad}\n---\n{GOOD}"
    assert isinstance(second, ReplyError) and "refused" in second.reason and "asked 3 times" in second.reason
    assert second.raw == "\n---\n".join([refusal] * 3)


def test_judge_retries_are_seeded_so_a_second_ask_differs(judge, small_photos) -> None:
    pair = ([small_photos["coffee"]], [small_photos["rocket"]], ["warmer"], [COLOR])
    (once,) = judge.judge_many(*pair)
    (twice,) = judge.judge_many(*pair)
    assert once.raw == twice.raw  # the same item is judged the same way
    replies = once.raw.split("\n---\n")
    assert len(set(replies)) > 1  # greedy first, then sampled with seeds 1 and 2


def test_another_judge_pass_samples_afresh_and_repeats_itself(judge, small_photos) -> None:
    """Multi-pass judging asks with sample = 1, 2, …: a greedy judge then samples, each pass its own seeds."""
    pair = ([small_photos["coffee"]], [small_photos["rocket"]], ["warmer"], [COLOR])
    (first,) = judge.judge_many(*pair)
    (second,) = judge.judge_many(*pair, sample=1)
    (again,) = judge.judge_many(*pair, sample=1)
    assert second.raw == again.raw and second.raw != first.raw
    with pytest.raises(ReplyError):  # the single-call form takes the pass index too (random weights: garbage)
        judge.judge(small_photos["coffee"], small_photos["rocket"], "warmer", COLOR, sample=2)


def test_rewriter_shortens_with_the_hosted_prompt(rewriter) -> None:
    with forced_replies(rewriter, ["Short: make it warmer", "  "]) as batches:
        short, empty = rewriter.rewrite_many(["Shift the colour balance toward warm amber."] * 2, [COLOR] * 2, [1, 2])
    assert batches == [2]
    assert isinstance(short, TextReply) and short.text == "make it warmer"
    assert isinstance(empty, ModelCallError) and empty.usage.output_tokens > 0
    assert rewriter.ref.prompt_version == "rewriter.v1" and rewriter.ref.temperature == 0.7


def test_rewriter_batch_equals_singles_and_seeds_repeat(rewriter) -> None:
    texts = ["Make the photo warmer.", "Add falling snow over the street and the parked cars."]
    sampling = rewriter.sampling
    batch = rewriter.loaded.generate(texts, None, [4, 9], sampling)
    alone = [rewriter.loaded.generate([t], None, [s], sampling)[0] for t, s in zip(texts, [4, 9], strict=True)]
    assert [g.text for g in batch] == [g.text for g in alone]


# -- EditScore's VIEScore-style prompts, parsed strictly -------------------------------------------------
def test_editscore_replies_map_onto_the_four_criteria(tiny_model, small_photos) -> None:
    judge = build_role("judge", "local", str(tiny_model("qwen2_5_vl")), {**FAST, "prompt": "editscore"})
    assert judge.ref.prompt_version == "editscore.v1"
    semantic = '{\n"reasoning" : "The mug is now red; the table is unchanged.",\n"score" : [20, 15]\n}'
    quality = 'Here you go: {"reasoning": "Looks natural, slight blur.", "score": [25, 5]}'
    with forced_replies(judge, [semantic, quality]) as batches:
        reply = judge.judge(small_photos["coffee"], small_photos["coffee"], "make the mug red", COLOR)
    assert batches == [2]  # both questions of one edit go in one batch
    assert reply.scores.model_dump() == {
        "instruction_compliance": 0.8, "preservation": 0.6, "seamlessness": 1.0, "technical_quality": 0.2,
    }  # fmt: skip
    assert reply.rationale == "The mug is now red; the table is unchanged. | Looks natural, slight blur."


@pytest.mark.parametrize(
    "raw",
    [
        '{"reasoning": "fine", "score": [30, 5]}',  # above the 0..25 scale
        '{"reasoning": "fine", "score": [7]}',  # one score where two are due
        '{"reasoning": "fine", "score": ["7", 5]}',
        '{"reasoning": "fine", "score": [NaN, 5]}',
        '{"score": [7, 5]}',
        "score = [7, 5]",  # EditScore would dig the numbers out; a guess is not a score
    ],
)
def test_editscore_parser_rejects_what_is_not_its_format(raw: str) -> None:
    with pytest.raises(ReplyError):
        EditScoreScheme().parse(0, raw)


def test_editscore_prompts_follow_its_scale() -> None:
    parts = EditScoreScheme(score_range=10).parts(
        np.zeros((8, 8, 3), np.uint8), np.ones((8, 8, 3), np.uint8), "add a hat", COLOR
    )
    semantic, quality = parts
    assert "From scale 0 to 10" in semantic.prompt and "Editing instruction: add a hat" in semantic.prompt
    assert semantic.images[0].max() == 0 and semantic.images[1].max() == 1  # source first, then the edit
    assert "[naturalness, artifacts]" in quality.prompt and len(quality.images) == 1
    assert EditScoreScheme().parse(1, '{"reasoning": "ok", "score": [25, 12.5]}') == ([1.0, 0.5], "ok")


def test_an_editscore_lora_is_merged_into_the_judge(tiny_model, tmp_path, small_photos) -> None:
    """A LoRA saved by peft (as EditScore's checkpoints are) loads as `adapter:` and changes the weights."""
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForImageTextToText

    base_dir = tiny_model("qwen2_5_vl")
    base = AutoModelForImageTextToText.from_pretrained(base_dir)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft.get_peft_model(base, config).save_pretrained(tmp_path / "editscore-lora")
    judge = build_role(
        "judge", "local", str(base_dir), {**FAST, "prompt": "editscore", "adapter": str(tmp_path / "editscore-lora")}
    )
    assert judge.ref.model == f"{base_dir}+{tmp_path / 'editscore-lora'}"
    judge.load("cpu")
    fresh = AutoModelForImageTextToText.from_pretrained(base_dir).state_dict()
    merged = judge.loaded.model.state_dict()
    changed = [k for k, v in merged.items() if "q_proj.weight" in k and not np.allclose(v.numpy(), fresh[k].numpy())]
    assert changed and not any("lora" in k for k in merged)
    (reply,) = judge.judge_many([small_photos["coffee"]], [small_photos["rocket"]], ["add a hat"], [COLOR])
    assert isinstance(reply, ModelCallError)  # still random weights: a recorded failure, not a score


def test_out_of_device_memory_is_a_transient_error_the_engine_can_halve(tiny_model, small_photos, monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    from editforge.models.base import DeviceOutOfMemoryError

    judge = build_role("judge", "local", str(tiny_model("vlm")), dict(FAST))

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(judge.loaded.model, "generate", out_of_memory)
    with pytest.raises(DeviceOutOfMemoryError, match="out of device memory"):
        judge.judge_many([small_photos["coffee"]] * 2, [small_photos["rocket"]] * 2, ["warmer"] * 2, [COLOR] * 2)


@pytest.mark.gpu
def test_bf16_batches_on_cuda(tiny_model, small_photos) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    writer = build_role("writer", "local", str(tiny_model("vlm")), {"max_new_tokens": 16, "devices": ["cuda:0"]})
    writer.load("cuda:0")
    assert writer.loaded.model.dtype == torch.bfloat16
    requests = [WriteRequest(image=small_photos[n], edit_type=COLOR, seed=i) for i, n in enumerate(small_photos)]
    with forced_replies(writer, ["Make it warmer."] * len(requests)) as batches:
        replies = writer.write_many(requests)
    assert batches == [len(requests)] and all(r.text == "Make it warmer." for r in replies)
    batch = writer.loaded.generate(["d"] * 4, [[r.image] for r in requests], [1, 2, 3, 4], writer.sampling)
    assert all(g.output_tokens > 0 for g in batch)
