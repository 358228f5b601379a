"""One row per tool (issue #20): how many files name each tool, and the derived tables.

A tool's name lives in the package (``crm_gym``) in at most 4 files: its catalogue row, its CRM
method, and the generator's move and wording for it (docs/adding-a-tool.md). Outside the
package, benchmarks and docstring examples name tools as any user of the package would; their
total may only go down.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from crm_gym.crm import CrmApi
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import MODIFY_TOOLS, SEARCH_TOOLS
from crm_gym.data.labels import TASK_NAMES, TOOL_CATEGORY, TOOL_SKILL
from crm_gym.generator.responses import RESULT_KIND

REPO = Path(__file__).resolve().parents[2]
PACKAGE_FILES_PER_TOOL = 4
"""The target (15 files for client_search before issue #20)."""
ALL_FOLDERS = ("crm_gym", "agents", "benchmarks", "scripts", "curricula")
ALL_MENTIONS = 171
"""Files naming a tool in ``ALL_FOLDERS``, summed over tools (318 before issue #20)."""


@cache
def files_naming(folders: tuple[str, ...]) -> dict[str, int]:
    """Tool -> how many ``.py`` files under ``folders`` name it as a whole word."""
    texts = [
        path.read_text(encoding="utf-8")
        for folder in folders
        for path in sorted((REPO / folder).rglob("*.py"))
    ]
    return {
        name: sum(bool(re.search(rf"(?<!\w){name}(?!\w)", text)) for text in texts)
        for name in TOOL_SPECS
    }


def test_no_tool_is_named_in_more_than_four_package_files() -> None:
    counts = files_naming(("crm_gym",))
    worst = max(counts, key=counts.__getitem__)
    assert counts[worst] <= PACKAGE_FILES_PER_TOOL, (worst, counts[worst])


def test_the_sum_of_files_naming_tools_only_goes_down() -> None:
    assert sum(files_naming(ALL_FOLDERS).values()) <= ALL_MENTIONS


def test_every_row_is_named_in_its_row_and_its_crm_method() -> None:
    assert min(files_naming(("crm_gym",)).values()) >= 2
    assert all(callable(getattr(CrmApi, name, None)) for name in TOOL_SPECS)


def test_the_side_tables_are_derived_from_every_row() -> None:
    assert set(TOOL_SKILL) == set(TOOL_CATEGORY) == set(TASK_NAMES) == set(TOOL_SPECS)
    assert {name for name, spec in TOOL_SPECS.items() if spec.result_kind} == set(RESULT_KIND)
    assert all(TOOL_SPECS[name].entity == entity for name, entity in SEARCH_TOOLS.items())
    assert all("updates" in TOOL_SPECS[name].special for name in MODIFY_TOOLS)
    assert TASK_NAMES["create_contract"] == "CREATE NEW CONTRACT"
    assert TASK_NAMES["create_quote"] == "CREATE QUOTE"
