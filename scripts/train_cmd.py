"""``crm-gym train``: GRPO from a preset or a config file (the loop is ``agents.train.train``).

Presets (``agents.presets``) are dicts of ``agents.train.Args`` fields; a config file (JSON or
TOML) holds the same fields, and ``--seed``, ``--steps`` and ``--output`` override either. The run
prints a summary table, writes the reward curve as ``reward_curve.png`` and ends stdout with one
JSON line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from agents.presets import PRESETS
from crm_gym.errors import CheckpointError, ConfigError, RunDirError

TRAIN_EXAMPLE = "crm-gym train --preset cpu-tiny --output runs/tiny"


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``crm-gym train``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=sorted(PRESETS), help="a named configuration")
    source.add_argument("--config", help="JSON or TOML file of agents.train.Args fields")
    parser.add_argument("--seed", type=int, help="override the seed")
    parser.add_argument("--steps", type=int, help="override the number of GRPO steps")
    parser.add_argument("--output", help="output directory (default runs/<preset or config>)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override an Args field, e.g. --set lr=1e-4 (repeatable)",
    )
    parser.add_argument("--no-resume", action="store_true", help="start over in --output")
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print the memory plan as one JSON line and exit (loads no weights)",
    )
    parser.add_argument(
        "--devices",
        type=int,
        metavar="N",
        help="devices the run spans, for the plan (default $WORLD_SIZE or 1)",
    )
    parser.add_argument(
        "--device-gib",
        type=float,
        metavar="GIB",
        help="device memory the plan assumes (default: the CUDA GPU's, else 80)",
    )


def build_args(options: argparse.Namespace) -> Any:
    """The ``Args`` of a preset or config file with the command line's overrides.

    Each value is checked as it is read (torch is not imported), so a bad one fails at once.

    Raises:
        ConfigError: naming the option, ``--set`` item or file the value came from.
    """
    from agents.train_args import Args, parse_set

    if options.preset:
        values, name = dict(PRESETS[options.preset]), options.preset
    else:
        values = _checked_all(_read_config(options.config), options.config)
        name = Path(options.config).stem
    for item in options.set:
        key, value = parse_set(item)
        values[key] = _checked(key, value, f"--set {item}")
    for key in ("seed", "steps"):
        if getattr(options, key) is not None:
            values[key] = _checked(key, getattr(options, key), f"--{key} {getattr(options, key)}")
    values["output_dir"] = options.output or values.get("output_dir") or f"runs/{name}"
    if options.no_resume:
        values["resume"] = False
    return Args(**values)


def _checked(key: str, value: Any, source: str) -> Any:
    """``check_setting``, its message prefixed with where the value came from."""
    from agents.train_args import check_setting

    try:
        return check_setting(key, value)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _checked_all(values: dict[str, Any], source: str) -> dict[str, Any]:
    return {key: _checked(key, value, source) for key, value in values.items()}


def _read_config(path: str) -> dict[str, Any]:
    """A JSON or TOML config file; a parse error names the file."""
    import tomllib

    text = Path(path).read_text()
    try:
        values = tomllib.loads(text) if path.endswith(".toml") else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a table of Args fields, got {type(values).__name__}")
    return values


def cmd_train(options: argparse.Namespace) -> int:
    """Run GRPO, print the summary table, plot the curve; the last stdout line is JSON.

    Exit 2: a bad option, a missing extra, or a run dir of another configuration; exit 1: a
    corrupt file in the run dir. Each is one line on stderr.
    """
    try:
        args = build_args(options)
        if options.plan:
            print(json.dumps(memory_plan(args, options)))
            return 0
    except (ConfigError, OSError) as exc:
        return _fail(exc, 2)
    missing = _missing_extra()
    if missing:
        return _fail(f'training needs {missing}: pip install "crm-gym[train]"', 2)
    refused = _refusal(args, options)
    if refused:
        return _fail(refused, 2)
    from agents.train import train

    main = is_main_process()  # under ``accelerate launch`` every process runs this command
    if args.warm_start_steps and main:
        print(
            f"warm start: {args.warm_start_steps} supervised steps on replayed reference "
            "trajectories, before GRPO (eval_reward_before is measured after it)"
        )
    try:
        summary = train(args)
    except (RunDirError, ConfigError, ImportError) as exc:  # ConfigError: a device need (fsdp)
        return _fail(exc, 2)
    except CheckpointError as exc:
        return _fail(exc, 1)
    if not main:
        return 0
    summary["reward_curve"] = plot_curve(summary, Path(args.output_dir))
    print_table(summary)
    print(json.dumps(summary))
    return 0


def memory_plan(args: Any, options: argparse.Namespace) -> dict[str, Any]:
    """``agents.memory_plan.plan_memory`` on the detected CUDA GPU, or the assumed device.

    Raises:
        ConfigError: a bad ``--devices``/``--device-gib``, or a model whose config is not found.
    """
    from agents.memory_plan import DEFAULT_DEVICE_GIB, plan_memory

    devices = options.devices or int(os.environ.get("WORLD_SIZE", "1"))
    if devices < 1 or (options.device_gib is not None and not options.device_gib > 0):
        raise ConfigError(
            f"--devices {options.devices} / --device-gib {options.device_gib}: "
            "expected a positive count and a positive size"
        )
    name, gib = cuda_device()
    if options.device_gib is not None:
        name, gib = "given by --device-gib", options.device_gib
    return plan_memory(
        args, gib or DEFAULT_DEVICE_GIB, name or "assumed", devices, shape=_shape(args.model, args)
    )


def cuda_device() -> tuple[str | None, float | None]:
    """The first CUDA GPU's name and memory in GiB, or ``(None, None)`` (no torch, no GPU)."""
    try:
        import torch
    except ImportError:
        return None, None
    if not torch.cuda.is_available():
        return None, None
    props = torch.cuda.get_device_properties(0)
    return props.name, props.total_memory / 2**30


