"""A text space for free-form unicode strings (MiniWoB++'s ``Unicode`` approach).

Gymnasium's ``Text`` accepts only its charset (62 alphanumerics by default), so an empty string,
punctuation, JSON or an em dash would be "outside the space". Model output and CRM data are
arbitrary unicode: this space accepts any ``str`` within the length bounds and samples from a
printable charset.
"""

from __future__ import annotations

import string
from typing import Any

from gymnasium.spaces import Text

SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " \n—éü€"


class Unicode(Text):
    """Any unicode string of ``min_length`` to ``max_length`` characters.

    Example:
        >>> space = Unicode(max_length=64)
        >>> space.contains('{"stage": "Closed Won"} — ok'), space.contains(b"bytes")
        (True, False)
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None):
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        """True for every ``str`` whose length is within the bounds."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"Unicode({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, Unicode)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )
