"""`allow` is not mixed with actions that restrict the item in one rule: the rule would contradict itself."""

from __future__ import annotations

from tutela.policy.model import ActionKind, ParsedPolicy
from tutela.policy.problems import Problems

_RESTRICTING = frozenset({ActionKind.LABEL, ActionKind.AGE_RESTRICT, ActionKind.BLOCK})


def check(policy: ParsedPolicy, problems: Problems) -> None:
    for rule in policy.rules:
        restricting = [a for a in rule.then if a.kind in _RESTRICTING]
        for action in rule.then:
            if action.kind is ActionKind.ALLOW and restricting:
                problems.add(
                    action.span,
                    f"rule {rule.id!r} both allows the item and applies '{restricting[0]}'",
                    "remove 'allow': the most restrictive action wins anyway",
                )
