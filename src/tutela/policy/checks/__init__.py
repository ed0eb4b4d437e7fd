"""Checks over a parsed policy, one per module, each adding its problems with their positions.

The parser finds what is malformed in one place (a bad key, type or value); a check finds what is wrong
across places (two rules with one id, a report to NCMEC that no person would ever look at). Add a check by
writing a module with a `check(policy, problems)` function and listing it in `CHECKS`.
"""

from __future__ import annotations

from collections.abc import Callable

from tutela.policy.checks import allow_conflicts, duplicate_actions, ncmec_review, unique_ids
from tutela.policy.model import ParsedPolicy
from tutela.policy.problems import Problems

Check = Callable[[ParsedPolicy, Problems], None]

CHECKS: tuple[Check, ...] = (
    unique_ids.check,
    duplicate_actions.check,
    allow_conflicts.check,
    ncmec_review.check,
)


def run_checks(policy: ParsedPolicy, problems: Problems) -> None:
    for check in CHECKS:
        check(policy, problems)
