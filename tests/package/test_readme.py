"""The README's Python examples say what they print and return (``test_snippets`` runs them all)."""

from __future__ import annotations

import re

from tests.package.markdown import REPO, Block, python_programs
from tests.package.test_snippets import run_program

README = REPO / "README.md"


def _program(containing: str) -> list[Block]:
    """The README's python program (a block and its continuations) with this text."""
    programs = [
        program
        for program in python_programs()
        if program[0].path == README and any(containing in block.code for block in program)
    ]
    assert len(programs) == 1, f"README has {len(programs)} python programs with {containing!r}"
    return programs[0]


def _commented(code: str, expression: str) -> str:
    """The comment after ``expression`` on its line: what the README says it gives."""
    match = re.search(re.escape(expression) + r"\s*#\s*(.+)$", code, re.MULTILINE)
    assert match, f"no comment after {expression!r}"
    return match.group(1).strip()


def test_crm_api_block_prints_the_error_it_shows(workspace):
    program = _program("modify_opportunity(")
    namespace, printed = run_program(program)
    expected = _commented(program[0].code, "print(error)").split(" (")[0]
    assert printed.strip() == expected == "Probability must be between 1 and 99."
    result = namespace["result"]
    shown = _commented(program[1].code, 'result.ok, result.payload[0]["email"]')
    assert repr((result.ok, result.payload[0]["email"])) == shown
    assert str(len(namespace["tool_schemas"]())) == _commented(
        program[1].code, "len(tool_schemas())"
    )


def test_env_block_lists_exactly_the_reward_components_returned(workspace):
    program = _program('gym.make("ArcCrm-v1"')
    namespace, _ = run_program(program)
    listed = _commented(program[-1].code, 'info["reward_components"]')
    assert set(namespace["info"]["reward_components"]) == {
        name.strip() for name in listed.split(",")
    }
    assert "RewardConfig" in namespace  # the README shows where it comes from


def test_sql_block_imports_what_it_uses(workspace):
    program = _program("make_store(")
    namespace, _ = run_program(program)
    assert {"gymnasium", "make_store", "CrmApi"} <= set(namespace)
    assert namespace["api"].client_search(name="north")[0].email == "ops@northwind.example"


def test_readme_states_how_to_install_an_unpublished_package():
    text = README.read_text()
    assert "`pip install crm-gym`" not in text
    assert "not published on PyPI" in text and "pip install ." in text
