"""Moves that read the CRM: searches, details and listings, comparisons and summaries.

Searches, details and listings exercise ``knowledge``; comparisons and summaries ``analytics``.
"""

from __future__ import annotations

from typing import Any, Callable

from crm_gym.crm.entities import CLIENT_STATUSES, COMPANY_TYPES, OPEN_STAGES
from crm_gym.generator import pools
from crm_gym.generator.holdout import on_side
from crm_gym.generator.intents import Intent, Mention
from crm_gym.generator.responses import LISTED
from crm_gym.generator.scene import Scene

Criteria = dict[str, Any]
"""Search criteria by field; a value is a literal or a ``Mention`` (id criteria)."""

SEARCHES = {
    "client_search": ("Client", ("name", "status", "industry", "email", "owner")),
    "opportunity_search": ("Opportunity", ("name", "stage", "client_id", "owner")),
    "contact_search": ("Contact", ("first_name", "last_name", "client_id", "email", "title")),
    "quote_search": ("Quote", ("opportunity_id", "status", "name")),
    "contract_search": ("Contract", ("client_id", "status", "opportunity_id")),
    "company_search": ("Company", ("name", "type", "industry")),
}
"""Search tool -> (entity, fields a request may filter on)."""

_ROLES = {"client_id": ("client", "Client"), "opportunity_id": ("deal", "Opportunity")}
_ABSENT = {
    "status": CLIENT_STATUSES + ("Draft", "Sent", "Approved", "Rejected", "Pending"),
    "stage": OPEN_STAGES,
    "type": COMPANY_TYPES,
    "industry": pools.INDUSTRIES,
}


def search(scene: Scene, tool: str) -> Intent | None:
    """A search for one record or for several; for none with the scene's ``empty_searches`` share.

    Candidate criteria are read off live records and tried on the CRM (a read changes nothing);
    the simulation then decides the true count that the expected reply states.
    """
    kind, fields = SEARCHES[tool]
    rng = scene.rng
    empty = rng.chance(scene.empty_searches)
    wanted = "none" if empty else rng.pick(("one", "one", "one", "many", "many"))
    candidates = [c for c in (_criteria(scene, kind, fields, empty) for _ in range(4)) if c]
    sized = [(c, len(_hits(scene, tool, c))) for c in candidates]
    sized = [(c, n) for c, n in sized if (n == 0) == empty]
    if not sized:
        return None
    fits = {"none": 0, "one": 1}.get(wanted)
    chosen = next((c for c, n in sized if n == fits or (fits is None and n > 1)), sized[0][0])
    return _search_intent(tool, chosen)


def _hits(scene: Scene, tool: str, criteria: Criteria) -> list[Any]:
    flat = {
        key: value.key if isinstance(value, Mention) else value for key, value in criteria.items()
    }
    return getattr(scene.api, tool)(**flat)


def _criteria(scene: Scene, kind: str, fields: tuple[str, ...], absent: bool) -> Criteria:
    """One or two criteria read off a live record (or values nothing has, for ``absent``)."""
    record = scene.pick(kind)
    if record is None and not absent:
        return {}
    keys = [scene.rng.pick(fields)]
    if scene.rng.chance(0.2):
        keys.append(scene.rng.pick(fields))
    criteria: Criteria = {}
    for key in dict.fromkeys(keys):
        value = _absent(scene, key) if absent or record is None else _value(scene, record, key)
        if value is not None:
            criteria[key] = value
    return criteria


def _value(scene: Scene, mention: Mention, key: str) -> Any:
    """A criterion that matches this record: a field value, or the first word of its name."""
    record = scene.record(mention)
    if key in _ROLES:
        target, target_kind = getattr(record, key), _ROLES[key][1]
        return (
            scene.mention(target_kind, target)
            if target and scene.api.store.get(target_kind, target)
            else None
        )
    value = getattr(record, key, None)
    if not isinstance(value, str):
        return None
    if key == "name" and scene.rng.chance(0.5):
        return value.split(" ")[0]
    return value


def _absent(scene: Scene, key: str) -> Any:
    if key in _ABSENT:
        return scene.rng.pick(_ABSENT[key])
    if key in ("name", "first_name", "last_name", "title", "owner"):
        first_names = on_side(pools.FIRST_NAMES, scene.rng.side)[:5]
        return scene.rng.pick((pools.company_name(scene.rng), *first_names, "Unknown"))
    if key == "email":
        return pools.company_email(scene.rng, pools.company_name(scene.rng))
    return None


