"""Policy rules as data: YAML rules validated into a `ValidatedPolicy`, evaluated into a `Verdict`.

    policy = load(Path("policy.yaml"))  # or loads(text), default_policy(); PolicyError lists every problem
    ok, why = policy.should_scan(service, surface, jurisdiction)
    verdict = policy.evaluate(PolicyInput(service="app", matches=(...)))

The grammar, the combining rule, shadow mode and the NCMEC rule are documented in docs/policy.md.
"""

from tutela.policy.engine import ValidatedPolicy
from tutela.policy.facts import MatchFact, PolicyInput, input_from_json
from tutela.policy.loader import default_policy, load, loads
from tutela.policy.model import ActionKind, ReportTarget
from tutela.policy.problems import PolicyError, PolicyProblem, render_json, render_text
from tutela.policy.regions import EU_MEMBER_STATES
from tutela.policy.verdict import Effects, PendingReport, ShadowResult, Verdict, Visibility

__all__ = [
    "EU_MEMBER_STATES",
    "ActionKind",
    "Effects",
    "MatchFact",
    "PendingReport",
    "PolicyError",
    "PolicyInput",
    "PolicyProblem",
    "ReportTarget",
    "ShadowResult",
    "ValidatedPolicy",
    "Verdict",
    "Visibility",
    "default_policy",
    "input_from_json",
    "load",
    "loads",
    "render_json",
    "render_text",
]