def _shape(model: str, args: Any) -> Any:
    """The model's shape: a directory, the built-in table, or a config in the Hub's local cache.

    The Hub itself is not asked (``--plan`` stays offline and quick); ``"tiny"`` is sized by the
    run's ``tiny_*`` fields.
    """
    from dataclasses import replace

    from agents.memory_plan import model_shape, shape_from_config

    if model == "tiny":
        hidden = args.tiny_hidden_size
        return replace(
            model_shape("tiny"),
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=args.tiny_num_layers,
            head_dim=hidden // 4,
            vocab_size=args.tiny_vocab_size,
        )
    try:
        return model_shape(model)
    except ConfigError:
        try:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(model, local_files_only=True)
            return shape_from_config(config.to_dict())
        except (ImportError, OSError, KeyError):
            where = "a directory with a config.json, a known name, or the Hub's local cache"
            raise ConfigError(f"--plan: no config for model {model!r} ({where})") from None


def _refusal(args: Any, options: argparse.Namespace) -> str | None:
    """Why the run would not fit the CUDA GPU here (None: it fits; no GPU, no check).

    ``--device-gib`` replaces the detected size (an escape hatch when the plan is too cautious).
    """
    if cuda_device()[0] is None:
        return None
    try:
        plan = memory_plan(args, options)
    except ConfigError as exc:  # an uncached Hub model: train downloads it; nothing to check yet
        print(f"crm-gym train: memory check skipped: {exc}", file=sys.stderr)
        return None
    from agents.memory_plan import refusal

    return None if plan["fits"] else refusal(plan)


def _fail(error: Exception | str, code: int) -> int:
    print(f"crm-gym train: {error}", file=sys.stderr)
    return code


def _missing_extra() -> str | None:
    """The first package of the ``train`` extra that does not import, if any."""
    for name in ("torch", "transformers", "accelerate"):
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def is_main_process() -> bool:
    """Rank 0 of a distributed launch (``RANK``, set by torchrun and ``accelerate launch``)."""
    return os.environ.get("RANK", "0") == "0"


def plot_curve(summary: dict[str, Any], out: Path) -> str:
    """``reward_curve.png``: the rollout reward per step and held-out success, greedy and sampled.

    Held-out points start at step 0 (the model GRPO starts from, after the warm start).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(summary["metrics"]).read_text().splitlines()]
    evals = [row for row in rows if "eval/success_rate" in row]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    steps, rewards = [r["step"] for r in rows], [r["rollout/reward_mean"] for r in rows]
    axis.plot(steps, rewards, label="rollout reward (training tasks, sampled)")
    for key, before, label, style in (
        ("eval/greedy_success_rate", "eval_greedy_success_before", "greedy", "o-"),
        ("eval/success_rate", "eval_success_before", "sampled", "s--"),
    ):
        points = [(r["step"], r[key]) for r in evals if key in r]
        if summary.get(before) is not None:
            points.insert(0, (0, summary[before]))
        if points:
            x, y = zip(*points, strict=True)
            axis.plot(x, y, style, label=f"held-out success, {label}")
    axis.set_xlabel("GRPO step (0: after the warm start)")
    axis.set_ylabel("reward / success")
    axis.legend(fontsize=8)
    figure.tight_layout()
    path = out / "reward_curve.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)


def print_table(summary: dict[str, Any]) -> None:
    """The run's summary as aligned ``key  value`` lines."""
    width = max(map(len, summary))
    for key, value in summary.items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        if isinstance(value, dict):  # per-task results: in the JSON line
            shown = f"({', '.join(f'{len(v)} {k}' for k, v in value.items())} tasks: JSON line)"
        print(f"{key:<{width}}  {shown}")
