"""The Gemini provider through the real google-genai SDK, against the fake Gemini server on 127.0.0.1.

Every role end to end, every fault the service has mapped to the exception the engine acts on, the
timeout honoured, and the API key kept out of everything a run records. No network, no real key.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from google.genai import errors

from editforge import taxonomy
from editforge.models import gemini, prompting
from editforge.models.base import (
    FatalModelError,
    ModelCallError,
    TransientModelError,
    WriteRequest,
)
from editforge.models.gemini_wire import classify, redact, retry_after_s
from editforge.models.offline.core.intent import parse_instruction
from editforge.models.registry import ProviderError, build_role
from editforge.records import Scores
from editforge.testing.fake_gemini import FakeGemini

KEY = "AIzaSy-PLANTED-editforge-test-key-7Q9"  # distinctive, so any leak is found by plain search
COLOR = taxonomy.get("color_tone")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    import skimage.data

    return cv2.resize(skimage.data.coffee(), (128, 96), interpolation=cv2.INTER_AREA)


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)


@pytest.fixture
def server() -> Iterator[FakeGemini]:
    with FakeGemini(api_key=KEY, retry_after=2, hang_s=30) as fake:
        yield fake
        assert fake.errors == []  # the fake itself never failed


def role(name: str, server: FakeGemini, **options: object) -> object:
    return build_role(name, "gemini", None, {"base_url": server.base_url, "timeout_s": 10, **options})


def leaks(*texts: object) -> list[str]:
    return [str(t) for t in texts if KEY in str(t)]


# --- building --------------------------------------------------------------------------------------------


def test_build_refs_and_options(server: FakeGemini) -> None:
    built = {name: role(name, server, temperature=0.3) for name in ("writer", "rewriter", "editor", "judge")}
    assert {n: r.ref.model for n, r in built.items()} == gemini.DEFAULT_MODELS
    assert {n: r.ref.prompt_version for n, r in built.items()} == {**prompting.PROMPT_VERSION, "editor": "editor.v2"}
    for r in built.values():
        assert r.ref.provider == "gemini" and r.ref.temperature == 0.3
        assert r.execution == "io" and len(r.supported_types) == 35
        assert not leaks(r, r.ref.model_dump_json(), vars(r))
    assert role("judge", server).ref.temperature is None
    assert gemini.build("writer", "gemini-2.0-flash", {}).ref.model == "gemini-2.0-flash"
    with pytest.raises(ProviderError, match="unknown option"):
        gemini.build("judge", None, {"temprature": 0.2})


def test_missing_key_names_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(ProviderError, match="GEMINI_API_KEY") as info:
        build_role("editor", "gemini")
    assert "GOOGLE_API_KEY" in str(info.value)


# --- the roles end to end ---------------------------------------------------------------------------------


def test_roles_end_to_end(server: FakeGemini, photo: np.ndarray) -> None:
    writer, rewriter, editor, judge = (role(n, server) for n in ("writer", "rewriter", "editor", "judge"))
    long = writer.write(WriteRequest(image=photo, edit_type=COLOR, seed=4))
    assert parse_instruction(long.text).edit_type == "color_tone"
    assert long.usage.input_tokens > 258 and long.usage.output_tokens > 0 and long.raw.startswith(long.text)
    assert long.labels is not None and long.raw.rstrip().endswith(f"Labels: {', '.join(long.labels) or 'none'}")
    short = rewriter.rewrite(long.text, COLOR, seed=4)
    assert 0 < len(short.text.split()) < len(long.text.split())
    edited = editor.edit(photo, long.text, seed=4)
    assert edited.image.dtype == np.uint8 and edited.image.shape == photo.shape
    assert np.abs(edited.image.astype(np.float32) - photo).mean() > 2  # the photo, visibly edited
    assert edited.usage.images == 1 and edited.usage.output_tokens >= 1290
    verdict = judge.judge(photo, edited.image, long.text, COLOR)
    assert isinstance(verdict.scores, Scores) and verdict.scores.weighted() >= 0.7
    assert verdict.rationale and json.loads(verdict.raw)["rationale"] == verdict.rationale
    # A second turn carries the history; the writer builds on it.
    turn2 = writer.write(WriteRequest(image=edited.image, edit_type=taxonomy.get("weather"), seed=5,
                                      history=[long.text]))  # fmt: skip
    assert parse_instruction(turn2.text).edit_type == "weather"
    assert [c.role for c in server.calls] == ["writer", "rewriter", "editor", "judge", "writer"]
    assert server.by_model == {"gemini-2.5-flash": 3, "gemini-2.5-flash-image": 1, "gemini-2.5-pro": 1}
    assert server.paid_twice() == []


def test_base_url_from_environment(server: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
    rewriter = gemini.build("rewriter", None, {"timeout_s": 10})
    assert rewriter.rewrite("Make the whole photo warmer, with amber tones.", COLOR, 1).text


# --- faults ------------------------------------------------------------------------------------------------

FAULTS = [
    ("429", TransientModelError, "429 RESOURCE_EXHAUSTED"),
    ("500", TransientModelError, "500 INTERNAL"),
    ("503", TransientModelError, "503 UNAVAILABLE"),
    ("drop", TransientModelError, "connection failed"),
    ("401", FatalModelError, "401 UNAUTHENTICATED"),
    ("403", FatalModelError, "403 PERMISSION_DENIED"),
    ("404", FatalModelError, "unknown model"),
    ("400", ModelCallError, "400 INVALID_ARGUMENT"),
    ("safety", ModelCallError, "refused: SAFETY"),
    ("empty", ModelCallError, "no candidates"),
]


@pytest.mark.parametrize(("fault", "kind", "message"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_maps_to_exception(server: FakeGemini, fault: str, kind: type, message: str) -> None:
    server.script(fault)
    with pytest.raises(kind, match=message) as info:
        role("rewriter", server).rewrite("Make the whole photo warmer.", COLOR, 1)
    assert type(info.value) is kind  # not a subclass standing in for another class
    assert server.count() == 1  # the SDK retried nothing: retries are the engine's
    assert not leaks(info.value, getattr(info.value, "raw", ""), info.value.__cause__, info.value.__context__)
    if fault == "429":
        assert info.value.retry_after == 2.0
    if fault in ("safety", "empty"):  # answered, so billed: the error says what it cost
        assert json.loads(info.value.raw)["usage"]["input_tokens"] == info.value.usage.input_tokens > 0


EDITOR_FAULTS = [
    ("text_only", "no image returned: I'm unable to edit this image"),
    ("bad_base64", "malformed response"),
    ("truncated_image", "undecodable image"),
    ("image_safety", "refused: IMAGE_SAFETY"),
]


@pytest.mark.parametrize(("fault", "message"), EDITOR_FAULTS, ids=[f[0] for f in EDITOR_FAULTS])
def test_editor_faults(server: FakeGemini, photo: np.ndarray, fault: str, message: str) -> None:
    server.script(fault, role="editor")
    with pytest.raises(ModelCallError, match=message) as info:
        role("editor", server).edit(photo, "Make the whole photo warmer, with amber tones.", seed=2)
    assert type(info.value) is ModelCallError and info.value.raw and not leaks(info.value, info.value.raw)
    if fault != "bad_base64":  # (the SDK could not read that response at all, usage included)
        assert info.value.usage.input_tokens > 258


def test_judge_asks_once_more_then_fails_with_raw(server: FakeGemini, photo: np.ndarray) -> None:
    judge = role("judge", server)
    server.script("bad_json", role="judge")
    reply = judge.judge(photo, photo[:, ::-1].copy(), "Make the whole photo warmer.", COLOR)
    assert reply.scores is not None and server.count(role="judge") == 2
    for fault, why in (("bad_json", "not valid JSON|not JSON"), ("out_of_range", "outside")):
        server.reset_counts()
        server.script(fault, fault, role="judge")
        with pytest.raises(prompting.ReplyError, match=why) as info:
            judge.judge(photo, photo, "Make the whole photo warmer.", COLOR)
        assert server.count(role="judge") == 2 and info.value.raw.startswith("{")
        assert info.value.usage.input_tokens > 2 * 2 * 258  # both asks, two images each
        assert not leaks(info.value, info.value.raw)


def test_wrong_key_is_fatal_without_the_key(server: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "AIzaSy-WRONG-editforge-key-0000"
    monkeypatch.setenv("GEMINI_API_KEY", wrong)
    with pytest.raises(FatalModelError, match="API key not valid") as info:
        role("rewriter", server).rewrite("Make it warmer.", COLOR, 1)
    assert wrong not in str(info.value) and KEY not in str(info.value)


def test_hang_ends_at_the_timeout(server: FakeGemini) -> None:
    server.script("hang")
    started = time.monotonic()
    with pytest.raises(TransientModelError, match="timeout after 1 s"):
        role("rewriter", server, timeout_s=1).rewrite("Make it warmer.", COLOR, 1)
    assert time.monotonic() - started < 1 + 2.0


def test_refused_connection_is_transient_and_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the call: nothing listens there
    rewriter = gemini.build("rewriter", None, {"base_url": f"http://127.0.0.1:{port}", "timeout_s": 2})
    with pytest.raises(TransientModelError, match=f"cannot connect to http://127.0.0.1:{port}") as caught:
        rewriter.rewrite("Make it warmer.", COLOR, 1)
    assert caught.value.unreachable and not caught.value.rate_limited


def test_key_never_logged_or_recorded(server: FakeGemini, photo: np.ndarray, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[object] = []
    editor, judge = role("editor", server, modalities=["TEXT", "IMAGE"]), role("judge", server)
    server.script("ok", "429", "safety", "text_only", "bad_json", "bad_json", "401")
    for _ in range(7):
        try:
            reply = editor.edit(photo, "Make the whole photo warmer, with amber tones.", 1)
            seen += [reply.raw, reply.usage]
            seen.append(judge.judge(photo, reply.image, "Make the whole photo warmer.", COLOR))
        except (ModelCallError, TransientModelError, FatalModelError) as exc:
            seen += [exc, repr(exc), getattr(exc, "raw", ""), exc.__cause__, exc.__context__]
    assert len(seen) > 10 and not leaks(*seen)
    assert KEY not in caplog.text


# --- the fake's own behaviour --------------------------------------------------------------------------------


def test_fault_rates_are_reproducible_and_nothing_is_paid_twice() -> None:
    def run() -> tuple[list[str | None], int]:
        with FakeGemini(fault_rates={"503": 0.3, "429": 0.2}, seed=11, retry_after=0) as fake:
            rewriter = role("rewriter", fake)
            for i in range(6):  # the engine's part: retry transient failures until served
                for _ in range(20):
                    try:
                        rewriter.rewrite(f"Make the photo warmer, step {i}.", COLOR, i)
                        break
                    except TransientModelError:
                        pass
            assert fake.paid_twice() == [] and sum(fake.paid.values()) == 6
            return [c.fault for c in fake.calls], len(fake.by_content)

    faults, distinct = run()
    assert run() == (faults, distinct) and distinct == 6
    assert {"503", "429"} <= set(faults) and None in faults


def test_concurrent_calls_with_latency(photo: np.ndarray) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with FakeGemini(latency_s=(0.05, 0.15)) as fake:
        writer = role("writer", fake)  # the offline writer behind it uses OpenCV, which must not race
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda i: writer.write(WriteRequest(photo, COLOR, i)).text, range(12)))
        assert len(set(replies)) > 1 and sum(fake.paid.values()) == 12 and fake.paid_twice() == []
        assert fake.errors == []


def test_server_survives_garbage() -> None:
    with FakeGemini() as fake:
        for path, data in [("/v1beta/models/x:generateContent", b"{not json"),
                           ("/v1beta/models/x:generateContent", b'{"contents": [{"parts": [{"text": "hi"}]}]}'),
                           ("/nothing", b"{}")]:  # fmt: skip
            request = urllib.request.Request(fake.base_url + path, data=data, method="POST")
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(request, timeout=5)
            assert info.value.code in (400, 404)
            assert json.loads(info.value.read())["error"]["status"] in ("INVALID_ARGUMENT", "NOT_FOUND")
        assert role("rewriter", fake).rewrite("Make it warmer.", COLOR, 1).text and fake.errors == []
    with pytest.raises(ValueError, match="unknown fault"):
        FakeGemini(script=["teapot"])


# --- the error mapping, unit by unit ----------------------------------------------------------------------------


def test_retry_after_from_header_date_or_body() -> None:
    def error(headers: dict[str, str], details: list[dict] | None = None) -> errors.APIError:
        body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down",
                          "details": details or []}}  # fmt: skip
        return errors.ClientError(429, body, SimpleNamespace(headers=headers))

    assert retry_after_s(error({"retry-after": "7"})) == 7.0
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after_s(error({"retry-after": soon})) <= 31
    retry_info = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]
    assert retry_after_s(error({}, retry_info)) == 17.0
    assert retry_after_s(error({})) is None
    zero = errors.ClientError(429, {"error": {"code": 429, "message": "Quota exceeded, limit: 0"}}, None)
    assert isinstance(classify(zero, "m", KEY, 10), FatalModelError)
    echoed = errors.ClientError(403, {"error": {"code": 403, "message": f"key {KEY} is suspended"}}, None)
    mapped = classify(echoed, "m", KEY, 10)
    assert isinstance(mapped, FatalModelError) and KEY not in str(mapped)
    assert redact(f"a {KEY} b", KEY) == "a [redacted] b" and redact("keep keys", "k") == "keep keys"
