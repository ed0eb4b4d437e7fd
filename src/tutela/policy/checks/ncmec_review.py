"""A rule that reports to NCMEC also holds the item for review.

US v. Wilson (9th Cir. 2021): opening a file that no person at the provider has viewed is a search, so a
report to NCMEC waits until a person has viewed the file (NCMEC's `fileViewedByEsp`). The engine keeps such
a report pending; this check makes sure the same rule puts the item in front of a person, or it would wait
forever.
"""

from __future__ import annotations

from tutela.policy.model import ActionKind, ParsedPolicy, ReportTarget
from tutela.policy.problems import Problems


def check(policy: ParsedPolicy, problems: Problems) -> None:
    for rule in policy.rules:
        holds = any(a.kind is ActionKind.HOLD_FOR_REVIEW for a in rule.then)
        for action in rule.then:
            if action.kind is ActionKind.REPORT and action.argument == ReportTarget.NCMEC.value and not holds:
                problems.add(
                    action.span,
                    f"rule {rule.id!r} reports to NCMEC but holds nothing for review",
                    "add `hold_for_review: <queue>`: a report to NCMEC waits for a person to view it",
                )
