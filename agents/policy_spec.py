"""What a ``--policy`` value names, decided in one place, and the policy it builds.

The valid forms (``POLICY_FORMS``), tried in this order:

- ``replay``, ``random``: the baselines (``agents.baselines``);
- ``vllm:MODEL``: an in-process vLLM engine (``agents.vllm``);
- a directory: a ``crm-gym train`` run (it holds ``args.json``; its trained model is evaluated as
  the run's held-out evaluation ran it) or a Hugging Face model (it holds ``config.json``);
- ``package.module:ClassName``: a class (or factory) of your own, called without arguments; its
  instances need ``act(observations, n, sampling)`` (``agents.policy.Policy``), and a class
  attribute ``expose_reference = True`` asks for envs that put the reference in ``info``;
- a litellm model string: ``PROVIDER/MODEL`` with a provider litellm knows (``openai/gpt-4.1``,
  ``anthropic/claude-sonnet-4-5``, ``hosted_vllm/NAME``), or a model name in litellm's offline
  model list (``gpt-4.1``).

Anything else (a typo such as ``replya``, a missing directory) is a ``PolicySpecError`` that
lists these forms, before any model is loaded or any request is sent.

Example:
    >>> parse_policy("replay").kind, parse_policy("vllm:Qwen/Qwen3-4B").name
    ('replay', 'vllm:Qwen/Qwen3-4B')
"""

from __future__ import annotations

import difflib
import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crm_gym.errors import PolicySpecError

PolicyKind = Literal["replay", "random", "vllm", "run", "hf", "class", "api"]
POLICY_FORMS = (
    "replay | random | vllm:MODEL | a model directory (config.json) | "
    "a `crm-gym train` run directory (args.json) | package.module:ClassName | "
    "a litellm model: PROVIDER/MODEL (openai/gpt-4.1, hosted_vllm/NAME) or a name litellm "
    "knows (gpt-4.1)"
)
_CLASS_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class PolicySpec:
    """A resolved ``--policy`` value: its kind, the value, and the records' default name."""

    kind: PolicyKind
    value: str
    name: str
    provider: str | None = None  # the records' metadata.agent.provider (None: guessed)


def parse_policy(spec: str) -> PolicySpec:
    """The kind of ``spec`` (see the module docstring); ``PolicySpecError`` when it has none."""
    if spec in ("replay", "random"):
        return PolicySpec(spec, spec, spec, "baseline")  # type: ignore[arg-type]
    if spec.startswith("vllm:") and len(spec) > 5:
        return PolicySpec("vllm", spec.removeprefix("vllm:"), spec, "local")
    path = Path(spec)
    if path.is_dir():
        return _directory(path)
    if _CLASS_SPEC.match(spec):
        return PolicySpec("class", spec, spec, "custom")
    if _litellm_model(spec):
        return PolicySpec("api", spec, spec)
    raise PolicySpecError(_unknown(spec))


def _directory(path: Path) -> PolicySpec:
    run = run_root(path)
    if run is not None:
        return PolicySpec("run", str(run), run.resolve().name, "local")
    name = path.resolve().name
    if (path / "config.json").is_file():
        return PolicySpec("hf", str(path), name, "local")
    raise PolicySpecError(
        f"--policy {path}: a directory without config.json (a model) or args.json (a "
        f"`crm-gym train` run); valid forms: {POLICY_FORMS}"
    )


def run_root(path: Path) -> Path | None:
    """The ``crm-gym train`` run that ``path`` is, or whose trained model it is, else None.

    The run itself, its ``checkpoint/``, ``checkpoint/model/`` and ``final/`` all name the run
    (its trained model, evaluated with its settings); ``initial/`` and the rest do not.
    """
    path = path.resolve()
    for run, inside in (
        (path, ()),
        (path.parent, ("checkpoint", "final")),
        (path.parent.parent, ("checkpoint/model",)),
    ):
        relative = path.relative_to(run).as_posix() if run != path else None
        if (run / "args.json").is_file() and (relative is None or relative in inside):
            return run
    return None


def _litellm_model(spec: str) -> bool:
    """Whether litellm knows ``spec``'s provider (``PROVIDER/MODEL``) or the model itself."""
    try:
        from agents.api import import_litellm

        litellm = import_litellm()
    except ImportError:
        return "/" in spec and not spec.startswith((".", "/", "~"))  # cannot check: let it try
    if "/" in spec:
        return spec.split("/", 1)[0] in {str(getattr(p, "value", p)) for p in litellm.provider_list}
    return spec in litellm.model_cost


