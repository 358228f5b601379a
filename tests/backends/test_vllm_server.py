"""The OpenAI-compatible server client: request bodies, recorded responses, both transports.

The responses in ``fixtures/`` follow the schema of vLLM's ``/v1/completions``
(``CompletionResponse`` with ``return_token_ids`` and ``return_tokens_as_token_ids``), of a
server without vLLM's extensions, and of one without logprobs. The transports are exercised
against a throwaway HTTP server on the loopback interface; nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agents.policy import Observation, Policy, SamplingParams, TokenPolicy
from agents.vllm import prompt_token_ids
from agents.vllm_server import (
    VllmServerPolicy,
    build_completion_request,
    openai_transport,
    parse_completion_response,
    sample_from_choice,
    urllib_transport,
)

FIXTURES = Path(__file__).parent / "fixtures"
PROMPTS = [[151644, 872, 198], [151644, 1474, 198, 7]]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


# ---- requests ------------------------------------------------------------------------------------


def test_request_body_for_vllm() -> None:
    sampling = SamplingParams(
        temperature=0.6, top_p=0.95, max_new_tokens=32, seed=1, stop=("</s>",)
    )
    body = build_completion_request("qwen", PROMPTS, sampling, n=2)
    assert body == {
        "model": "qwen",
        "prompt": PROMPTS,
        "n": 2,
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 32,
        "logprobs": 1,
        "seed": 1,
        "stop": ["</s>"],
        "return_token_ids": True,
        "return_tokens_as_token_ids": True,
    }
    json.dumps(body)  # the body is plain JSON


def test_request_body_without_vllm_extensions() -> None:
    body = build_completion_request("m", [[1]], SamplingParams(), n=1, vllm_extensions=False)
    assert "return_token_ids" not in body and "seed" not in body and "stop" not in body
    with pytest.raises(ValueError, match="n must be >= 1"):
        build_completion_request("m", [[1]], SamplingParams(), n=0)


# ---- responses -----------------------------------------------------------------------------------


def test_parse_a_vllm_response() -> None:
    groups = parse_completion_response(fixture("vllm_completions.json"), PROMPTS, n=2)
    assert [[s.text for s in group] for group in groups] == [
        ['{"name": "list_notes", "arguments": {}}', "Done."],
        ["Hi", "Let me"],
    ]
    first = groups[0][0]
    assert first.completion_ids == (4913, 606, 151645)
    assert first.logprobs == (-0.03125, -0.0625, -2.0)
    assert first.prompt_ids == tuple(PROMPTS[0])
    assert first.usage == {"prompt_tokens": 3, "completion_tokens": 3}
    assert groups[1][1].finish_reason == "length" and groups[1][1].prompt_ids == tuple(PROMPTS[1])


def test_token_ids_come_from_token_strings_when_the_field_is_missing() -> None:
    choice = fixture("vllm_completions.json")["choices"][0]
    del choice["token_ids"]
    assert sample_from_choice(choice, PROMPTS[0]).completion_ids == (8421, 13)


def test_parse_a_server_without_vllm_extensions() -> None:
    (group,) = parse_completion_response(fixture("openai_completions.json"), [[1, 2, 3]], n=1)
    (sample,) = group
    assert sample.text == " Done." and sample.completion_ids == ()
    assert sample.logprobs == (-0.875, -0.125)
    assert sample.usage == {"prompt_tokens": 3, "completion_tokens": 2}


def test_parse_a_server_without_logprobs() -> None:
    (group,) = parse_completion_response(fixture("plain_completions.json"), [[1, 2, 3]], n=2)
    assert [(s.text, s.logprobs, s.finish_reason) for s in group] == [
        ("Sure.", None, "length"),
        ("", None, "stop"),
    ]


def test_a_response_with_missing_choices_is_an_error() -> None:
    response = fixture("vllm_completions.json")
    response["choices"] = response["choices"][:3]
    with pytest.raises(ValueError, match=r"expected 2 choices for each prompt; prompts \[1\]"):
        parse_completion_response(response, PROMPTS, n=2)
    with pytest.raises(ValueError, match="choice index 2 for 1 prompts x 2"):
        parse_completion_response(fixture("vllm_completions.json"), PROMPTS[:1], n=2)


# ---- transports against a loopback server --------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Answers every POST with ``reply`` and keeps the request."""

    reply: dict[str, Any] = {}
    seen: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    """Path, headers (lower-cased names: HTTP header names are case-insensitive) and body."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.seen.append((self.path, headers, body))
        payload = json.dumps(self.reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.reply = fixture("vllm_completions.json")
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("make_transport", [urllib_transport, openai_transport])
def test_transport_posts_the_body_and_returns_the_json(server: str, make_transport: Any) -> None:
    if make_transport is openai_transport:
        pytest.importorskip("openai")
    post = make_transport(server, "secret", 10.0)
    body = build_completion_request("qwen", PROMPTS, SamplingParams(seed=4), n=2)
    response = post(body)
    ((path, headers, sent),) = Recorder.seen
    assert path == "/v1/completions" and headers["authorization"] == "Bearer secret"
    assert sent == body  # vLLM's extensions sit at the top level of the JSON, as vLLM reads them
    groups = parse_completion_response(response, PROMPTS, n=2)
    assert groups[0][0].completion_ids == (4913, 606, 151645)


# ---- the policy ----------------------------------------------------------------------------------


def echo_server(body: dict[str, Any]) -> dict[str, Any]:
    """A fake server: sample k of prompt p is the token ``k``, with logprob ``-p``."""
    choices = []
    for p, prompt in enumerate(body["prompt"]):
        for k in range(body["n"]):
            logprobs = {"tokens": [f"token_id:{k}"], "token_logprobs": [-float(p)]}
            choice = {"index": p * body["n"] + k, "text": f"s{k}", "logprobs": logprobs}
            choices.append(choice | {"token_ids": [k], "prompt_token_ids": prompt})
    usage = {"prompt_tokens": sum(map(len, body["prompt"])), "completion_tokens": len(choices)}
    return {"choices": choices, "usage": usage}


def test_policy_sends_one_request_for_the_batch(
    tokenizer: Any, observations: list[Observation]
) -> None:
    bodies: list[dict] = []

    def transport(body: dict[str, Any]) -> dict[str, Any]:
        bodies.append(body)
        return echo_server(body)

    policy = VllmServerPolicy("http://unused", "tiny", tokenizer=tokenizer, transport=transport)
    assert isinstance(policy, Policy) and isinstance(policy, TokenPolicy)
    groups = policy.act(observations, n=3, sampling=SamplingParams(max_new_tokens=5))
    (body,) = bodies
    expected = [prompt_token_ids(tokenizer, obs) for obs in observations]
    assert body["prompt"] == expected and body["n"] == 3 and body["max_tokens"] == 5
    assert [[s.completion_ids for s in group] for group in groups] == [[(0,), (1,), (2,)]] * 3
    assert [group[0].logprobs for group in groups] == [(-0.0,), (-1.0,), (-2.0,)]
    assert all(s.prompt_ids == tuple(expected[p]) for p, group in enumerate(groups) for s in group)
    assert policy.usage_totals == {
        "prompt_tokens": sum(map(len, expected)),
        "completion_tokens": 9,
        "requests": 1,
    }
    assert policy.act([], n=3) == []
    policy.act([Observation("kept", prompt_ids=(4, 5))])
    assert bodies[-1]["prompt"] == [[4, 5]]
