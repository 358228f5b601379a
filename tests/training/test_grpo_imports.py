"""``agents.grpo`` needs torch but not transformers; ``import agents`` needs neither."""

import subprocess
import sys


def loaded_after(statement: str, names: tuple[str, ...]) -> str:
    code = f"import sys; {statement}; print([m for m in {names!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_agents_loads_no_torch():
    assert loaded_after("import agents", ("torch", "transformers")) == "[]"


def test_grpo_math_loads_no_transformers():
    assert loaded_after("import agents.grpo", ("transformers", "vllm", "accelerate")) == "[]"
