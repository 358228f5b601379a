"""The built-in example conversations (written for crm-gym; test fixtures and default data)."""

from pathlib import Path

BUILTIN = Path(__file__).with_name("builtin.jsonl")


def builtin_path() -> Path:
    """Path of the bundled example set."""
    return BUILTIN
