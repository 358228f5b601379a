"""Pools of realistic CRM values and seeded draws from them (names, emails, amounts, dates).

Every draw takes the conversation's ``Dice``, so a seed fixes every value. Pools
are plain tuples: easy to read, extend and count (10,000+ distinct company names).
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from functools import lru_cache
from typing import Sequence, TypeVar

import numpy as np

from crm_gym.generator.holdout import Side, on_side

T = TypeVar("T")

TODAY = date(2025, 1, 6)
"""The episode clock's "today" (``crm_gym.crm.clock.DEFAULT_EPOCH``): the close-date rule's day."""

NAME_HEADS = (
    ("Northwind", "Bluepeak", "Silverline", "Quantum", "Harbor", "Summit", "Pinecrest", "Atlas")
    + ("Nimbus", "Vertex", "Ironwood", "Redwood", "Lumen", "Cobalt", "Brightwater", "Crescent")
    + ("Evergreen", "Falcon", "Granite", "Helix", "Juniper", "Keystone", "Lakeside", "Meridian")
    + ("Nova", "Oakridge", "Pioneer", "Riverbend", "Sterling", "Tidewater", "Upland", "Vanguard")
    + ("Westfield", "Zenith", "Aurora", "Beacon", "Cascade", "Driftwood", "Emberly", "Foxglove")
    + ("Goldleaf", "Highgate", "Indigo", "Kestrel", "Larkspur", "Maple", "Orchid", "Polaris")
    + ("Quarry", "Rosewood", "Sagebrush", "Thornbury", "Willow", "Yellowstone", "Acme", "Globex")
    + ("Initech", "Hooli", "Vandelay", "Stellar")
)
NAME_TAILS = (
    ("Labs", "Logistics", "Health", "Foods", "Systems", "Analytics", "Partners", "Robotics")
    + ("Energy", "Media", "Bank", "Retail", "Outfitters", "Software", "Biotech", "Freight")
    + ("Consulting", "Dynamics", "Networks", "Manufacturing", "Pharma", "Insurance", "Studios")
    + ("Apparel", "Capital", "Foundry", "Holdings", "Mobility", "Solar", "Telecom")
)
NAME_SUFFIXES = ("", "", "", "Inc", "LLC", "Group", "Co", "Ltd", "Corporation")
INDUSTRIES = (
    ("Technology", "Healthcare", "Finance", "Retail", "Manufacturing", "Logistics", "Energy")
    + ("Education", "Media", "Hospitality", "Real Estate", "Telecommunications", "Biotech")
    + ("Insurance", "Agriculture", "Automotive", "Government", "Nonprofit", "Legal", "Aerospace")
)
TLDS = ("com", "io", "co", "net", "org")
MAILBOXES = (
    ("ops", "hello", "contact", "team")
    + ("accounts", "billing", "procurement")
    + ("office", "partners", "buying")
)
FIRST_NAMES = (
    ("Maria", "James", "Aisha", "Wei", "Sofia", "Liam", "Priya", "Noah", "Elena", "Mateo")
    + ("Hannah", "Omar", "Yuki", "Lucas", "Amara", "Ethan", "Chloe", "Ravi", "Ingrid", "Diego")
    + ("Fatima", "Jonas", "Mei", "Samuel", "Leila", "Oscar", "Nadia", "Tomas", "Grace", "Kenji")
    + ("Zara", "Felix", "Anika", "Hugo", "Lena", "Marcus", "Isabel", "Tariq", "Freya", "Daniel")
)
LAST_NAMES = (
    ("Lopez", "Chen", "Okafor", "Schmidt", "Rossi", "Nguyen", "Patel", "Kowalski", "Haddad")
    + ("Silva", "Johansson", "Tanaka", "Murphy", "Garcia", "Ivanova", "Mensah", "Dubois", "Kim")
    + ("Novak", "Fischer", "Singh", "Andersen", "Costa", "Yilmaz", "Brennan", "Moreau", "Hughes")
    + ("Sato", "Ortiz", "Berg", "Walsh", "Reyes", "Lindqvist", "Adeyemi", "Park", "Hoffmann")
)
TITLES = (
    ("VP Sales", "Head of Procurement", "CTO", "CFO", "Operations Manager", "IT Director")
    + ("Purchasing Lead", "Chief Revenue Officer", "Account Executive", "Finance Director")
    + ("Product Manager", "Head of Partnerships", "General Counsel", "COO", "Office Manager")
    + ("Engineering Manager", "Marketing Director", "Buyer", "Controller", "Founder")
)
OWNERS = (
    ("Alex Rivera", "Jordan Blake", "Sam Carter", "Taylor Reed")
    + ("Morgan Lee", "Casey Nolan", "Riley Quinn", "Jamie Fox")
    + ("Avery Stone", "Drew Patel", "Cameron Ellis", "Robin Hart")
)
DEAL_TOPICS = (
    ("Renewal", "Expansion", "Pilot", "Platform Upgrade", "Annual Licenses", "Data Migration")
    + ("Support Plan", "Onboarding Package", "Fleet Rollout", "Security Audit", "Cloud Migration")
    + ("Analytics Suite", "Training Program", "Hardware Refresh", "Enterprise Agreement")
    + ("Managed Services", "Integration Project", "Seat Increase")
)
DEAL_PERIODS = ("", "", "2025", "Q1", "Q2", "Q3", "Q4", "Phase 2", "EMEA", "APAC", "North America")
NOTE_TEXTS = (
    ("Customer asked for a revised pricing sheet", "Call scheduled with procurement next week")
    + ("Legal review of the MSA is in progress", "Budget approved for the next fiscal year")
    + ("Decision maker is the CFO", "Competitor offered a lower price")
    + ("Champion is moving to another team", "Requested a security questionnaire")
    + ("Prefers quarterly billing", "Needs SSO before signing", "Demo went well, follow up Friday")
    + ("Waiting on the signed order form", "Asked for a two-year term discount")
    + ("Renewal risk flagged by support", "Intro call done, sending case studies")
)
DOC_KINDS = (
    ("proposal", "contract", "pricing", "sow")
    + ("deck", "invoice", "nda", "order_form")
    + ("requirements", "roadmap", "security_review", "case_study")
)
GOOD_EXTENSIONS = ("pdf", "docx", "doc", "pptx", "ppt", "xlsx", "csv", "txt", "key")
BAD_EXTENSIONS = ("xls", "jpg", "png", "zip", "exe", "pages", "rtf", "odt", "html", "mp4")
CITIES = (
    ("Austin, TX", "Denver, CO", "Boston, MA", "Seattle, WA")
    + ("Chicago, IL", "Toronto, ON", "London, UK")
    + ("Berlin, DE", "Dublin, IE", "Singapore, SG")
)
STREETS = ("Market St", "Main St", "Harbor Way", "Oak Ave", "Pine Rd", "Elm St", "King St")
AMOUNT_STEPS = (1000, 1000, 5000, 10000, 25000, 250, 500)


_floor = math.floor
"""``int()`` of a non-negative float (the same int), at half the cost of calling ``int``."""


class Dice:
    """A conversation's random draws, from one ``random.Random`` (Mersenne Twister) stream.

    Python's own generator is used because a conversation makes a few hundred small draws:
    ``random()`` is a C call of about 50 ns, while numpy's scalar calls cost 1-20 us and even a
    buffered numpy stream pays about 40 us per conversation to build its generator. ``source``
    is a ``random.Random``, a seed for one (an int or a string: strings are hashed with SHA-512,
    so ``"crm-gym:7:12"`` gives the same stream on every platform and Python run), or a numpy
    ``Generator`` (one draw of it seeds the stream).
    """

    def __init__(self, source: random.Random | np.random.Generator | int | str, side: Side = "all"):
        self.side = side
        """The side of the held-out split this conversation's names come from (``holdout``)."""
        if isinstance(source, np.random.Generator):
            source = int(source.integers(2**63))
        self.source = source if isinstance(source, random.Random) else random.Random(source)
        self.random = self.source.random
        """A uniform float in [0, 1) (the generator's bound C method)."""
        self.getrandbits = self.source.getrandbits
        """A non-negative int of ``k`` random bits."""

    def integers(self, low: int, high: int | None = None) -> int:
        """A uniform integer in ``[low, high)`` (``[0, low)`` with one argument), as numpy's."""
        if high is None:
            low, high = 0, low
        return low + int(self.random() * (high - low))

    def uniform(self, low: float, high: float) -> float:
        """A uniform float in ``[low, high)``."""
        return low + (high - low) * self.random()

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.random() < p

    def pick(self, items: Sequence[T]) -> T:
        """One item, uniformly."""
        return items[_floor(self.random() * len(items))]

    def pick_name(self, pool: tuple[str, ...]) -> str:
        """One name of a name pool, from this conversation's side of the held-out split."""
        return self.pick(pool if self.side == "all" else on_side(pool, self.side))

    def weighted(self, weights: Sequence[float]) -> int:
        """An index drawn with these (normalised) weights."""
        u, total = self.random(), 0.0
        for index, weight in enumerate(weights):
            total += weight
            if u < total:
                return index
        return len(weights) - 1

    def sample(self, n: int, k: int) -> list[int]:
        """``k`` distinct indices of ``range(n)``, in random order."""
        return self.permutation(n)[:k]

    def permutation(self, n: int) -> list[int]:
        """A random order of ``range(n)``."""
        order = list(range(n))
        self.shuffle(order)
        return order

    def shuffle(self, items: list) -> None:
        """Shuffle in place (Fisher-Yates)."""
        random = self.random
        for i in range(len(items) - 1, 0, -1):
            j = _floor(random() * (i + 1))
            items[i], items[j] = items[j], items[i]

    def binomial(self, n: int, p: float) -> int:
        """Successes in ``n`` trials of chance ``p``."""
        random = self.random
        return sum(random() < p for _ in range(n))

    def bytes(self, n: int) -> bytes:
        """``n`` random bytes."""
        return self.getrandbits(8 * n).to_bytes(n, "little") if n else b""


