"""``CrmApi``: the 38 tools of the Arc CRM (SPEC-arc.md section 2) over a store."""

from __future__ import annotations

from crm_gym.crm.change import ChangeTools
from crm_gym.crm.create import CreateTools
from crm_gym.crm.query import QueryTools


class CrmApi(CreateTools, ChangeTools, QueryTools):
    """A CRM with upstream's tool surface, rules and error texts.

    ``CrmApi()`` is a fresh in-memory CRM. Tools return entity models (``.client_id``...) as
    upstream's did; ``crm_gym.crm.tools`` turns them into dict payloads. Every failing call raises
    ``CrmError`` (a ``ValueError``) with upstream's text and, unless ``strict_upstream=True``,
    changes nothing; what an entity model rejects raises ``CrmValidationError``, which is also
    pydantic's ``ValidationError``, as upstream's was. Constructor arguments are those of
    ``CrmCore``.

    Each row of ``crm_gym.crm.tool_catalogue.TOOL_SPECS`` is a method of the same name; the
    examples of calls are on the methods (``CreateTools``, ``ChangeTools``, ``QueryTools``).

    Example:
        >>> from crm_gym.crm.tool_catalogue import TOOL_SPECS
        >>> api = CrmApi(seed=0)
        >>> [name for name in TOOL_SPECS if not callable(getattr(api, name, None))]
        []
        >>> api.store.count("Client"), api.strict_upstream
        (0, False)
    """
