"""Shared fixtures: real sample photos (scikit-image ships them) and photo folders on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _small(image: np.ndarray, side: int) -> np.ndarray:
    pil = Image.fromarray(image)
    pil.thumbnail((side, side))
    return np.asarray(pil.convert("RGB"))


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    import skimage.data

    return skimage.data.coffee()


@pytest.fixture(scope="session")
def small_photos() -> dict[str, np.ndarray]:
    """A few real photos at ~256 px: fast enough for end-to-end tests."""
    import skimage.data

    return {
        "astronaut": _small(skimage.data.astronaut(), 256),
        "coffee": _small(skimage.data.coffee(), 256),
        "chelsea": _small(skimage.data.chelsea(), 256),
        "rocket": _small(skimage.data.rocket(), 256),
    }


@pytest.fixture
def photo_dir(tmp_path: Path, small_photos: dict[str, np.ndarray]) -> Path:
    """A folder of real photos as JPEG and PNG files."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, (name, image) in enumerate(small_photos.items()):
        suffix = ".jpg" if i % 2 else ".png"
        Image.fromarray(image).save(folder / f"{name}{suffix}", quality=92)
    return folder


# -- a real run with sessions, shared by the export tests (built once per test module) ----------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, small_photos: dict[str, np.ndarray]) -> Path:
    root = tmp_path_factory.mktemp("export")
    photos = root / "photos"
    photos.mkdir()
    for i, (name, image) in enumerate(small_photos.items()):
        Image.fromarray(image).save(photos / f"{name}{'.jpg' if i % 2 else '.png'}", quality=92)
    from export_support import build_run

    return build_run(root, photos)


@pytest.fixture(scope="module")
def expected(run_dir: Path) -> dict[str, list]:
    from editforge.dataset import example_views, session_views
    from editforge.store.ledger import Ledger

    with Ledger(run_dir / "ledger.sqlite") as ledger:
        views = list(example_views(ledger))
        return {
            "sft": [v for v in views if v.example.kind == "sft"],
            "preference": [v for v in views if v.example.kind == "preference"],
            "multi_turn": list(session_views(ledger)),
        }


# -- one local Ray for every Ray test of a session (started only when a test asks for it) -------------
@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray with 4 logical CPUs (on 2 cores fewer starve its own actors); yields its address."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


# -- tiny random-weight local models (editforge.testing.tiny_models), each kind built once per session ------
@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):
    """kind → folder of a tiny saved model (e.g. tiny_model("vlm")); built on first use. Tests never write in it."""
    pytest.importorskip("torch")  # the `local` extra; CI installs it, so these tests run there
    from editforge.testing import tiny_models

    root = tmp_path_factory.mktemp("tiny-models")
    built: dict[str, Path] = {}

    def folder(kind: str) -> Path:
        if kind not in built:
            built[kind] = tiny_models.build(root, [kind])[kind]
        return built[kind]

    return folder


# -- tiny random-weight diffusers editors, built once per session and loaded like a user's model folder -------
TINY_EDITOR_KINDS = ("qwen_image_edit_plus", "flux2_klein", "flux_kontext", "instruct_pix2pix")


@pytest.fixture(scope="session")
def tiny_editors(tiny_model) -> dict[str, Path]:
    """kind → a saved tiny pipeline folder (model_index.json + components), as tiny_models' command writes it."""
    pytest.importorskip("diffusers")
    return {kind: tiny_model(kind) for kind in TINY_EDITOR_KINDS}


@pytest.fixture(scope="session")
def edit_photos() -> dict[str, np.ndarray]:
    """Two real photos of different sizes and aspect ratios, small enough for tiny pipelines on a CPU."""
    import skimage.data

    def sized(image: np.ndarray, width: int, height: int) -> np.ndarray:
        return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))

    return {
        "astronaut": sized(skimage.data.astronaut(), 96, 64),
        "coffee": sized(skimage.data.coffee(), 80, 64),
    }


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch):
    """An in-process S3-compatible server (moto) on 127.0.0.1 with one empty bucket; never a real cloud."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="editforge-test")
    import fsspec

    fsspec.filesystem("s3").clear_instance_cache()  # no client from an earlier test's server
    yield boto3.client("s3", endpoint_url=endpoint)
    server.stop()


@pytest.fixture
def editor_dispatcher():
    """A dispatcher whose one role, an offline editor, runs on the executor a test gives it."""
    from editforge.config import RetryPolicy
    from editforge.engine.calls import Dispatcher
    from editforge.models.prices import PriceTable
    from editforge.records import ModelRef

    def make(executor, local_timeout_s: float = 60.0) -> Dispatcher:  # noqa: ANN001 - any Executor
        return Dispatcher(
            executors={"editor": executor},
            execution={"editor": "cpu"},
            refs={"editor": ModelRef(provider="offline", model="classical-editor")},
            limits={},
            retries=RetryPolicy(max_tries=3, base_s=0.01, max_wait_s=0.05),
            timeout_s=60.0,
            local_timeout_s=local_timeout_s,
            prices=PriceTable({}),
        )

    return make
