"""Evaluation: combining rule, shadow rules, EU private messages, the NCMEC rule, the default pack."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.policy import (
    EU_MEMBER_STATES,
    MatchFact,
    PendingReport,
    PolicyError,
    PolicyInput,
    Visibility,
    default_policy,
    loads,
)


def policy_of(*rules: str, scanning: str = "") -> str:
    return "version: 1\n" + scanning + "rules:\n" + "".join(rules)


def rule(rule_id: str, then: str, when: str = "{always: true}", extra: str = "") -> str:
    return f"  - id: {rule_id}\n    when: {when}\n    then: {then}\n{extra}"


def near(category: str, distance: int) -> MatchFact:
    return MatchFact("bank-a", category, "pdq", distance, 1, 90)


def test_nothing_fired_is_allow() -> None:
    policy = loads(policy_of(rule("never", "[block]", "{service: other}")))
    verdict = policy.evaluate(PolicyInput("s"))
    assert verdict.visibility is Visibility.ALLOW
    assert (verdict.fired, verdict.labels, verdict.holds, verdict.reports) == ((), (), (), ())
    assert not verdict.notify_platform
    assert not verdict.automated


def test_most_restrictive_visibility_wins_and_the_rest_accumulates_without_duplicates() -> None:
    policy = loads(
        policy_of(
            rule("a", "[allow]"),
            rule("b", "[{label: notice}, {hold_for_review: general}]"),
            rule("c", "[age_restrict, {label: notice}, {label: context}, {hold_for_review: general}]"),
            rule("d", "[{hold_for_review: urgent}, {report: authorities}, notify_platform]"),
            rule("e", "[{report: authorities}]"),
        )
    )
    verdict = policy.evaluate(PolicyInput("s"))
    assert verdict.visibility is Visibility.AGE_RESTRICT
    assert verdict.labels == ("context", "notice")
    assert verdict.holds == ("general", "urgent")
    assert verdict.reports == (PendingReport("authorities", False),)
    assert verdict.notify_platform
    assert verdict.fired == ("a", "b", "c", "d", "e")


def test_visibility_order() -> None:
    order = [Visibility.ALLOW, Visibility.LABEL, Visibility.AGE_RESTRICT, Visibility.BLOCK]
    assert [v.rank for v in order] == [0, 1, 2, 3]


def test_shadow_rules_record_what_they_would_do_but_do_not_act() -> None:
    policy = loads(
        policy_of(
            rule("live", "[{label: notice}]"),
            rule("trial", "[block, {hold_for_review: general}, {report: ncmec}]", extra="    shadow: true\n"),
            rule("trial-same", "[{label: notice}]", extra="    shadow: true\n"),
            rule("trial-off", "[block]", when="{service: other}", extra="    shadow: true\n"),
        )
    )
    verdict = policy.evaluate(PolicyInput("s"))
    assert verdict.visibility is Visibility.LABEL
    assert verdict.holds == ()
    assert verdict.reports == ()
    assert verdict.fired == ("live",)
    trial, same = verdict.shadow
    assert trial.rule == "trial"
    assert trial.would.visibility is Visibility.BLOCK
    assert trial.would.holds == ("general",)
    assert trial.would.reports == (PendingReport("ncmec", True),)
    assert trial.changes_outcome
    assert same.rule == "trial-same"
    assert not same.changes_outcome


class TestNcmecNeedsAPersonToHaveViewedTheFile:
    POLICY = policy_of(rule("direct", "[block, {hold_for_review: csam}, {report: ncmec}]"))

    def test_a_policy_that_reports_directly_still_gets_a_pending_report(self) -> None:
        verdict = loads(self.POLICY).evaluate(PolicyInput("s", viewed_by_person=False))
        assert verdict.reports == (PendingReport("ncmec", requires_human_view=True),)

    def test_after_a_person_viewed_the_file_no_further_view_is_required(self) -> None:
        verdict = loads(self.POLICY).evaluate(PolicyInput("s", viewed_by_person=True))
        assert verdict.reports == (PendingReport("ncmec", requires_human_view=False),)

    def test_a_report_to_ncmec_without_a_review_hold_is_refused_at_load(self) -> None:
        with pytest.raises(PolicyError, match="holds nothing for review"):
            loads(policy_of(rule("direct", "[block, {report: ncmec}]")))


class TestScanning:
    def test_eu_private_messages_are_not_scanned_by_default(self) -> None:
        policy = loads(policy_of(rule("a", "[allow]")))
        for country in EU_MEMBER_STATES:
            scanned, reason = policy.should_scan("app", "private_message", country)
            assert not scanned
            assert "2021/1232" in reason
        assert policy.should_scan("app", "private_message", "US")[0]
        assert policy.should_scan("app", "private_message", None)[0]
        assert policy.should_scan("app", "public_post", "DE")[0]
        assert policy.should_scan("app", None, "DE")[0]

    def test_a_policy_can_enable_them(self) -> None:
        policy = loads(policy_of(rule("a", "[allow]"), scanning="scanning:\n  eu_private_messages: true\n"))
        assert policy.should_scan("app", "private_message", "FR") == (
            True,
            "private messages in EU jurisdictions are scanned for service 'app' by policy",
        )

    def test_for_some_services_and_surfaces(self) -> None:
        scanning = "scanning:\n  private_surfaces: [dm, group]\n  eu_private_messages: [chat]\n"
        policy = loads(policy_of(rule("a", "[allow]"), scanning=scanning))
        assert policy.should_scan("chat", "dm", "IE")[0]
        assert not policy.should_scan("mail", "dm", "IE")[0]
        assert not policy.should_scan("mail", "group", "IE")[0]
        assert policy.should_scan("mail", "private_message", "IE")[0]

    def test_eu_has_27_member_states(self) -> None:
        assert len(EU_MEMBER_STATES) == 27
        assert "GB" not in EU_MEMBER_STATES
        assert {"DE", "FR", "HR", "IE"} <= EU_MEMBER_STATES


class TestDefaultPack:
    @pytest.mark.parametrize("category", ["csam", "ncii"])
    @pytest.mark.parametrize("distance", [0, 16])
    def test_near_exact_matches_block_and_go_to_review(self, category: str, distance: int) -> None:
        verdict = default_policy().evaluate(PolicyInput("s", matches=(near(category, distance),)))
        assert verdict.visibility is Visibility.BLOCK
        assert verdict.holds == (category,)
        assert verdict.notify_platform
        assert verdict.automated

    @pytest.mark.parametrize("category", ["csam", "ncii"])
    @pytest.mark.parametrize("distance", [17, 31])
    def test_weaker_matches_go_to_review_unblocked(self, category: str, distance: int) -> None:
        verdict = default_policy().evaluate(PolicyInput("s", matches=(near(category, distance),)))
        assert verdict.visibility is Visibility.ALLOW
        assert verdict.holds == (category,)
        assert verdict.reports == ()
        assert not verdict.automated

    def test_csam_report_waits_for_a_person(self) -> None:
        verdict = default_policy().evaluate(PolicyInput("s", matches=(near("csam", 0),)))
        assert verdict.reports == (PendingReport("ncmec", requires_human_view=True),)
        ncii = default_policy().evaluate(PolicyInput("s", matches=(near("ncii", 0),)))
        assert ncii.reports == ()

    def test_no_match_is_allow(self) -> None:
        verdict = default_policy().evaluate(PolicyInput("s", surface="feed", jurisdiction="US"))
        assert verdict.visibility is Visibility.ALLOW
        assert verdict.fired == ()
        assert verdict.policy_version == default_policy().version

    def test_eu_private_messages_are_off(self) -> None:
        assert not default_policy().should_scan("s", "private_message", "NL")[0]


RULES = [
    rule("r-block", "[block]", "{match: {category: csam}}"),
    rule("r-age", "[age_restrict, {label: mature}]", "{age_band: [under_13, 13_to_15]}"),
    rule("r-label", "[{label: notice}, {hold_for_review: general}]", "{surface: feed}"),
    rule("r-allow", "[allow]", "{service: a}"),
    rule("r-report", "[{hold_for_review: csam}, {report: ncmec}]", "{match: {distance: '<= 10'}}"),
    rule("r-shadow", "[block]", "{jurisdiction: EU}", extra="    shadow: true\n"),
]
FACTS = st.builds(
    PolicyInput,
    service=st.sampled_from(["a", "b"]),
    surface=st.sampled_from([None, "feed", "private_message"]),
    jurisdiction=st.sampled_from([None, "DE", "US"]),
    age_band=st.sampled_from([None, "under_13", "adult"]),
    matches=st.lists(
        st.builds(near, st.sampled_from(["csam", "ncii", "other"]), st.integers(0, 31)), max_size=3
    ).map(tuple),
    viewed_by_person=st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(RULES), facts=FACTS)
def test_evaluation_is_deterministic_and_independent_of_rule_order(
    order: list[str], facts: PolicyInput
) -> None:
    reference = loads(policy_of(*RULES)).evaluate(facts)
    shuffled = loads(policy_of(*order))
    first, second = shuffled.evaluate(facts), shuffled.evaluate(facts)
    assert first == second
    for field in ("visibility", "labels", "holds", "reports", "notify_platform", "automated"):
        assert getattr(first, field) == getattr(reference, field), field
    assert sorted(first.fired) == sorted(reference.fired)
    assert sorted(s.rule for s in first.shadow) == sorted(s.rule for s in reference.shadow)
