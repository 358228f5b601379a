"""Error types of crm-gym, one line each (the shape of ``gymnasium/error.py``).

``CrmError`` is what a tool call raises for an agent mistake; it subclasses ``ValueError`` because
upstream's tools raised plain ``ValueError`` (and pydantic's ``ValidationError``), and callers
written for upstream catch that. The others are caller misuse of the library itself.
"""


class CrmError(ValueError):
    """A CRM tool rejected a call; ``str(err)`` is the upstream error text."""


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


class EvalLogError(ValueError):
    """An evaluation log that this run must not write to (another run's, locked, unreadable)."""


class PolicySpecError(ValueError):
    """A ``--policy`` value that names no policy crm-gym can build."""
