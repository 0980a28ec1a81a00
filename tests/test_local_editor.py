"""The local diffusers editor on tiny random-weight pipelines saved to folders and loaded back through
`DiffusionPipeline.from_pretrained` (the path a user's model takes), editing real sample photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from editforge.models.base import DeviceOutOfMemoryError, EditReply, ModelCallError
from editforge.models.registry import ProviderError, build_role
from editforge.testing.tiny_editors import TINY_EDITOR_OPTIONS

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

CLASSES = {
    "qwen_image_edit_plus": "QwenImageEditPlusPipeline",
    "flux2_klein": "Flux2KleinPipeline",
    "flux_kontext": "FluxKontextPipeline",
    "instruct_pix2pix": "StableDiffusionInstructPix2PixPipeline",
}
BATCHING = ("flux_kontext", "instruct_pix2pix")
ASK = "make the sky a deep red"


def editor(folder: Path, kind: str, **options):
    return build_role("editor", "local", str(folder), {**TINY_EDITOR_OPTIONS[kind], **options})


@pytest.fixture(scope="module")
def editors(tiny_editors: dict[str, Path]) -> dict:
    return {kind: editor(folder, kind) for kind, folder in tiny_editors.items()}


@pytest.mark.parametrize("kind", list(CLASSES))
def test_each_tiny_pipeline_loads_from_its_folder_and_edits_a_photo(kind, editors, tiny_editors, edit_photos):
    index = json.loads((tiny_editors[kind] / "model_index.json").read_text())
    assert index["_class_name"] == CLASSES[kind]
    model = editors[kind]
    assert model.execution == "device" and model.ref.provider == "local"
    assert model._pipe is None  # building read only model_index.json
    photo = edit_photos["astronaut"]
    reply = model.edit(photo, ASK, seed=3)
    assert type(model._pipe).__name__ == CLASSES[kind]
    assert reply.image.dtype == np.uint8 and reply.image.ndim == 3 and reply.image.shape[2] == 3
    assert reply.image.std() > 1  # a picture, not a flat fill
    raw = json.loads(reply.raw)
    assert raw["pipeline"] == CLASSES[kind] and raw["seed"] == 3
    assert raw["input_size"] == [96, 64]
    shrunk = kind in ("flux2_klein", "instruct_pix2pix") and TINY_EDITOR_OPTIONS[kind]["max_area"] < 96 * 64
    assert (raw["pipeline_input_size"] != [96, 64]) == shrunk  # they keep the input's size: max_area shrinks it
    assert raw["output_size"] == [reply.image.shape[1], reply.image.shape[0]]
    assert raw["arguments"]["num_inference_steps"] == 2
    assert reply.usage.images == 1 and reply.usage.device_seconds > 0


@pytest.mark.parametrize("kind", list(CLASSES))
def test_same_seed_same_image_other_seed_another(kind, editors, edit_photos):
    model, photo = editors[kind], edit_photos["coffee"]
    first = model.edit(photo, ASK, seed=11).image
    again = model.edit(photo, ASK, seed=11).image
    other = model.edit(photo, ASK, seed=12).image
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("kind", BATCHING)
def test_a_batch_equals_the_same_edits_one_by_one(kind, editors, edit_photos):
    model = editors[kind]
    assert model.max_batch == 4 and model.batch_note is None
    photos = [edit_photos["astronaut"], edit_photos["coffee"], edit_photos["astronaut"]]
    asks, seeds = [ASK, "add snow", "turn it into a watercolour"], [5, 6, 7]
    batch = model.edit_many(photos, asks, seeds)
    singles = [model.edit(p, a, s) for p, a, s in zip(photos, asks, seeds, strict=True)]
    for together, alone in zip(batch, singles, strict=True):
        assert isinstance(together, EditReply)
        assert together.image.shape == alone.image.shape
        assert np.abs(together.image.astype(int) - alone.image.astype(int)).max() <= 1
    assert not np.array_equal(batch[0].image, batch[2].image)  # same photo, other instruction and seed


def test_qwen_image_edit_plus_runs_one_photo_per_call(tiny_editors, edit_photos):
    model = editor(tiny_editors["qwen_image_edit_plus"], "qwen_image_edit_plus", batch_size=8)
    assert model.max_batch == 1
    assert "batch size > 1" in model.batch_note
    photos = [edit_photos["astronaut"], edit_photos["coffee"]]
    replies = model.edit_many(photos, [ASK, ASK], [1, 2])
    assert all(isinstance(reply, EditReply) for reply in replies)
    assert np.array_equal(replies[1].image, model.edit(photos[1], ASK, 2).image)


def test_qwen_true_cfg_is_on_by_default_and_configurable(editors, tiny_editors, edit_photos):
    photo = edit_photos["astronaut"]
    default = editors["qwen_image_edit_plus"].edit(photo, ASK, 4)
    assert json.loads(default.raw)["arguments"]["negative_prompt"] == " "  # without one, true CFG is off
    plain = editor(tiny_editors["qwen_image_edit_plus"], "qwen_image_edit_plus", true_cfg_scale=1.0)
    assert not np.array_equal(default.image, plain.edit(photo, ASK, 4).image)


def test_output_size_is_recorded_and_export_alignment_restores_the_source_geometry(
    editors, edit_photos, tmp_path: Path
):
    from editforge.export.common import ImageReader
    from editforge.records import Task
    from editforge.stages.edit import edit_attempt
    from editforge.store.images import ImageStore

    store = ImageStore(tmp_path)
    photo = edit_photos["astronaut"]  # 96 × 64; Kontext at max_area 64² gives 76 × 52
    task = Task(task_id="t1", photo_id="p1", edit_type="color_tone", seed=9, input_image=store.put(photo))
    attempt = edit_attempt(editors["flux_kontext"], task, ASK, 1, store)
    assert attempt.status == "ok", attempt.error
    output_size = json.loads(attempt.raw_reply)["output_size"]
    assert output_size == [attempt.width, attempt.height] != [96, 64]
    for method in ("resize", "pad", "crop"):
        blob = ImageReader(tmp_path, method).edit(attempt.output_image, 96, 64)
        assert blob.size == (96, 64)
        assert blob.alignment == {"method": method, "from_size": output_size, "to_size": [96, 64]}
    assert ImageReader(tmp_path, "none").edit(attempt.output_image, 96, 64).size == tuple(output_size)


def test_max_area_sets_the_output_size(tiny_editors, edit_photos):
    photo = edit_photos["astronaut"]
    small = editor(tiny_editors["flux_kontext"], "flux_kontext", max_area=48 * 32).edit(photo, ASK, 1)
    large = editor(tiny_editors["flux_kontext"], "flux_kontext", max_area=96 * 64).edit(photo, ASK, 1)
    assert small.image.shape[0] * small.image.shape[1] < large.image.shape[0] * large.image.shape[1]
    qwen = editor(tiny_editors["qwen_image_edit_plus"], "qwen_image_edit_plus", max_area=128 * 64).edit(photo, ASK, 1)
    assert qwen.image.shape[:2] == (64, 96)  # the pipeline's own rounding to 32 at the photo's 3:2


def test_a_photo_the_pipeline_refuses_fails_alone(editors, edit_photos):
    tiny = edit_photos["coffee"][:40, :40]  # FLUX.2 klein needs 64 px a side
    replies = editors["flux2_klein"].edit_many([tiny, edit_photos["coffee"]], [ASK, ASK], [1, 2])
    assert isinstance(replies[0], ModelCallError) and "too small" in replies[0].reason.lower()
    assert isinstance(replies[1], EditReply)


def test_an_all_black_output_is_a_recorded_failure(tiny_editors, edit_photos, tmp_path: Path):
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(tiny_editors["instruct_pix2pix"])
    with torch.no_grad():  # a decoder that can only draw black
        pipe.vae.decoder.conv_out.weight.zero_()
        pipe.vae.decoder.conv_out.bias.fill_(-10.0)
    pipe.save_pretrained(tmp_path / "black")
    model = editor(tmp_path / "black", "instruct_pix2pix")
    with pytest.raises(ModelCallError, match="all-black") as failure:
        model.edit(edit_photos["astronaut"], ASK, 1)
    assert json.loads(failure.value.raw)["pipeline"] == "StableDiffusionInstructPix2PixPipeline"
    assert failure.value.usage.images == 1


def test_an_edit_the_safety_checker_flags_is_a_recorded_failure(tiny_editors, edit_photos, tmp_path: Path):
    from diffusers import DiffusionPipeline
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    pipe = DiffusionPipeline.from_pretrained(tiny_editors["instruct_pix2pix"])
    vision = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2}
    config = CLIPConfig(
        text_config={**vision, "vocab_size": 99},
        vision_config={**vision, "image_size": 32, "patch_size": 8},
        projection_dim=32,
    )
    checker = StableDiffusionSafetyChecker(config).eval()
    with torch.no_grad():  # a checker that flags everything: every concept's threshold below any similarity
        checker.concept_embeds_weights.fill_(-10.0)
    pipe.register_modules(
        safety_checker=checker, feature_extractor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32)
    )
    pipe.register_to_config(requires_safety_checker=True)
    pipe.save_pretrained(tmp_path / "checked")
    model = editor(tmp_path / "checked", "instruct_pix2pix")
    with pytest.raises(ModelCallError, match="safety checker") as failure:
        model.edit(edit_photos["astronaut"], ASK, 1)
    assert json.loads(failure.value.raw)["output_size"]


def test_out_of_device_memory_reaches_the_engine_as_such(tiny_editors, edit_photos):
    model = editor(tiny_editors["instruct_pix2pix"], "instruct_pix2pix")
    model.load()

    def out_of_memory(*_):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    handle = model._pipe.unet.register_forward_pre_hook(out_of_memory)
    try:
        with pytest.raises(DeviceOutOfMemoryError, match="out of device memory"):
            model.edit_many([edit_photos["astronaut"]] * 2, [ASK, ASK], [1, 2])
    finally:
        handle.remove()


def test_a_lora_changes_the_edit_and_scale_zero_turns_it_off(tiny_editors, edit_photos, tmp_path: Path):
    peft = pytest.importorskip("peft")
    from diffusers import DiffusionPipeline, QwenImageEditPlusPipeline

    folder = tiny_editors["qwen_image_edit_plus"]
    pipe = DiffusionPipeline.from_pretrained(folder, processor=build_role_processor(folder))
    torch.manual_seed(1)
    config = peft.LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False)
    pipe.transformer.add_adapter(config)
    layers = peft.get_peft_model_state_dict(pipe.transformer)
    QwenImageEditPlusPipeline.save_lora_weights(tmp_path / "lora", transformer_lora_layers=layers)
    lora_file = next((tmp_path / "lora").glob("*.safetensors"))

    photo, kind, plain = edit_photos["astronaut"], "qwen_image_edit_plus", {"true_cfg_scale": 1.0}
    base = editor(folder, kind, **plain).edit(photo, ASK, 2)
    with_lora = editor(folder, kind, lora=str(lora_file), **plain)
    assert with_lora.ref.model.endswith(f"+lora:{lora_file}")
    edited = with_lora.edit(photo, ASK, 2)
    assert json.loads(edited.raw)["lora"] == str(lora_file)
    assert not np.array_equal(edited.image, base.image)
    silenced = editor(folder, kind, lora=str(tmp_path / "lora"), lora_scale=0.0, **plain).edit(photo, ASK, 2)
    assert np.abs(silenced.image.astype(int) - base.image.astype(int)).max() <= 1


def build_role_processor(folder: Path):
    from editforge.models.local.processors import load_processor

    return load_processor(folder / "processor")


def test_building_imports_no_torch_and_a_loaded_editor_travels_without_its_weights(tiny_editors):
    import pickle
    import subprocess
    import sys

    folder = str(tiny_editors["flux_kontext"])
    code = (
        "import sys\nfrom editforge.models.registry import build_role\n"
        f"e = build_role('editor', 'local', {folder!r}, {{'batch_size': 2}})\nassert e.max_batch == 2\n"
        "print(','.join(m for m in ('torch', 'diffusers', 'transformers', 'peft') if m in sys.modules))"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
    model = editor(tiny_editors["flux_kontext"], "flux_kontext")
    model.load("cpu")
    blob = pickle.dumps(model)
    assert len(blob) < 20_000  # the weights stay behind
    arrived = pickle.loads(blob)
    assert arrived._pipe is None and arrived.ref == model.ref and arrived.max_batch == model.max_batch


def test_a_whole_run_edits_with_the_local_editor_on_device_workers_and_resumes_paying_nothing(
    tiny_editors, tmp_path: Path, edit_photos
):
    import io
    import sqlite3

    from PIL import Image
    from rich.console import Console

    from editforge.config import build_config
    from editforge.pipeline import run

    photos = tmp_path / "photos"
    photos.mkdir()
    for name, image in edit_photos.items():
        Image.fromarray(image).save(photos / f"{name}.png")
    options = {**TINY_EDITOR_OPTIONS["instruct_pix2pix"], "devices": ["cpu"], "batch_size": 4, "batch_wait_s": 0.2}
    settings = {
        "out": str(tmp_path / "run"),
        "images": str(photos),
        "per_photo": 2,
        "max_attempts": 1,
        "max_side": 96,
        "workers": 1,
        "align": "pad",
        "roles": {"editor": {"provider": "local", "model": str(tiny_editors["instruct_pix2pix"]), "options": options}},
    }
    text = io.StringIO()
    summary = run(build_config(settings, {}), console=Console(file=text, width=200))
    assert summary.stopped is None and summary.counts.get("planned", 0) == 0, text.getvalue()[-3000:]
    assert (tmp_path / "run" / "sft.jsonl").exists()

    def rows(sql: str) -> list:
        db = sqlite3.connect(tmp_path / "run" / "ledger.sqlite")
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    attempts = [json.loads(j) for (j,) in rows("SELECT json FROM attempts")]
    assert len(attempts) == 4
    for attempt in attempts:  # noise, but real edits, each recorded with its sizes and device time
        assert attempt["status"] == "ok", attempt["error"]
        assert attempt["model"]["provider"] == "local"
        raw = json.loads(attempt["raw_reply"])
        assert raw["pipeline"] == "StableDiffusionInstructPix2PixPipeline"
        assert raw["output_size"] == [attempt["width"], attempt["height"]]
        assert attempt["usage"]["device_seconds"] > 0
    calls = rows("SELECT role, status FROM calls ORDER BY id")
    assert calls.count(("editor", "ok")) == 4
    again = run(build_config(settings, {}), console=Console(file=io.StringIO()))
    assert again.counts == summary.counts
    assert rows("SELECT role, status FROM calls ORDER BY id") == calls  # nothing edited twice


# -- what is refused before any work -------------------------------------------------------------------------
def test_a_missing_model_is_one_line_naming_how_to_get_it(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProviderError) as error:
        build_role("editor", "local", "Qwen/Qwen-Image-Edit-2511", {})
    assert "hf download Qwen/Qwen-Image-Edit-2511" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ProviderError, match="does not exist"):
        build_role("editor", "local", str(tmp_path / "nowhere"), {})


def test_a_folder_without_model_index_is_refused(tiny_editors):
    with pytest.raises(ProviderError, match="model_index.json"):
        build_role("editor", "local", str(tiny_editors["flux_kontext"] / "transformer"), {})


def test_options_the_pipeline_does_not_take_are_refused(tiny_editors, tmp_path: Path):
    qwen = tiny_editors["qwen_image_edit_plus"]
    with pytest.raises(ProviderError, match="image_guidance_scale"):
        build_role("editor", "local", str(qwen), {"image_guidance_scale": 1.5})
    with pytest.raises(ProviderError, match="unknown option"):
        build_role("editor", "local", str(qwen), {"stpes": 4})
    with pytest.raises(ProviderError, match="positive whole number"):
        build_role("editor", "local", str(qwen), {"steps": 0})
    with pytest.raises(ProviderError, match="height/width"):  # its __call__ has no size arguments
        build_role("editor", "local", str(tiny_editors["instruct_pix2pix"]), {"height": 64, "width": 64})
    with pytest.raises(ProviderError, match="need a lora"):
        build_role("editor", "local", str(qwen), {"lora_scale": 0.5})
    with pytest.raises(ProviderError, match="together"):
        build_role("editor", "local", str(qwen), {"height": 64})
    longcat = tmp_path / "longcat"
    longcat.mkdir()
    (longcat / "model_index.json").write_text(json.dumps({"_class_name": "LongCatImageEditPipeline"}))
    assert build_role("editor", "local", str(longcat), {}).max_batch == 1
    with pytest.raises(ProviderError, match="max_area"):
        build_role("editor", "local", str(longcat), {"max_area": 512 * 512})


def test_a_pipeline_class_outside_the_table_runs_one_photo_per_call(tmp_path: Path):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "SomeFutureEditPipeline"}))
    model = build_role("editor", "local", str(folder), {"batch_size": 8, "steps": 20})
    assert model.max_batch == 1 and "not in editforge's pipeline table" in model.batch_note
    with pytest.raises(ProviderError, match="true_cfg_scale"):
        build_role("editor", "local", str(folder), {"true_cfg_scale": 4.0})


def test_a_missing_lora_is_refused_before_loading(tiny_editors, tmp_path: Path, monkeypatch):
    pytest.importorskip("peft")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProviderError, match="hf download lightx2v/Qwen-Image-Lightning"):
        build_role(
            "editor", "local", str(tiny_editors["qwen_image_edit_plus"]), {"lora": "lightx2v/Qwen-Image-Lightning"}
        )


def test_klein_distilled_defaults_come_from_its_model_index(tiny_editors, edit_photos):
    model = build_role("editor", "local", str(tiny_editors["flux2_klein"]), {"max_area": 96 * 96})
    assert model.spec.defaults == {"num_inference_steps": 4, "guidance_scale": 1.0}


# -- the same on a CUDA GPU (CPU-only CI deselects these with -m "not gpu") ----------------------------------
gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@gpu
@needs_cuda
@pytest.mark.parametrize("kind", list(CLASSES))
def test_bf16_on_cuda_is_reproducible(kind, tiny_editors, edit_photos):
    model = editor(tiny_editors[kind], kind, devices=["cuda:0"])  # dtype auto → bfloat16 on CUDA
    first = model.edit(edit_photos["astronaut"], ASK, 5)
    assert json.loads(first.raw)["device"] == "cuda:0"
    assert next(model._pipe.components["vae"].parameters()).dtype == torch.bfloat16
    again = model.edit(edit_photos["astronaut"], ASK, 5)
    assert np.abs(first.image.astype(int) - again.image.astype(int)).max() <= 2  # kernel nondeterminism


@gpu
@needs_cuda
@pytest.mark.parametrize("kind", BATCHING)
def test_batches_on_cuda_match_single_edits(kind, tiny_editors, edit_photos):
    model = editor(tiny_editors[kind], kind, devices=["cuda:0"], dtype="float32", batch_size=4)
    photos = [edit_photos["astronaut"]] * 4
    seeds = [1, 2, 3, 4]
    batch = model.edit_many(photos, [ASK] * 4, seeds)
    for reply, seed in zip(batch, seeds, strict=True):
        alone = model.edit(photos[0], ASK, seed)
        assert np.abs(reply.image.astype(int) - alone.image.astype(int)).max() <= 2