_UUID4_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(rng: Dice) -> str:
    """A version-4 UUID string from the generator (seed-record ids, made-up unknown ids)."""
    bits = (rng.getrandbits(128) & _UUID4_MASK) | _UUID4_BITS
    h = bits.to_bytes(16, "big").hex()  # a fifth faster than f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def company_name(rng: Dice) -> str:
    """A company name such as ``Northwind Logistics`` or ``Atlas Foods LLC``."""
    name = f"{rng.pick_name(NAME_HEADS)} {rng.pick(NAME_TAILS)}"
    suffix = rng.pick(NAME_SUFFIXES)
    return f"{name} {suffix}" if suffix else name


@lru_cache(maxsize=8192)
def slug(name: str) -> str:
    """Lower-case letters and digits of a name (email domains, file names).

    Cached: the same few thousand names come back.
    """
    return "".join(ch for ch in name.lower() if ch.isalnum())


def company_email(rng: Dice, name: str) -> str:
    """A company mailbox on a domain made from the name."""
    head, _, rest = name.partition(" ")
    domain = slug(head + rest.split(" ")[0]) if rng.chance(0.5) else slug(head)
    return f"{rng.pick(MAILBOXES)}@{domain}.{rng.pick(TLDS)}"


def person(rng: Dice) -> tuple[str, str]:
    """A first and a last name."""
    return rng.pick_name(FIRST_NAMES), rng.pick_name(LAST_NAMES)


