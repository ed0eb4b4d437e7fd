"""Bad policies: every problem reported at once, compiler-style, checked against golden files.

A golden file tests/data/policy/NAME.errors.txt holds the exact report for NAME.yaml. After an intended change
to messages, regenerate them and review the diff:
    .venv/bin/python -c "from tests.test_policy_errors import write_goldens; write_goldens()"
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tutela.errors import TutelaError
from tutela.policy import PolicyError, ValidatedPolicy, load, loads, render_json, render_text
from tutela.policy.engine import _BUILD_KEY
from tutela.policy.model import ParsedPolicy

DATA = Path(__file__).parent / "data" / "policy"
BAD = sorted(path for path in DATA.glob("*.yaml") if path.with_suffix(".errors.txt").exists())


def report(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        loads(path.read_text(encoding="utf-8"), path.name)
    return str(info.value) + "\n"


def write_goldens() -> None:
    for path in BAD:
        try:
            loads(path.read_text(encoding="utf-8"), path.name)
        except PolicyError as exc:
            path.with_suffix(".errors.txt").write_text(str(exc) + "\n", encoding="utf-8")


def test_there_are_golden_files() -> None:
    assert len(BAD) >= 5


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_report_matches_golden_file(path: Path) -> None:
    assert report(path) == path.with_suffix(".errors.txt").read_text(encoding="utf-8")


def test_a_file_with_many_errors_lists_every_one_with_its_line_and_column() -> None:
    with pytest.raises(PolicyError) as info:
        load(DATA / "many_errors.yaml")
    problems = info.value.problems
    where = [(p.line, p.col) for p in problems]
    assert where == sorted(where)
    lines = {p.line for p in problems}
    # one mistake on each of these lines of many_errors.yaml
    assert {4, 8, 10, 11, 12, 14, 15, 21, 26, 29, 31, 32} <= lines
    text = str(info.value)
    assert text.count(f"{DATA / 'many_errors.yaml'}:") == len(problems)
    assert text.endswith(f"{len(problems)} errors")
    for line in text.splitlines():
        if line.startswith(str(DATA)):
            assert re.match(r"^.+:\d+:\d+: \S", line)


def test_json_form_has_the_same_problems() -> None:
    with pytest.raises(PolicyError) as info:
        load(DATA / "structure.yaml")
    rows = render_json(info.value.problems)
    assert json.loads(json.dumps(rows)) == rows
    assert all(set(row) == {"file", "line", "col", "message", "hint"} for row in rows)
    assert [row["line"] for row in rows] == [p.line for p in info.value.problems]
    assert render_text(info.value.problems) == str(info.value)


def test_policy_error_is_a_tutela_error() -> None:
    assert issubclass(PolicyError, TutelaError)


def one_rule(when: str, then: str = "[block]", extra: str = "") -> str:
    return f"  - id: a\n{extra}    when: {when}\n    then: {then}\n"


ALWAYS = "{always: true}"


@pytest.mark.parametrize(
    ("body", "message", "hint"),
    [
        (one_rule("{match: {category: [csam, ncij]}}"), "unknown category", "'ncii'"),
        (one_rule("{match: {distance: '< 257'}}"), "out of range", "0 and 256"),
        (one_rule("{match: {distance: '<= -1'}}"), "out of range", "0 and 256"),
        (one_rule("{match: {quality: '> 101'}}"), "out of range", "0 and 100"),
        (one_rule("{match: {distance: 16}}"), "must be a comparison", '"<= 16"'),
        (one_rule("{surfce: [feed]}"), "unknown key 'surfce'", "'surface'"),
        (one_rule(ALWAYS, "[blcok]"), "unknown action 'blcok'", "'block'"),
        (one_rule(ALWAYS, "[report]"), "needs an argument", "report: ncmec"),
        (one_rule(ALWAYS, "[label: 'Two Words']"), "not a valid label", "lower-case"),
        (one_rule(ALWAYS, "[report: ncmec]"), "holds nothing for review", "hold_for"),
        (one_rule(ALWAYS, "[allow, block]"), "both allows", "remove 'allow'"),
        (one_rule("{always: false}"), "never holds", "shadow"),
        (one_rule("{signal: {type: sha512}}"), "unknown signal type", "did you mean"),
        (one_rule(ALWAYS, extra="    id: b\n"), "duplicate key 'id'", "line 3"),
        (one_rule(ALWAYS, extra="    shadow: 1\n"), "true or false", None),
        (one_rule("[1]"), "must be a mapping", None),
        (one_rule("{jurisdiction: USA}"), "not an ISO 3166-1", "'EU'"),
    ],
)
def test_single_problem(body: str, message: str, hint: str | None) -> None:
    with pytest.raises(PolicyError) as info:
        loads("version: 1\nrules:\n" + body, "p.yaml")
    [problem] = info.value.problems
    assert message in problem.message
    if hint is None:
        assert problem.hint is None
    else:
        assert problem.hint is not None
        assert hint in problem.hint


def test_scanning_settings_are_checked() -> None:
    text = "version: 1\nscanning:\n  eu_private_messages: sometimes\n  private: [dm]\nrules: []\n"
    with pytest.raises(PolicyError) as info:
        loads(text, "p.yaml")
    assert [(p.line, p.col) for p in info.value.problems] == [(3, 24), (4, 3), (5, 8)]


def test_an_unreadable_file_is_a_problem_too(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load(tmp_path / "missing.yaml")


def test_a_validated_policy_cannot_be_built_by_hand() -> None:
    with pytest.raises(TypeError, match="load"):
        ValidatedPolicy(ParsedPolicy(()), "", "x", key=object())
    assert ValidatedPolicy(ParsedPolicy(()), "", "x", key=_BUILD_KEY).rules == ()