def _search_intent(tool: str, criteria: Criteria) -> Intent:
    values = {k: v for k, v in criteria.items() if not isinstance(v, Mention)}
    mentions = {_ROLES[k][0]: v for k, v in criteria.items() if isinstance(v, Mention)}
    flat = {
        key: value.arg if isinstance(value, Mention) else value for key, value in criteria.items()
    }
    args = flat if tool == "company_search" else {"criteria": flat}
    return Intent(tool, args, values, mentions, learns="found")


def _searcher(tool: str) -> Callable[[Scene], Intent | None]:
    def move(scene: Scene) -> Intent | None:
        return search(scene, tool)

    move.__doc__ = f"A {tool} request."
    return move


SEARCH_MOVES: dict[str, Callable[[Scene], Intent | None]] = {
    kind: _searcher(tool) for tool, (kind, _) in SEARCHES.items()
}
"""Entity kind -> the move that searches it, in the order of ``SEARCHES``."""


def _details(scene: Scene, tool: str, kind: str) -> Intent | None:
    target = scene.pick(kind)
    if target is None:
        return None
    return Intent(
        tool, {f"{kind.lower()}_id": target.arg}, {}, {"target": target}, learns="looked up"
    )


def view_deal(scene: Scene) -> Intent | None:
    """Show one deal (``view_opportunity_details``)."""
    return _details(scene, "view_opportunity_details", "Opportunity")


def deal_details(scene: Scene) -> Intent | None:
    """Show one deal (``opportunity_details``, the alias)."""
    return _details(scene, "opportunity_details", "Opportunity")


def view_quote(scene: Scene) -> Intent | None:
    """Show one quote (``quote_details``)."""
    return _details(scene, "quote_details", "Quote")


def _lister(tool: str) -> Callable[[Scene], Intent]:
    def move(scene: Scene) -> Intent:
        return Intent(tool, {})

    move.__doc__ = f"A {tool} request."
    return move


LIST_MOVES: dict[str, Callable[[Scene], Intent]] = {
    kind: _lister(tool) for tool, kind in LISTED.items()
}
"""Entity kind -> the move that lists every record of it, in catalogue order."""


def prefixes_in_use(scene: Scene) -> Intent:
    """The distinct quote prefixes (``quote_prefixes``)."""
    return Intent("quote_prefixes", {})


def count_records(scene: Scene) -> Intent:
    """How many records of each kind the CRM holds (``summarize_counts``)."""
    return Intent("summarize_counts", {})


def compare(scene: Scene, tool: str = "compare_quotes") -> Intent | None:
    """Two or three different quotes side by side (templates for the ones made in this chat)."""
    quotes = scene.records("Quote")
    if len(quotes) < 2:
        return None
    size = 3 if len(quotes) > 2 and scene.rng.chance(0.3) else 2
    order = scene.rng.permutation(len(quotes))[:size]
    picked = [scene.mention("Quote", quotes[int(i)].quote_id) for i in order]
    return Intent(tool, {"quote_ids": [m.arg for m in picked]}, {}, {"quotes": picked})


def compare_details(scene: Scene) -> Intent | None:
    """The comparison with amounts, statuses and total (``compare_quote_details``)."""
    return compare(scene, "compare_quote_details")


def summarize(scene: Scene) -> Intent:
    """Pipeline totals: all deals, one client's, one stage's or one owner's."""
    rng = scene.rng
    criteria: dict[str, Any] = {}
    scope = rng.pick(("all", "client", "client", "stage", "owner"))
    client = scene.pick("Client") if scope == "client" else None
    if client is not None:
        criteria["client_id"] = client
    elif scope == "stage":
        criteria["stage"] = rng.pick(OPEN_STAGES)
    elif scope == "owner":
        criteria["owner"] = rng.pick_name(pools.OWNERS)
    intent = _search_intent("summarize_opportunities", criteria)
    intent.args = {k: v for k, v in intent.args["criteria"].items()} if criteria else {}
    intent.learns = None
    intent.phrase = "summarize_opportunities" if criteria else "summarize_all"
    return intent
