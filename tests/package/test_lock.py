"""The lock: README's install, CI and the refresh script share one constraints file and extras."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL = re.compile(r'pip install (?:-q )?-c constraints\.txt -e "\.\[([a-z0-9,]+)\]"')


def _extras(path: Path) -> list[str]:
    return INSTALL.findall(path.read_text(encoding="utf-8"))


def test_readme_and_ci_install_through_the_lock_with_the_same_extras() -> None:
    readme, ci = _extras(ROOT / "README.md"), _extras(ROOT / ".ci" / "run")
    assert readme and ci, "README's install and .ci/run must both use -c constraints.txt"
    assert set(readme) == set(ci)


def test_the_refresh_script_resolves_the_same_extras_without_the_lock() -> None:
    script = (ROOT / ".ci" / "lock").read_text(encoding="utf-8")
    (extras,) = re.findall(r'pip install -q -e "\.\[([a-z0-9,]+)\]"', script)
    assert extras == _extras(ROOT / ".ci" / "run")[0]
    assert "constraints.txt" in script and "freeze" in script


def test_the_lock_pins_every_package_exactly() -> None:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert len(pins) > 50
    bad = [line for line in pins if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=\s+]+", line)]
    assert not bad, f"not exact pins (or a local build tag): {bad[:5]}"
    names = {line.split("==")[0].lower().replace("_", "-") for line in pins}
    assert {"gymnasium", "pydantic", "numpy", "torch", "openai", "pytest"} <= names
