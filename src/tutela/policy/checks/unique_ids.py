"""Rule ids are unique: verdicts, shadow results and audit entries name rules by id."""

from __future__ import annotations

from tutela.policy.model import ParsedPolicy, RuleId
from tutela.policy.problems import Problems


def check(policy: ParsedPolicy, problems: Problems) -> None:
    seen: dict[str, RuleId] = {}
    for rule_id in policy.rule_ids:
        first = seen.setdefault(rule_id.id, rule_id)
        if first is not rule_id:
            problems.add(
                rule_id.span,
                f"duplicate rule id {rule_id.id!r}",
                f"first used on line {first.span.line}; give every rule its own id",
            )
