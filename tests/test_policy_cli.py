"""`tutela policy check` and `tutela policy test`, driven through the Typer sub-app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tutela.cli.policy_cmd import policy_app
from tutela.policy import load

DATA = Path(__file__).parent / "data" / "policy"
runner = CliRunner()


def test_check_a_good_policy() -> None:
    path = DATA / "every_feature.yaml"
    result = runner.invoke(policy_app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: 8 rules, version {load(path).version}\n"


def test_check_a_bad_policy_prints_every_error_and_exits_1() -> None:
    path = DATA / "many_errors.yaml"
    result = runner.invoke(policy_app, ["check", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count(f"{path}:") == 15
    assert "hint: did you mean 'block'?" in result.stderr
    assert result.stderr.rstrip().endswith("15 errors")


def test_check_json() -> None:
    good = runner.invoke(policy_app, ["check", "--json", str(DATA / "every_feature.yaml")])
    assert json.loads(good.stdout)["ok"] is True
    bad = runner.invoke(policy_app, ["check", "--json", str(DATA / "structure.yaml")])
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["ok"] is False
    assert [(row["line"], row["col"]) for row in data["errors"]][:2] == [(1, 10), (3, 9)]


def test_check_a_missing_file() -> None:
    result = runner.invoke(policy_app, ["check", "/nonexistent/policy.yaml"])
    assert result.exit_code == 1
    assert "cannot read the policy file" in result.stderr


def test_test_prints_the_verdict() -> None:
    result = runner.invoke(
        policy_app, ["test", str(DATA / "every_feature.yaml"), "--item", str(DATA / "item_csam_exact.json")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scan"]["scanned"] is True
    verdict = data["verdict"]
    assert verdict["visibility"] == "block"
    assert verdict["holds"] == ["csam"]
    assert verdict["reports"] == [{"target": "ncmec", "requires_human_view": True}]
    assert verdict["fired"] == ["near-exact-csam", "always-notify"]
    assert [s["rule"] for s in verdict["shadow"]] == ["try-blocking-everything-in-us"]


def test_test_an_eu_private_message_is_not_scanned(tmp_path: Path) -> None:
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"service": "mail", "surface": "private_message", "jurisdiction": "AT"}))
    result = runner.invoke(policy_app, ["test", str(DATA / "every_feature.yaml"), "--item", str(item)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"scan": {"scanned": False, "reason": data["scan"]["reason"]}, "verdict": None}
    assert "2021/1232" in data["scan"]["reason"]


def test_test_a_bad_item(tmp_path: Path) -> None:
    item = tmp_path / "item.json"
    item.write_text('{"service": "x", "matches": [{"bank": "b"}]}')
    result = runner.invoke(policy_app, ["test", str(DATA / "every_feature.yaml"), "--item", str(item)])
    assert result.exit_code == 1
    assert "a match needs the field 'category'" in result.stderr


def test_test_with_a_bad_policy() -> None:
    item = str(DATA / "item_csam_exact.json")
    result = runner.invoke(policy_app, ["test", str(DATA / "syntax_error.yaml"), "--item", item])
    assert result.exit_code == 1
    assert "YAML syntax error" in result.stderr
