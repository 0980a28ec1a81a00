"""The OpenAI-compatible provider, through the real `openai` SDK, against the fake server."""

from __future__ import annotations

import contextlib
import http.client
import json
import pickle
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from editforge import taxonomy
from editforge.models import prompting
from editforge.models.base import FatalModelError, ModelCallError, TransientModelError, WriteRequest
from editforge.models.openai_compat import DEFAULT_MODELS, JUDGE_RESPONSE_FORMAT, build
from editforge.models.registry import ProviderError, build_role
from editforge.testing.fake_openai import FakeOpenAI

KEY = "sk-test-PLANTED-7f3a9c1e5b2d4680ZQ"
COLOR = taxonomy.get("color_tone")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    import skimage.data

    pil = Image.fromarray(skimage.data.coffee())
    pil.thumbnail((128, 128))
    return np.asarray(pil.convert("RGB"))


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def server(key_env: None) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY, retry_after=7, hang_s=20) as fake:
        yield fake
    assert fake.errors == [], "the fake server raised inside its handler"


def roles(server: FakeOpenAI, **options: Any) -> dict[str, Any]:
    opts = {"base_url": server.base_url, "timeout_s": 5, **options}
    return {role: build_role(role, "openai", None, dict(opts)) for role in ("writer", "rewriter", "editor", "judge")}


def instruction(writer: Any, photo: np.ndarray, seed: int = 1) -> str:
    return writer.write(WriteRequest(image=photo, edit_type=COLOR, seed=seed)).text


# ---------------------------------------------------------------------------- each role end to end


