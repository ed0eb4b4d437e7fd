"""Per-service policies: a service with its own file runs it; every other service runs the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutela.policy import PolicyError, PolicyInput, Visibility, default_policy
from tutela.policy.catalog import PolicyCatalog

STRICT = """\
version: 1
name: strict
rules:
  - id: label-everything
    when: {always: true}
    then: [{label: reviewed-service}]
"""


def test_service_override_and_default(tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    catalog = PolicyCatalog.from_files(None, {"kids-app": strict})
    assert catalog.for_service("other").version == default_policy().version
    kids = catalog.for_service("kids-app")
    assert kids.version != catalog.default.version
    verdict = kids.evaluate(PolicyInput(service="kids-app", surface=None, jurisdiction=None, age_band=None))
    assert verdict.visibility is Visibility.LABEL
    assert catalog.versions() == {"*": catalog.default.version, "kids-app": kids.version}


def test_an_invalid_service_policy_refuses_to_build(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nrules:\n  - id: x\n    when: {always: true}\n    then: [{explode: now}]\n")
    with pytest.raises(PolicyError, match=r"broken\.yaml:5"):
        PolicyCatalog.from_files(None, {"svc": broken})
