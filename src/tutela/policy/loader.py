"""load(), loads(), default_policy(): policy text -> ValidatedPolicy, or PolicyError listing every problem."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from tutela.policy.checks import run_checks
from tutela.policy.engine import _BUILD_KEY, ValidatedPolicy
from tutela.policy.parser import parse
from tutela.policy.problems import PolicyError, Problems, Span

DEFAULT_POLICY = "default.yaml"


def loads(text: str, source: str = "<policy>") -> ValidatedPolicy:
    """Validate policy text; raise PolicyError with every problem, each at its file:line:col."""
    problems = Problems(source, text)
    parsed = parse(text, problems)
    if parsed is not None:
        run_checks(parsed, problems)
    if parsed is None or problems:
        raise PolicyError(problems.sorted())
    return ValidatedPolicy(parsed, text, source, key=_BUILD_KEY)


def load(path: Path) -> ValidatedPolicy:
    """Read and validate a policy file (UTF-8). An unreadable file is reported as a problem too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems = Problems(str(path), "")
        problems.add(Span(1, 1), f"cannot read the policy file: {exc}", "check the path and that it is UTF-8")
        raise PolicyError(problems.sorted()) from exc
    return loads(text, str(path))


def default_policy() -> ValidatedPolicy:
    """The default policy pack shipped with Tutela (tutela/policy/default.yaml)."""
    text = resources.files("tutela.policy").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
    return loads(text, f"tutela/policy/{DEFAULT_POLICY}")
