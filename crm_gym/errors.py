"""Error types of crm-gym, one line each (the shape of ``gymnasium/error.py``).

``CrmError`` is what a tool call raises for an agent mistake; it subclasses ``ValueError`` because
upstream's tools raised plain ``ValueError`` (and pydantic's ``ValidationError``), and callers
written for upstream catch that. The others are caller misuse of the library itself.
"""

from pydantic import ValidationError


class CrmError(ValueError):
    """A CRM tool rejected a call; ``str(err)`` is the upstream error text."""


class CrmValidationError(CrmError, ValidationError):
    """A tool input its entity model rejects: pydantic's ``ValidationError``, as upstream raised."""


class DuplicateEmailError(CrmError):
    """A client email that is already taken (case-insensitively)."""


class SeedingError(CrmError):
    """A conversation's ``initial_entities`` cannot be seeded into a CRM."""


class StoreError(ValueError):
    """A store that cannot be made or used as asked (unknown spec, locked file, bad snapshot)."""


class DatasetError(ValueError):
    """A dataset file or record that is not a valid Arc conversation."""


class GenerationError(RuntimeError):
    """The scenario generator built a turn whose simulated outcome is not the one it planned."""


class DataFileError(DatasetError):
    """A dataset file that cannot be read as JSONL conversations (the message names file, line)."""


class DataFileNotFoundError(DataFileError, FileNotFoundError):
    """A dataset path that is neither a local file nor a Hugging Face dataset name."""


class LogError(ValueError):
    """A log of another harness that cannot be read (bad JSON, no turn results, no id)."""


class ConfigError(ValueError):
    """A training setting of the wrong type or outside its range (the message names the field)."""


class RunDirError(ValueError):
    """A run directory that belongs to another configuration, or cannot resume as asked."""


class CheckpointError(ValueError):
    """A run's file (checkpoint, weights, ``args.json``, ``metrics.jsonl``) that is corrupt."""


class StoreConnectionError(StoreError):
    """A store lost its database connection mid-episode; the next ``reset`` reconnects."""


class GuidelineMemoryError(ValueError):
    """A guideline memory that cannot be opened as asked, or a JSONL line it cannot import."""


class EvalLogError(ValueError):
    """An evaluation log that this run must not write to (another run's, locked, unreadable)."""


class PolicySpecError(ValueError):
    """A ``--policy`` value that names no policy crm-gym can build."""