def _unknown(spec: str) -> str:
    close = difflib.get_close_matches(spec, ["replay", "random"], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    where = " (no such directory)" if spec.startswith((".", "/", "~")) else ""
    return f"--policy {spec!r} names no policy{where}{hint}; valid forms: {POLICY_FORMS}"


def build_policy(
    spec: PolicySpec,
    *,
    seed: int,
    num_envs: int,
    api_base: str | None = None,
    prompt_style: str = "full",
) -> Any:
    """The policy ``spec`` names (a run directory's model comes from ``model_dir``)."""
    if spec.kind in ("replay", "random"):
        from agents.baselines import RandomPolicy, ReplayPolicy

        return ReplayPolicy() if spec.kind == "replay" else RandomPolicy(seed)
    if spec.kind in ("hf", "run"):
        from agents.hf import HFPolicy

        path = model_dir(Path(spec.value)) if spec.kind == "run" else spec.value
        if spec.kind == "run" and lora_run(Path(spec.value), Path(path)):
            return _adapter_policy(Path(spec.value), Path(path), prompt_style)
        return HFPolicy(path, prompt_style=prompt_style)  # type: ignore[arg-type]
    if spec.kind == "vllm":
        from agents.vllm import VllmPolicy

        return VllmPolicy(spec.value, seed=seed)
    if spec.kind == "class":
        return load_class_policy(spec.value)
    from agents.api import ApiPolicy

    extra = {"api_base": api_base} if api_base else {}
    return ApiPolicy(spec.value, max_concurrency=num_envs, completion_kwargs=extra)


def expose_reference(spec: PolicySpec, policy: Any) -> bool:
    """Whether the envs must put the reference in ``info`` (replay, or a class that asks)."""
    return spec.kind == "replay" or bool(getattr(policy, "expose_reference", False))


def load_class_policy(spec: str) -> Any:
    """An instance of ``package.module:ClassName`` (called without arguments), checked."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PolicySpecError(f"--policy {spec}: cannot import {module_name!r}: {exc}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise PolicySpecError(f"--policy {spec}: {module_name!r} has no class {attribute!r}")
    try:
        policy = factory()
    except TypeError as exc:
        raise PolicySpecError(f"--policy {spec}: {attribute}() failed: {exc}") from None
    if not callable(getattr(policy, "act", None)):
        raise PolicySpecError(
            f"--policy {spec}: {attribute} has no act(observations, n, sampling) method"
        )
    return policy


def lora_run(run: Path, model: Path) -> bool:
    """Whether ``model`` is a LoRA run's merged checkpoint, its adapter and base beside it."""
    adapter = model.parent / "adapter" / "adapter_config.json"
    merged = model == run / "checkpoint" / "model"
    return merged and adapter.is_file() and (run / "initial").is_dir()


def _adapter_policy(run: Path, model: Path, prompt_style: str) -> Any:
    """The run's base (``initial/``) with its adapter on it, unmerged: the trainer's own forward.

    The merged weights in ``checkpoint/model`` give the same logits up to float rounding, which
    could flip a sampled token; this reproduces the run's held-out evaluation exactly.
    """
    from transformers import AutoTokenizer

    from agents.checkpoint import load_pretrained
    from agents.hf import HFPolicy
    from agents.lora import adapter_model

    policy = adapter_model(load_pretrained(run / "initial"), model.parent / "adapter")
    tokenizer = AutoTokenizer.from_pretrained(model)
    return HFPolicy(policy, tokenizer, prompt_style=prompt_style)  # type: ignore[arg-type]


def model_dir(run: Path) -> Path:
    """A ``crm-gym train`` run's model: ``final/``, else ``checkpoint/model``, else ``initial/``.

    ``initial/`` is the model the GRPO steps start from (after any warm start): the result of a
    run with 0 steps, and what a run that saved no checkpoint yet evaluates as (step 0).
    """
    for candidate in (run / "final", run / "checkpoint" / "model", run / "initial"):
        if (candidate / "config.json").is_file():
            return candidate
    raise PolicySpecError(
        f"--policy {run}: a `crm-gym train` run without a model (no final/, checkpoint/model/ "
        "or initial/ with config.json); has it started training yet?"
    )
