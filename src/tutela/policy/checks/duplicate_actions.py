"""A rule lists each action once: a repeated action is a slip, usually a copy meant to be edited."""

from __future__ import annotations

from tutela.policy.model import Action, ParsedPolicy
from tutela.policy.problems import Problems


def check(policy: ParsedPolicy, problems: Problems) -> None:
    for rule in policy.rules:
        seen: dict[Action, Action] = {}
        for action in rule.then:
            first = seen.setdefault(action, action)
            if first is not action:
                problems.add(
                    action.span,
                    f"action '{action}' is listed twice in rule {rule.id!r}",
                    f"remove this one (first on line {first.span.line})",
                )
