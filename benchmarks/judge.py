"""The seed's optional LLM judge (SPEC-arc.md 4.2), called through litellm.

Off by default: the deterministic metrics never need it. When ``crm-gym eval --judge MODEL`` turns
it on, the harness asks it, as upstream did, about a success-path turn whose tool call executed
but did not match the reference exactly (``kind="tool"``), and about a non-empty reply that lacks
the reference reply's facts (``kind="response"``). The model answers a JSON object
``{"pass": bool, "score": float, "rationale": str}`` at temperature 0 with at most 500 tokens;
the harness uses ``pass`` (upstream's rubric names a 0.8 score threshold, but its harness read the
boolean). Any error (network, bad JSON, missing key) is a failed verdict with score 0, as upstream.

Example (offline, with litellm's ``mock_response``):
    >>> judge = LlmJudge("gpt-4.1", completion_kwargs={
    ...     "mock_response": '{"pass": true, "score": 0.9, "rationale": "same goal"}'})
    >>> judge("tool", {"user_utterance": "Find Acme", "expected_tool": "client_search"}).passed
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping

JudgeKind = Literal["tool", "response"]

TOOL_RUBRIC = """You are grading one turn of a CRM assistant against a reference solution.
Score from 0 to 1: 70% weight on whether the agent's tool call achieves the user's goal, 30% on
process: the tool choice (functional equivalents count, e.g. opportunity_details vs
view_opportunity_details) and argument agreement (more than 70% of the expected arguments agree).
Pass when the score is at least 0.8. Answer with a JSON object only:
{"pass": true|false, "score": <0..1>, "rationale": "<one sentence>"}"""

RESPONSE_RUBRIC = """You are grading the reply a CRM assistant gave the user after its tool call.
Score from 0 to 1: 70% weight on whether the turn's tool work succeeded and the reply gives the
user what the reference reply gives (the ids, values and outcome; wording and run-specific ids or
timestamps may differ), 30% on the reply being informative and accurate.
Pass when the score is at least 0.8. Answer with a JSON object only:
{"pass": true|false, "score": <0..1>, "rationale": "<one sentence>"}"""

RUBRICS: dict[str, str] = {"tool": TOOL_RUBRIC, "response": RESPONSE_RUBRIC}


@dataclass(frozen=True)
class Verdict:
    """The judge's answer about one turn."""

    passed: bool
    score: float
    rationale: str


Judge = Callable[[JudgeKind, Mapping[str, Any]], Verdict]
"""What the harness calls: ``judge(kind, context) -> Verdict``."""


class LlmJudge:
    """The seed's judge: ``model`` via ``litellm.completion``, temperature 0, 500 tokens, JSON.

    Args:
        model: A litellm model string (upstream: ``"gpt-4.1"``).
        completion_kwargs: More ``litellm.completion`` arguments (``api_base``, ``mock_response``).
        completion_fn: The completion function (tests inject fakes); ``litellm.completion``.
    """

    def __init__(
        self,
        model: str = "gpt-4.1",
        *,
        completion_kwargs: Mapping[str, Any] | None = None,
        completion_fn: Callable[..., Any] | None = None,
    ):
        from agents.api import import_litellm

        self.litellm = import_litellm()
        self.model = model
        self.extra = dict(completion_kwargs or {})
        self.completion_fn = completion_fn or self.litellm.completion

    def __call__(self, kind: JudgeKind, context: Mapping[str, Any]) -> Verdict:
        """Grade one turn; any failure of the call or of its answer is a failed verdict."""
        messages = [
            {"role": "system", "content": RUBRICS[kind]},
            {"role": "user", "content": json.dumps(dict(context), default=str)},
        ]
        try:
            response = self.completion_fn(
                model=self.model,
                messages=messages,
                temperature=0,
                max_tokens=500,
                response_format={"type": "json_object"},
                **self.extra,
            )
            return parse_verdict(response.choices[0].message.content)
        except Exception as exc:  # noqa: BLE001 -- upstream: any judge error fails the turn
            return Verdict(False, 0.0, f"judge error: {type(exc).__name__}: {exc}")


def parse_verdict(text: str | None) -> Verdict:
    """The verdict in a judge's JSON answer; raises ``ValueError`` when it is not one.

    Example:
        >>> parse_verdict('{"pass": false, "score": 0.4, "rationale": "wrong client"}')
        Verdict(passed=False, score=0.4, rationale='wrong client')
    """
    try:
        data = json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise ValueError(f"judge answer is not JSON: {text!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("pass"), bool):
        raise ValueError(f"judge answer lacks a boolean 'pass': {text!r}")
    return Verdict(data["pass"], float(data.get("score", 0.0)), str(data.get("rationale", "")))
