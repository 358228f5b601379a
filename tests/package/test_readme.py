"""The README's Python examples run as written, and say what they print."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    namespace: dict = {}
    for block in blocks:
        if "make_store(" in block:  # needs a DSN in the environment; covered by tests/store
            continue
        exec(compile(block, "README.md", "exec"), namespace)
    assert "Probability must be between 1 and 99." in capsys.readouterr().out
    assert (
        namespace["result"].ok
        and namespace["result"].payload[0]["email"] == "ops@northwind.example"
    )
    assert set(namespace["info"]["reward_components"]) >= {"tool", "arguments", "state", "total"}
