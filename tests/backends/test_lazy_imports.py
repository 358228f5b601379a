"""The backends import their heavy optional dependencies only when a policy is built."""

import subprocess
import sys

HEAVY = ("vllm", "litellm", "openai", "torch", "transformers")


def test_importing_the_backends_loads_no_optional_dependency() -> None:
    code = (
        "import sys, agents.api, agents.vllm, agents.vllm_server, agents.vllm_weights; "
        f"print([name for name in {HEAVY!r} if name in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
