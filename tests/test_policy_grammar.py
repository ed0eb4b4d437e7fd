"""The policy grammar: every condition and every action, evaluated through a policy that uses them all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutela.cli.policy_cmd import policy_app
from tutela.errors import InvalidInput
from tutela.policy import (
    MatchFact,
    PendingReport,
    PolicyInput,
    ValidatedPolicy,
    Visibility,
    input_from_json,
    load,
    loads,
)
from tutela.policy.model import ActionKind
from tutela.policy.parse_conditions import CONDITION_KEYS, MATCH_KEYS
from tutela.signals import Signal

DATA = Path(__file__).parent / "data" / "policy"


@pytest.fixture(scope="module")
def policy() -> ValidatedPolicy:
    return load(DATA / "every_feature.yaml")


def match(
    category: str = "csam",
    distance: int = 0,
    bank: str = "bank-a",
    signal_type: str = "pdq",
    quality: int | None = None,
) -> MatchFact:
    return MatchFact(bank, category, signal_type, distance, 1, quality)


def fired(policy: ValidatedPolicy, facts: PolicyInput) -> set[str]:
    return set(policy.evaluate(facts).fired) - {"always-notify"}


def test_the_every_feature_policy_loads_with_its_rules(policy: ValidatedPolicy) -> None:
    assert policy.name == "every-feature"
    assert len(policy.rules) == 8
    assert len(policy.version) == 16
    int(policy.version, 16)


def test_match_category_and_distance_must_hold_for_the_same_match(policy: ValidatedPolicy) -> None:
    assert fired(policy, PolicyInput("s", matches=(match("csam", 16),))) == {"near-exact-csam"}
    assert fired(policy, PolicyInput("s", matches=(match("csam", 17),))) == set()
    # a far csam match and a near match of another category do not combine into one near csam match
    both = (match("csam", 30), match("ncii", 3))
    assert fired(policy, PolicyInput("s", matches=both)) == set()


def test_match_bank_signal_type_distance_range_and_quality(policy: ValidatedPolicy) -> None:
    def own(distance: int, quality: int | None, pdq_quality: int | None = None) -> set[str]:
        fact = match("own-confirmed", distance, bank="own-cases", quality=quality)
        return fired(policy, PolicyInput("s", matches=(fact,), pdq_quality=pdq_quality))

    assert own(20, 80) == {"own-bank-range"}
    assert own(16, 80) == set()  # distance "> 16"
    assert own(32, 80) == set()  # distance "< 32"
    assert own(20, 69) == set()  # quality ">= 70"
    assert own(20, None) == set()  # unknown quality never satisfies a bound
    assert own(20, None, pdq_quality=75) == {"own-bank-range"}  # falls back to the item's PDQ quality
    md5 = match("own-confirmed", 20, bank="own-cases", signal_type="md5", quality=80)
    assert fired(policy, PolicyInput("s", matches=(md5,))) == set()


def test_all_with_the_eu_alias(policy: ValidatedPolicy) -> None:
    terror = (match("terrorism", 5),)
    assert fired(policy, PolicyInput("s", jurisdiction="DE", matches=terror)) == {"terrorism-in-eu"}
    assert fired(policy, PolicyInput("s", jurisdiction="NO", matches=terror)) == set()
    assert fired(policy, PolicyInput("s", jurisdiction=None, matches=terror)) == set()


def test_any_with_age_band_and_surface(policy: ValidatedPolicy) -> None:
    assert fired(policy, PolicyInput("s", age_band="13_to_15")) == {"minors-see-label"}
    assert fired(policy, PolicyInput("s", surface="kids")) == {"minors-see-label"}
    assert fired(policy, PolicyInput("s", age_band="adult", surface="feed")) == set()


def test_signal_condition(policy: ValidatedPolicy) -> None:
    weak = Signal("pdq", "0" * 64, quality=30)
    strong = Signal("pdq", "0" * 64, quality=90)
    assert fired(policy, PolicyInput("s", signals=(weak,))) == {"weak-signal"}
    assert fired(policy, PolicyInput("s", signals=(strong,))) == set()
    unknown = Signal("pdq", "0" * 64)
    assert fired(policy, PolicyInput("s", signals=(unknown,), pdq_quality=10)) == {"weak-signal"}


def test_service_and_not_match(policy: ValidatedPolicy) -> None:
    assert fired(policy, PolicyInput("shop")) == {"no-match-in-shop"}
    assert fired(policy, PolicyInput("shop", matches=(match("other", 40),))) == set()
    assert fired(policy, PolicyInput("blog")) == set()


def test_always(policy: ValidatedPolicy) -> None:
    verdict = policy.evaluate(PolicyInput("s"))
    assert verdict.fired == ("always-notify",)
    assert verdict.notify_platform


def test_every_action() -> None:
    policy = loads(
        """
version: 1
rules:
  - id: all-actions
    when: {always: true}
    then:
      - label: notice
      - age_restrict
      - hold_for_review: general
      - block
      - report: ncmec
      - report: authorities
      - notify_platform
  - id: allow-too
    when: {always: true}
    then: [allow]
"""
    )
    verdict = policy.evaluate(PolicyInput("s"))
    assert verdict.visibility is Visibility.BLOCK
    assert verdict.labels == ("notice",)
    assert verdict.holds == ("general",)
    assert verdict.reports == (PendingReport("authorities", False), PendingReport("ncmec", True))
    assert verdict.notify_platform
    assert verdict.fired == ("all-actions", "allow-too")
    assert verdict.automated
    assert {a.kind for rule in policy.rules for a in rule.then} == set(ActionKind)


def test_allow_only_is_not_automated_and_restricts_nothing() -> None:
    policy = loads("version: 1\nrules:\n  - id: ok\n    when: {always: true}\n    then: [allow]\n")
    verdict = policy.evaluate(PolicyInput("s"))
    assert verdict.visibility is Visibility.ALLOW
    assert verdict.fired == ("ok",)
    assert not verdict.automated


def test_verdict_json_shape(policy: ValidatedPolicy) -> None:
    verdict = policy.evaluate(PolicyInput("s", jurisdiction="US", matches=(match("csam", 2),)))
    data = verdict.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["visibility"] == "block"
    assert data["reports"] == [{"target": "ncmec", "requires_human_view": True}]
    assert data["policy_version"] == policy.version
    assert data["shadow"][0]["rule"] == "try-blocking-everything-in-us"


def test_item_json_round_trip() -> None:
    facts = input_from_json(json.loads((DATA / "item_csam_exact.json").read_text()))
    assert facts.service == "photos"
    assert facts.matches == (MatchFact("ncmec-hashes", "csam", "pdq", 4, 17, 90),)
    assert not facts.viewed_by_person


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ([], "must be a JSON object"),
        ({"servce": "x"}, "unknown item field"),
        ({"viewed_by_person": "yes"}, "true or false"),
        ({"matches": [{"bank": "b"}]}, "'category'"),
        ({"jurisdiction": 3}, "'jurisdiction' must be a string"),
        ({"signals": [{"type": "pdq"}]}, "'type' and 'value'"),
        ({"matches": [{"bank": "b", "category": "c", "distance": "far"}]}, "'distance' must be an integer"),
    ],
)
def test_bad_item_json_names_the_field(item: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        input_from_json(item)


def test_docs_describe_every_condition_action_and_command() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "policy.md").read_text(encoding="utf-8")
    for name in (*CONDITION_KEYS, *MATCH_KEYS, *(kind.value for kind in ActionKind)):
        assert f"| `{name}" in docs, name
    for command in policy_app.registered_commands:
        assert f"tutela policy {command.name} FILE" in docs, command.name
