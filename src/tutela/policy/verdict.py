"""Verdicts and the combining rule.

Combining the actions of every rule that fired (shadow rules excepted):
- visibility: the most restrictive wins, in the order allow < label < age_restrict < block; with no rule
  fired, or only `allow`, it is allow. `allow` never lowers what another rule decided;
- labels, review holds and reports accumulate from every rule, without duplicates, sorted;
- notify_platform is set when any rule asks for it.
The result does not depend on rule order. The engine, not the policy, sets `requires_human_view` on reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tutela.policy.model import Action, ActionKind, ReportTarget


class Visibility(StrEnum):
    """What happens to the item's visibility, from least to most restrictive (compare with `rank`)."""

    ALLOW = "allow"
    LABEL = "label"
    AGE_RESTRICT = "age_restrict"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = (Visibility.ALLOW, Visibility.LABEL, Visibility.AGE_RESTRICT, Visibility.BLOCK)
_VISIBILITY_OF = {
    ActionKind.ALLOW: Visibility.ALLOW,
    ActionKind.LABEL: Visibility.LABEL,
    ActionKind.AGE_RESTRICT: Visibility.AGE_RESTRICT,
    ActionKind.BLOCK: Visibility.BLOCK,
}


@dataclass(frozen=True, slots=True, order=True)
class PendingReport:
    """A report waiting to be delivered. With `requires_human_view`, a person must view the file first."""

    target: str
    requires_human_view: bool

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "requires_human_view": self.requires_human_view}


@dataclass(frozen=True, slots=True)
class Effects:
    """The combined effect of some actions: a verdict without its bookkeeping."""

    visibility: Visibility = Visibility.ALLOW
    labels: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()
    reports: tuple[PendingReport, ...] = ()
    notify_platform: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "visibility": self.visibility.value,
            "labels": list(self.labels),
            "holds": list(self.holds),
            "reports": [report.to_json() for report in self.reports],
            "notify_platform": self.notify_platform,
        }


def combine(actions: Iterable[Action], viewed_by_person: bool) -> Effects:
    """Apply the combining rule to actions from any number of rules."""
    visibility = Visibility.ALLOW
    labels: set[str] = set()
    holds: set[str] = set()
    reports: set[PendingReport] = set()
    notify = False
    for action in actions:
        level = _VISIBILITY_OF.get(action.kind)
        if level is not None and level.rank > visibility.rank:
            visibility = level
        if action.kind is ActionKind.LABEL and action.argument is not None:
            labels.add(action.argument)
        elif action.kind is ActionKind.HOLD_FOR_REVIEW and action.argument is not None:
            holds.add(action.argument)
        elif action.kind is ActionKind.REPORT and action.argument is not None:
            target = ReportTarget(action.argument)
            reports.add(PendingReport(target.value, target.requires_human_view and not viewed_by_person))
        elif action.kind is ActionKind.NOTIFY_PLATFORM:
            notify = True
    return Effects(visibility, tuple(sorted(labels)), tuple(sorted(holds)), tuple(sorted(reports)), notify)


@dataclass(frozen=True, slots=True)
class ShadowResult:
    """What a shadow rule would have done, and whether the verdict would have differed had it been live."""

    rule: str
    would: Effects
    changes_outcome: bool

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "would": self.would.to_json(), "changes_outcome": self.changes_outcome}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the policy decided for one item, under `policy_version`.

    `automated` is True when this verdict itself restricts visibility (label, age_restrict, block) with no
    person having decided: a statement of reasons must declare such a decision automated. A verdict that only
    holds an item for review restricts nothing yet; the reviewer's decision will be a human one.
    """

    visibility: Visibility
    labels: tuple[str, ...]
    holds: tuple[str, ...]
    reports: tuple[PendingReport, ...]
    notify_platform: bool
    fired: tuple[str, ...]
    shadow: tuple[ShadowResult, ...]
    policy_version: str
    automated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "visibility": self.visibility.value,
            "labels": list(self.labels),
            "holds": list(self.holds),
            "reports": [report.to_json() for report in self.reports],
            "notify_platform": self.notify_platform,
            "fired": list(self.fired),
            "shadow": [result.to_json() for result in self.shadow],
            "policy_version": self.policy_version,
            "automated": self.automated,
        }
