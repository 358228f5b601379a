"""Workflows: chains of moves per skill, and the driver that fills a plan of turns with them.

A plan is the list of turn outcomes ("S" success / "F" failure) decided up front, so turn counts
and the failure share are exactly what was asked for. The driver walks it: a success slot plays
the workflow's next move; a failure slot botches the next planned move when it can (the user
then corrects it in the following turn: recovery), or makes a standalone mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from crm_gym.data.labels import GENERIC_FAILURES, POLICY_FAILURES
from crm_gym.errors import GenerationError
from crm_gym.generator import failures
from crm_gym.generator import moves_edit as edit
from crm_gym.generator import moves_read as read
from crm_gym.generator import moves_write as write
from crm_gym.generator.intents import Intent
from crm_gym.generator.pools import Dice
from crm_gym.generator.scene import Scene

Move = Callable[[Scene], "Intent | None"]
S = read.SEARCH_MOVES
"""Search move by entity kind."""
L = read.LIST_MOVES
"""Listing move by entity kind."""


@dataclass(frozen=True)
class Workflow:
    """A named chain of moves, the moves that may extend it, and what its seed needs."""

    name: str
    skill: str
    steps: tuple[Move, ...]
    extra: tuple[Move, ...]
    rich: bool = False


_CRUD_EXTRA = (
    write.new_contact,
    write.new_deal,
    write.new_quote,
    write.note,
    write.upload,
    edit.edit_deal,
    edit.edit_client,
    edit.edit_quote,
    edit.edit_contact,
    edit.void_quote,
    edit.clone_deal,
    write.find_or_add_client,
    write.new_contract,
    edit.discard_quote,
    edit.delete_deal,
)
_KNOWLEDGE_EXTRA = (
    *S.values(),
    read.view_deal,
    read.deal_details,
    read.view_quote,
    *L.values(),
    edit.edit_deal,
    edit.edit_client,
    edit.edit_contact,
)
_ANALYTICS_EXTRA = (
    read.summarize,
    read.compare,
    read.compare_details,
    read.prefixes_in_use,
    read.count_records,
    write.new_quote,
    write.new_deal,
    edit.edit_quote,
    edit.discard_quote,
    edit.delete_deal,
)
_POLICY_EXTRA = (
    edit.close_deal,
    edit.closed_touch,
    edit.boundary_deal,
    edit.boundary_edit,
    write.upload,
    write.new_client,
    write.new_deal,
    edit.edit_deal,
    write.new_quote,
    edit.discard_quote,
)


def _crud(name: str, *steps: Move) -> Workflow:
    return Workflow(name, "crud", steps, _CRUD_EXTRA)


def _knowledge(name: str, *steps: Move) -> Workflow:
    return Workflow(name, "knowledge", steps, _KNOWLEDGE_EXTRA)


def _analytics(name: str, *steps: Move) -> Workflow:
    return Workflow(name, "analytics", steps, _ANALYTICS_EXTRA, rich=True)


def _policy(name: str, *steps: Move) -> Workflow:
    return Workflow(name, "policy", steps, _POLICY_EXTRA, rich=True)


WORKFLOWS: dict[str, tuple[Workflow, ...]] = {
    "crud": (
        _crud(
            "onboard client",
            write.new_client,
            write.new_contact,
            write.new_deal,
            write.new_quote,
            write.note,
            write.upload,
            write.new_contract,
            edit.edit_quote,
        ),
        _crud(
            "open deal",
            write.new_deal,
            write.new_quote,
            edit.edit_quote,
            write.new_contract,
            write.upload,
        ),
        _crud(
            "revise deal",
            edit.edit_deal,
            write.new_quote,
            edit.edit_quote,
            write.note,
            edit.edit_deal,
        ),
        _crud("clone and adjust", edit.clone_deal, edit.edit_deal, write.new_quote, write.note),
        _crud(
            "account upkeep",
            edit.edit_client,
            edit.edit_contact,
            write.new_contact,
            write.note,
            write.find_or_add_client,
        ),
        _crud("quote cleanup", edit.void_quote, write.new_quote, edit.discard_quote, write.note),
        _crud("retire deal", write.note, edit.delete_deal, write.new_deal, write.new_quote),
    ),
    "knowledge": (
        _knowledge(
            "find and view",
            S["Opportunity"],
            read.view_deal,
            S["Quote"],
            read.view_quote,
        ),
        _knowledge(
            "search then modify",
            S["Client"],
            edit.edit_client,
            S["Contact"],
            edit.edit_contact,
            S["Opportunity"],
            edit.edit_deal,
        ),
        _knowledge(
            "directory",
            L["Client"],
            S["Client"],
            L["Contact"],
            S["Contact"],
            L["Company"],
            S["Company"],
        ),
        _knowledge(
            "contract lookup",
            S["Contract"],
            L["Contract"],
            S["Client"],
            L["Document"],
        ),
        _knowledge(
            "pipeline review",
            S["Opportunity"],
            read.deal_details,
            L["Opportunity"],
            S["Quote"],
            L["Note"],
            L["Quote"],
        ),
    ),
    "analytics": (
        _analytics(
            "compare quotes",
            write.new_quote,
            write.new_quote,
            read.compare,
            read.compare_details,
            edit.edit_quote,
            read.compare,
        ),
        _analytics(
            "pipeline summary",
            read.summarize,
            write.new_deal,
            read.summarize,
            edit.edit_deal,
            read.summarize,
        ),
        _analytics(
            "quote prefix audit",
            read.prefixes_in_use,
            write.new_quote,
            read.prefixes_in_use,
            read.compare_details,
        ),
        _analytics(
            "record counts",
            read.count_records,
            write.new_client,
            read.count_records,
            read.summarize,
        ),
    ),
    "policy": (
        _policy(
            "close and lock", edit.close_deal, edit.closed_touch, write.note, edit.closed_touch
        ),
        _policy(
            "forecast hygiene",
            edit.boundary_edit,
            edit.edit_deal,
            edit.boundary_deal,
            write.new_deal,
        ),
        _policy(
            "client dedup",
            write.find_or_add_client,
            write.new_client,
            write.find_or_add_client,
            write.new_client,
        ),
        _policy("document rules", write.upload, write.upload, write.note, write.upload),
        _policy(
            "won deal booking",
            write.new_closed_deal,
            edit.closed_touch,
            write.new_quote,
            write.new_contract,
        ),
    ),
}
"""Workflows of each skill (names double as the ``workflow`` label of a conversation)."""

_FALLBACK: tuple[Move, ...] = (write.note, write.new_client)
_GENERIC_WEIGHTS = (0.4, 0.35, 0.25)
"""Chances of invalid_enum, unknown_id and missing_field among generic mistakes."""


def plan(rng: Dice, turns: int, failure_share: float, policy: bool) -> list[str]:
    """Success/failure slots with ``failure_share * turns`` failures expected.

    A policy conversation gets at least one failure whenever that expectation reaches one, so
    its rule is actually tested; the rest keep the same mean, so the share over many
    conversations is the one asked for.
    """
    mean = failure_share * turns
    if policy and mean >= 1:
        count = 1 + rng.binomial(turns - 1, (mean - 1) / (turns - 1)) if turns > 1 else 1
    elif policy:
        count = int(rng.random() < mean)
    else:
        count = rng.binomial(turns, failure_share)
    slots = ["S"] * turns
    for index in rng.sample(turns, count):
        slots[index] = "F"
    return slots


def failure_kinds(rng: Dice, count: int, policy: bool) -> list[str]:
    """Categories of the planned failures: business rules first for ``policy``, else generic."""
    kinds = []
    for index in range(count):
        if policy and (index == 0 or rng.chance(0.8)):
            kinds.append(rng.pick(POLICY_FAILURES))
        else:
            kinds.append(GENERIC_FAILURES[rng.weighted(_GENERIC_WEIGHTS)])
    return kinds


class Driver:
    """Plays a workflow's moves into a scene along a plan."""

    def __init__(self, scene: Scene, workflow: Workflow):
        self.scene = scene
        self.workflow = workflow
        self.steps = list(workflow.steps)

    def run(self, slots: list[str], kinds: list[str]) -> None:
        """Play every slot of the plan, in order."""
        pending: Intent | None = None
        recovery = False
        for index, slot in enumerate(slots):
            if slot == "S":
                self.scene.play(pending or self.next_success(), recovery=recovery)
                pending, recovery = None, False
                continue
            if pending is None and index + 1 < len(slots) and slots[index + 1] == "S":
                pending = self.next_success()
            kind = kinds.pop(0)
            if self.scene.gone and kind in GENERIC_FAILURES and self.scene.rng.chance(0.6):
                kind = "unknown_id"  # the natural slip after a deletion: using the record again
            botched = (
                failures.BOTCH[kind](self.scene, pending) if pending and not recovery else None
            )
            recovery = recovery or botched is not None
            self.scene.play(*(botched or self.standalone(kind)))

    def next_success(self) -> Intent:
        """The workflow's next feasible move, else an extension move, else a fallback."""
        while self.steps:
            intent = self.steps.pop(0)(self.scene)
            if intent is not None:
                return intent
        rng = self.scene.rng
        for _ in range(6):
            intent = rng.pick(self.workflow.extra)(self.scene)
            if intent is not None:
                return intent
        for move in _FALLBACK:
            intent = move(self.scene)
            if intent is not None:
                return intent
        raise GenerationError("no move fits the scene")  # unreachable: a seed always has a client

    def standalone(self, kind: str) -> failures.Botched:
        """A fresh mistake of this kind, or of another kind of the same family if none fits."""
        family = list(POLICY_FAILURES if kind in POLICY_FAILURES else GENERIC_FAILURES)
        self.scene.rng.shuffle(family)
        for candidate in [kind, *family, *GENERIC_FAILURES]:
            botched = failures.standalone(self.scene, candidate)
            if botched is not None:
                return botched
        raise GenerationError("no failure fits the scene")  # unreachable: missing_field always fits