def person_email(rng: Dice, first: str, last: str, company: str) -> str:
    """``first.last@company.tld`` or a variant."""
    local = rng.pick((f"{first}.{last}", f"{first[0]}{last}", f"{first}", f"{first}_{last}"))
    return f"{local.lower()}@{slug(company.split(' ')[0])}.{rng.pick(TLDS)}"


def phone(rng: Dice) -> str:
    """A North American style phone number."""
    area, line = rng.integers(201, 990), rng.integers(100, 10_000)
    return f"+1-{area}-555-{line:04d}"


def address(rng: Dice) -> str:
    """A street address with a city."""
    return f"{rng.integers(1, 999)} {rng.pick(STREETS)}, {rng.pick(CITIES)}"


def deal_name(rng: Dice, client_name: str) -> str:
    """A deal name that starts with the client's first word (so name searches can hit several)."""
    period = rng.pick(DEAL_PERIODS)
    base = f"{client_name.split(' ')[0]} {rng.pick(DEAL_TOPICS)}"
    return f"{base} {period}" if period else base


def amount(rng: Dice, low: int = 2_000, high: int = 2_000_000) -> int:
    """A deal-sized amount, rounded to a step that people say (mostly thousands)."""
    step = rng.pick(AMOUNT_STEPS)
    value = int(math.exp(rng.uniform(math.log(low), math.log(high))))
    return max(step, value // step * step)


def probability(rng: Dice) -> int:
    """A forecast probability people use (multiples of 5, sometimes any whole percent)."""
    return rng.integers(1, 20) * 5 if rng.chance(0.8) else rng.integers(1, 100)


def future_date(rng: Dice, low: int = 1, high: int = 540) -> str:
    """An ISO date from ``low`` to ``high`` days after the episode's today."""
    return (TODAY + timedelta(days=rng.integers(low, high))).isoformat()


def past_date(rng: Dice) -> str:
    """An ISO date from a day to two years before the episode's today."""
    return (TODAY - timedelta(days=rng.integers(1, 730))).isoformat()


def file_name(rng: Dice, stem: str, extension: str | None = None) -> str:
    """A file name such as ``northwind_proposal_v2.pdf``."""
    version = rng.pick(("", "", "_v2", "_final", "_2025", "_signed", "_draft"))
    return f"{slug(stem)}_{rng.pick(DOC_KINDS)}{version}.{extension or rng.pick(GOOD_EXTENSIONS)}"


def note_text(rng: Dice) -> str:
    """A short CRM note."""
    return rng.pick(NOTE_TEXTS)