def test_each_role_end_to_end(server: FakeOpenAI, photo: np.ndarray) -> None:
    r = roles(server)
    for role, obj in r.items():
        assert obj.ref.provider == "openai" and obj.ref.model == DEFAULT_MODELS[role]
        assert obj.ref.prompt_version == prompting.PROMPT_VERSION.get(role, "editor.v2")
        assert obj.ref.temperature is None and obj.execution == "io"
        assert obj.supported_types == frozenset(taxonomy.keys()) and len(obj.supported_types) == 35

    written = r["writer"].write(WriteRequest(image=photo, edit_type=COLOR, seed=4, history=[]))
    assert len(written.text.split()) > 10 and written.raw.startswith(written.text) and written.labels is not None
    assert written.usage.input_tokens > 0 and written.usage.output_tokens > 0

    short = r["rewriter"].rewrite(written.text, COLOR, seed=4)
    assert 0 < len(short.text.split()) <= 12

    edited = r["editor"].edit(photo, written.text, seed=4)
    assert edited.image.dtype == np.uint8 and edited.image.shape == photo.shape
    assert edited.usage.images == 1 and edited.usage.input_tokens > 0
    assert '"b64_chars"' in edited.raw and "b64_json" not in edited.raw

    verdict = r["judge"].judge(photo, edited.image, written.text, COLOR)
    assert verdict.scores is not None and 0 <= verdict.scores.weighted() <= 1
    assert verdict.rationale and json.loads(verdict.raw)["rationale"] == verdict.rationale

    writer_req, rewriter_req, editor_req, judge_req = (e.body for e in server.log)
    assert writer_req["seed"] == 4 and "temperature" not in writer_req
    assert [p["type"] for p in writer_req["messages"][0]["content"]] == ["image_url", "text"]
    assert rewriter_req["messages"][0]["content"] == prompting.rewriter_prompt(written.text)
    assert "response_format" not in editor_req  # GPT image models reject it: they always send base64
    assert judge_req["response_format"] == JUDGE_RESPONSE_FORMAT
    parts = judge_req["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    assert parts[2]["text"] == prompting.judge_prompt(written.text, COLOR)
    assert server.paid_twice() == [] and sum(server.calls.values()) == 4


def test_judge_sends_edited_image_first(server: FakeOpenAI, photo: np.ndarray) -> None:
    judge = roles(server)["judge"]
    small = photo[::2, ::2].copy()  # a smaller "edited" image has the shorter data URL
    with contextlib.suppress(ModelCallError):  # only the request's order matters here
        judge.judge(photo, small, "make it warmer", COLOR)
    parts = server.log[-1].body["messages"][0]["content"]
    assert len(parts[0]["image_url"]) < len(parts[1]["image_url"])


def test_options_reach_the_wire_and_the_ref(server: FakeOpenAI, photo: np.ndarray) -> None:
    opts = {"temperature": 0.2, "send_seed": False, "reasoning_effort": "none", "max_completion_tokens": 300}
    writer = build("writer", "qwen2.5-vl-7b", {"base_url": server.base_url, **opts})
    assert writer.ref.temperature == 0.2 and writer.ref.model == "qwen2.5-vl-7b"
    instruction(writer, photo)
    body = server.log[-1].body
    assert body["temperature"] == 0.2 and "seed" not in body
    assert body["reasoning_effort"] == "none" and body["max_completion_tokens"] == 300
    # A model that is not a GPT image model is asked for base64 explicitly.
    editor = build("editor", "qwen-image-edit", {"base_url": server.base_url})
    editor.edit(photo, "Give the whole photo a warm golden colour grade.", seed=1)
    assert server.log[-1].body["response_format"] == "b64_json"


def test_base_url_from_environment(server: FakeOpenAI, photo: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    assert instruction(build("writer", None, {"timeout_s": 5}), photo)


def test_role_survives_pickling(server: FakeOpenAI, photo: np.ndarray) -> None:
    writer = roles(server)["writer"]
    instruction(writer, photo)
    clone = pickle.loads(pickle.dumps(writer))
    assert KEY.encode() not in pickle.dumps(writer)
    assert instruction(clone, photo)


# ---------------------------------------------------------------------------- faults → exception classes


@pytest.mark.parametrize(
    ("server_kwargs", "expected"),
    [({"retry_after": 7}, 7.0), ({"retry_after": 7, "retry_after_ms": 2500}, 2.5), ({"retry_after": None}, None)],
)
def test_rate_limit_is_transient_with_retry_after(
    key_env: None, photo: np.ndarray, server_kwargs: dict, expected: float | None
) -> None:
    with FakeOpenAI(api_key=KEY, **server_kwargs) as server:
        server.script("rate_limit", route="writer")
        with pytest.raises(TransientModelError) as caught:
            instruction(roles(server)["writer"], photo)
        assert caught.value.retry_after == expected and "429" in str(caught.value)
        assert instruction(roles(server)["writer"], photo)  # the next call goes through


@pytest.mark.parametrize("fault", ["server_error", "bad_gateway", "unavailable", "drop"])
def test_server_failures_are_transient(server: FakeOpenAI, photo: np.ndarray, fault: str) -> None:
    server.script(fault)
    with pytest.raises(TransientModelError):
        roles(server)["rewriter"].rewrite("Make the photo warmer.", COLOR, seed=1)


def test_a_hang_ends_within_the_timeout(server: FakeOpenAI, photo: np.ndarray) -> None:
    server.script("hang", route="editor")
    editor = build("editor", None, {"base_url": server.base_url, "timeout_s": 1})
    started = time.monotonic()
    with pytest.raises(TransientModelError, match="no reply within 1 s"):
        editor.edit(photo, "Give the whole photo a warm golden colour grade.", seed=1)
    assert time.monotonic() - started < 1 + 3


@pytest.mark.parametrize("fault", ["unauthorized", "forbidden", "not_found", "quota"])
def test_config_failures_are_fatal(server: FakeOpenAI, photo: np.ndarray, fault: str) -> None:
    server.script(fault)
    with pytest.raises(FatalModelError) as caught:
        instruction(roles(server)["writer"], photo)
    assert KEY not in str(caught.value) and "sk-ab" not in str(caught.value)


def test_wrong_key_is_fatal_and_never_echoed(key_env: None, photo: np.ndarray) -> None:
    with FakeOpenAI(api_key="sk-the-right-one-000000") as server, pytest.raises(FatalModelError) as caught:
        instruction(roles(server)["writer"], photo)
    message = str(caught.value)
    assert "401" in message and "OPENAI_API_KEY" in message
    assert KEY not in message and "PLANTED" not in message and KEY[-4:] not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_unknown_model_is_fatal(key_env: None, photo: np.ndarray) -> None:
    with FakeOpenAI(api_key=KEY, models={"gpt-6.1-terra"}) as server:
        assert instruction(roles(server)["writer"], photo)
        with pytest.raises(FatalModelError, match="not found"):
            build("writer", "gpt-nope", {"base_url": server.base_url}).write(
                WriteRequest(image=photo, edit_type=COLOR, seed=1)
            )


def test_bad_request_is_a_model_call_error_with_the_server_message(server: FakeOpenAI, photo: np.ndarray) -> None:
    server.script("bad_request", route="editor")
    with pytest.raises(ModelCallError, match="Invalid value for 'prompt'") as caught:
        roles(server)["editor"].edit(photo, "Give the whole photo a warm golden colour grade.", seed=1)
    assert not isinstance(caught.value, FatalModelError | TransientModelError)


@pytest.mark.parametrize(("fault", "match"), [("refusal", "^refused: "), ("content_filter", "^refused: ")])
def test_refusals(server: FakeOpenAI, photo: np.ndarray, fault: str, match: str) -> None:
    server.script(fault, route="writer")
    with pytest.raises(ModelCallError, match=match) as caught:
        instruction(roles(server)["writer"], photo)
    if fault == "refusal":
        assert "can't help" in caught.value.raw


def test_empty_choices(server: FakeOpenAI, photo: np.ndarray) -> None:
    server.script("empty_choices", route="judge")
    with pytest.raises(ModelCallError, match="no choices"):
        roles(server)["judge"].judge(photo, photo, "make it warmer", COLOR)


@pytest.mark.parametrize("fault", ["no_image_data", "truncated_b64"])
def test_bad_image_replies(server: FakeOpenAI, photo: np.ndarray, fault: str) -> None:
    server.script(fault, route="editor")
    with pytest.raises(ModelCallError) as caught:
        roles(server)["editor"].edit(photo, "Give the whole photo a warm golden colour grade.", seed=1)
    assert caught.value.raw  # what the editor did say is kept


# ---------------------------------------------------------------------------- the judge's reply


@pytest.mark.parametrize("fault", ["malformed_json", "out_of_range", "nan"])
def test_judge_asks_once_more_then_raises_reply_error(server: FakeOpenAI, photo: np.ndarray, fault: str) -> None:
    server.script(fault, fault, route="judge")
    with pytest.raises(prompting.ReplyError, match="asked twice") as caught:
        roles(server)["judge"].judge(photo, photo, "make it warmer", COLOR)
    assert caught.value.raw and "instruction_compliance" in caught.value.raw
    seeds = [e.body.get("seed") for e in server.log if e.route == "judge"]
    assert seeds == [0, 1]


def test_judge_recovers_on_the_second_ask(server: FakeOpenAI, photo: np.ndarray) -> None:
    server.script("malformed_json", route="judge")
    r = roles(server)
    warm = r["editor"].edit(photo, "Give the whole photo a warm golden colour grade.", seed=1).image
    verdict = r["judge"].judge(photo, warm, "Give the whole photo a warm golden colour grade.", COLOR)
    assert verdict.scores is not None
    assert server.count(route="judge") == 2 and verdict.usage.input_tokens > 2 * 255


def test_structured_output_false_for_servers_without_json_schema(key_env: None, photo: np.ndarray) -> None:
    with FakeOpenAI(api_key=KEY, json_schema=False) as server:
        with pytest.raises(FatalModelError, match="structured_output: false"):
            roles(server)["judge"].judge(photo, photo, "make it warmer", COLOR)
        plain = roles(server, structured_output=False)["judge"]
        verdict = plain.judge(photo, photo, "make it warmer", COLOR)
        assert verdict.scores is not None and verdict.scores.instruction_compliance == 0  # nothing changed
        assert "response_format" not in server.log[-1].body
        assert server.errors == []


# ---------------------------------------------------------------------------- keys


def test_missing_key_is_a_provider_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MY_LOCAL_KEY", raising=False)
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        build_role("writer", "openai", None, {})
    with pytest.raises(ProviderError, match="MY_LOCAL_KEY"):
        build_role("judge", "openai", None, {"api_key_env": "MY_LOCAL_KEY"})


def test_keys_come_from_the_environment_only(key_env: None) -> None:
    with pytest.raises(ProviderError, match="environment only") as caught:
        build("writer", None, {"api_key": KEY})
    assert KEY not in str(caught.value)
    with pytest.raises(ProviderError, match="must name an environment variable") as caught:
        build("writer", None, {"api_key_env": KEY})
    assert KEY not in str(caught.value)
    with pytest.raises(ProviderError, match="unknown option"):
        build("editor", None, {"structured_outputs": True})


def test_no_key_for_a_local_server(monkeypatch: pytest.MonkeyPatch, photo: np.ndarray) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI() as server:
        r = roles(server, no_key=True)
        text = instruction(r["writer"], photo)
        assert r["rewriter"].rewrite(text, COLOR, seed=1).text
        assert server.errors == []


def test_planted_key_never_appears(server: FakeOpenAI, photo: np.ndarray) -> None:
    r = roles(server)
    seen: list[str] = [obj.ref.model_dump_json() for obj in r.values()]
    text = instruction(r["writer"], photo)
    seen.append(r["writer"].write(WriteRequest(image=photo, edit_type=COLOR, seed=2)).raw)
    edited = r["editor"].edit(photo, text, seed=1)
    seen += [edited.raw, r["judge"].judge(photo, edited.image, text, COLOR).raw]
    faults = ["unauthorized", "forbidden", "rate_limit", "server_error", "refusal", "bad_request", "drop"]
    for fault in faults:
        server.script(fault)
        try:
            instruction(r["writer"], photo)
        except Exception as exc:  # every class: what a log or ledger would keep
            seen += [str(exc), repr(exc), getattr(exc, "raw", "")]
    server.script("no_image_data", route="editor")
    with pytest.raises(ModelCallError) as caught:
        r["editor"].edit(photo, text, seed=1)
    seen += [str(caught.value), caught.value.raw]
    assert len(seen) > 20
    for item in seen:
        assert KEY not in item and "PLANTED" not in item


# ---------------------------------------------------------------------------- the fake itself


def test_fake_counts_calls_and_scripts_and_rates(key_env: None) -> None:
    def pattern(seed: int) -> list[int]:
        with FakeOpenAI(api_key=KEY, faults={"server_error": 0.5}, seed=seed) as server:
            rewriter = build("rewriter", "m", {"base_url": server.base_url})
            for i in range(8):
                with contextlib.suppress(TransientModelError):
                    rewriter.rewrite(f"Make the photo warmer, step {i}.", COLOR, seed=1)
            assert server.count(model="m") == 8 == server.calls["m"]
            return [e.status for e in server.log]

    first = pattern(3)
    assert first == pattern(3) and {200, 500} <= set(first)

    with FakeOpenAI(api_key=KEY) as server:
        rewriter = build("rewriter", None, {"base_url": server.base_url})
        rewriter.rewrite("Make the photo warmer.", COLOR, seed=1)
        rewriter.rewrite("Make the photo cooler.", COLOR, seed=1)
        assert server.paid_twice() == []
        rewriter.rewrite("Make the photo warmer.", COLOR, seed=1)  # the same request, paid again
        assert server.paid_twice() == [(DEFAULT_MODELS["rewriter"], server.log[0].digest)]
    with pytest.raises(ValueError, match="unknown fault"):
        FakeOpenAI(faults={"gremlins": 1.0})


def test_fake_survives_garbage(key_env: None) -> None:
    with FakeOpenAI() as server:
        for method, path, body, headers in [
            ("POST", "/v1/chat/completions", b"{not json", {"Content-Type": "application/json"}),
            ("POST", "/v1/chat/completions", b'{"model": "m", "messages": 3}', {}),
            ("POST", "/v1/images/edits", b"--x\r\n", {"Content-Type": "multipart/form-data; boundary=x"}),
            ("POST", "/v1/nowhere", b"{}", {}),
            ("GET", "/v1/models", None, {}),
        ]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            assert 400 <= response.status < 500, (path, response.status)
            assert "error" in json.loads(response.read())
            conn.close()
        assert server.errors == []


def test_concurrent_calls_with_latency_and_random_faults(key_env: None, photo: np.ndarray) -> None:
    from concurrent.futures import ThreadPoolExecutor

    faults = {"rate_limit": 0.2, "server_error": 0.1, "drop": 0.1, "refusal": 0.1}
    with FakeOpenAI(api_key=KEY, faults=faults, seed=7, latency_s=(0.02, 0.08)) as server:
        r = roles(server)

        def one(i: int) -> str:
            try:
                if i % 2:
                    return r["rewriter"].rewrite(f"Make the photo warmer, number {i}.", COLOR, seed=i).text
                return instruction(r["writer"], photo, seed=i)
            except (TransientModelError, ModelCallError) as exc:
                return type(exc).__name__

        with ThreadPoolExecutor(6) as pool:
            outcomes = list(pool.map(one, range(18)))
        assert server.errors == [] and len(server.log) == 18
        assert {"TransientModelError"} <= set(outcomes) and any(len(o.split()) > 2 for o in outcomes)
        assert sum(server.by_content.values()) == 18
