"""The parsed form of a policy: conditions, actions, rules and scan settings, as plain frozen data.

Everything here is produced by the parser and checked before a `ValidatedPolicy` wraps it; nothing in this
module evaluates anything except the small `holds` methods on conditions.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from tutela.policy.facts import MatchFact, PolicyInput
from tutela.policy.problems import Span

DISTANCE_RANGE = (0, 256)
QUALITY_RANGE = (0, 100)

# The age bands a platform may send with an item (the uploader's, when known).
AGE_BANDS = ("under_13", "13_to_15", "16_to_17", "adult")


class ActionKind(StrEnum):
    """What a rule may do; values are the names written in policy files and never change."""

    ALLOW = "allow"
    LABEL = "label"
    AGE_RESTRICT = "age_restrict"
    HOLD_FOR_REVIEW = "hold_for_review"
    BLOCK = "block"
    REPORT = "report"
    NOTIFY_PLATFORM = "notify_platform"


# Actions that take an argument (`label: name`, `hold_for_review: queue`, `report: target`).
ACTIONS_WITH_ARGUMENT = frozenset({ActionKind.LABEL, ActionKind.HOLD_FOR_REVIEW, ActionKind.REPORT})


class ReportTarget(StrEnum):
    """Where a report may go. NCMEC reports need a person to have viewed the file first (US v. Wilson)."""

    NCMEC = "ncmec"
    AUTHORITIES = "authorities"

    @property
    def requires_human_view(self) -> bool:
        return self is ReportTarget.NCMEC


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    argument: str | None = None
    span: Span = field(default=Span(1, 1), compare=False)

    def __str__(self) -> str:
        return self.kind.value if self.argument is None else f"{self.kind.value}: {self.argument}"


_OPS: dict[str, Callable[[int, int], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}
COMPARISON_OPS = tuple(_OPS)


@dataclass(frozen=True, slots=True)
class Comparison:
    """`value <op> bound`, e.g. distance <= 16."""

    op: str
    bound: int

    def holds(self, value: int) -> bool:
        return _OPS[self.op](value, self.bound)


def _within(value: int | None, comparisons: tuple[Comparison, ...]) -> bool:
    if not comparisons:
        return True
    return value is not None and all(c.holds(value) for c in comparisons)


def _among(value: str | None, allowed: frozenset[str] | None) -> bool:
    return allowed is None or (value is not None and value in allowed)


@dataclass(frozen=True, slots=True)
class MatchCondition:
    """True when one match satisfies every given field (fields left out accept anything)."""

    categories: frozenset[str] | None = None
    banks: frozenset[str] | None = None
    signal_types: frozenset[str] | None = None
    distance: tuple[Comparison, ...] = ()
    quality: tuple[Comparison, ...] = ()

    def holds(self, facts: PolicyInput) -> bool:
        return any(self._fits(match, facts) for match in facts.matches)

    def _fits(self, match: MatchFact, facts: PolicyInput) -> bool:
        quality = match.quality if match.quality is not None else facts.pdq_quality
        return (
            _among(match.category, self.categories)
            and _among(match.bank, self.banks)
            and _among(match.signal_type, self.signal_types)
            and _within(match.distance, self.distance)
            and _within(quality, self.quality)
        )


@dataclass(frozen=True, slots=True)
class SignalCondition:
    """True when the item has a signal of one of the types whose quality satisfies the comparisons."""

    types: frozenset[str] | None = None
    quality: tuple[Comparison, ...] = ()

    def holds(self, facts: PolicyInput) -> bool:
        for signal in facts.signals:
            quality = signal.quality
            if quality is None and signal.type == "pdq":
                quality = facts.pdq_quality
            if _among(signal.type, self.types) and _within(quality, self.quality):
                return True
        return False


class ContextField(StrEnum):
    SERVICE = "service"
    SURFACE = "surface"
    JURISDICTION = "jurisdiction"
    AGE_BAND = "age_band"


@dataclass(frozen=True, slots=True)
class ContextCondition:
    """True when the item's context field is one of the values (an unknown value, None, never is)."""

    name: ContextField
    values: frozenset[str]

    def holds(self, facts: PolicyInput) -> bool:
        value: str | None = getattr(facts, self.name.value)
        return value is not None and value in self.values


@dataclass(frozen=True, slots=True)
class Always:
    def holds(self, facts: PolicyInput) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Condition, ...]

    def holds(self, facts: PolicyInput) -> bool:
        return all(item.holds(facts) for item in self.items)


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]

    def holds(self, facts: PolicyInput) -> bool:
        return any(item.holds(facts) for item in self.items)


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition

    def holds(self, facts: PolicyInput) -> bool:
        return not self.item.holds(facts)


Condition = MatchCondition | SignalCondition | ContextCondition | Always | AllOf | AnyOf | Not


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: Condition
    then: tuple[Action, ...]
    shadow: bool = False
    description: str = ""
    span: Span = field(default=Span(1, 1), compare=False)


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """Which items are scanned at all. `eu_private_messages` is False, True, or the services it is on for."""

    private_surfaces: frozenset[str] = frozenset({"private_message"})
    eu_private_messages: bool | frozenset[str] = False


@dataclass(frozen=True, slots=True)
class RuleId:
    """A rule's id where it is written; kept for every rule, including rules left out for their problems."""

    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class ParsedPolicy:
    rules: tuple[Rule, ...]
    scanning: ScanSettings = ScanSettings()
    name: str = ""
    rule_ids: tuple[RuleId, ...] = ()
