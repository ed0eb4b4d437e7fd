"""`ValidatedPolicy`: the only form of a policy that can be evaluated, stored or enabled.

It is built by `load()`, `loads()` and `default_policy()` after every check has passed; constructing one by
hand raises TypeError. Evaluation is a pure function of the policy and the facts.
"""

from __future__ import annotations

import hashlib
from typing import Final

from tutela.policy import regions
from tutela.policy.facts import PolicyInput
from tutela.policy.model import Action, ParsedPolicy, Rule
from tutela.policy.verdict import Effects, ShadowResult, Verdict, Visibility, combine

_BUILD_KEY: Final = object()

EU_PRIVATE_MESSAGES_OFF = (
    "private messages in EU jurisdictions are not scanned: the interim regulation (EU) 2021/1232 that "
    "allowed it lapsed in April 2026; a policy may enable it with `scanning: {eu_private_messages: true}`"
)


class ValidatedPolicy:
    """A policy that passed every check. `version` is the first 16 hex digits of the source's SHA-256."""

    def __init__(self, parsed: ParsedPolicy, text: str, source: str, *, key: object) -> None:
        if key is not _BUILD_KEY:
            raise TypeError("a ValidatedPolicy comes from tutela.policy.load(), loads() or default_policy()")
        self._parsed = parsed
        self.text = text
        self.source = source
        self.version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @property
    def name(self) -> str:
        return self._parsed.name

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._parsed.rules

    def __repr__(self) -> str:
        return f"<ValidatedPolicy {self.source} rules={len(self.rules)} version={self.version}>"

    def should_scan(self, service: str, surface: str | None, jurisdiction: str | None) -> tuple[bool, str]:
        """Whether an item in this context may be scanned at all, and why.

        Private messages (surfaces listed in `scanning.private_surfaces`) in an EU member state are not
        scanned unless the policy enables it for all services or for this one. An unknown jurisdiction is
        not treated as EU: a platform with EU users must send the jurisdiction.
        """
        settings = self._parsed.scanning
        if surface is None or surface not in settings.private_surfaces or not regions.is_eu(jurisdiction):
            return True, "scanned"
        enabled = settings.eu_private_messages
        if enabled is True or (isinstance(enabled, frozenset) and service in enabled):
            return True, f"private messages in EU jurisdictions are scanned for service {service!r} by policy"
        return False, EU_PRIVATE_MESSAGES_OFF

    def evaluate(self, facts: PolicyInput) -> Verdict:
        """The verdict for one item: every live rule whose `when` holds contributes its actions."""
        live: list[Rule] = []
        shadowed: list[Rule] = []
        for rule in self._parsed.rules:
            if rule.when.holds(facts):
                (shadowed if rule.shadow else live).append(rule)
        actions = [action for rule in live for action in rule.then]
        effects = combine(actions, facts.viewed_by_person)
        shadow = tuple(self._shadow(rule, actions, effects, facts) for rule in shadowed)
        return Verdict(
            visibility=effects.visibility,
            labels=effects.labels,
            holds=effects.holds,
            reports=effects.reports,
            notify_platform=effects.notify_platform,
            fired=tuple(rule.id for rule in live),
            shadow=shadow,
            policy_version=self.version,
            automated=effects.visibility is not Visibility.ALLOW,
        )

    @staticmethod
    def _shadow(rule: Rule, live_actions: list[Action], live: Effects, facts: PolicyInput) -> ShadowResult:
        would = combine(rule.then, facts.viewed_by_person)
        together = combine([*live_actions, *rule.then], facts.viewed_by_person)
        return ShadowResult(rule.id, would, together != live)
