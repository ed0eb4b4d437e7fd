"""Which policy each service runs: a default for every service, and per-service policies that replace it.

DSA duties and product rules differ per service (a platform for adults, a gen-AI app, a fediverse instance),
so a deployment may give each service its own rules. Every policy is validated when the catalog is built: a
process never starts with a policy that would fail at the first item. The version of the policy that decided
is recorded with every evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from tutela.policy.engine import ValidatedPolicy
from tutela.policy.loader import default_policy, load


class PolicyCatalog:
    """The default policy plus per-service overrides, all validated."""

    def __init__(
        self, default: ValidatedPolicy, by_service: Mapping[str, ValidatedPolicy] | None = None
    ) -> None:
        self.default = default
        self.by_service: Mapping[str, ValidatedPolicy] = MappingProxyType(dict(by_service or {}))

    @classmethod
    def from_files(cls, default_file: Path | None, service_files: Mapping[str, Path]) -> PolicyCatalog:
        """Load and validate every file (PolicyError on the first invalid one, listing all its problems)."""
        default = load(default_file) if default_file is not None else default_policy()
        return cls(default, {service: load(path) for service, path in service_files.items()})

    def for_service(self, service: str) -> ValidatedPolicy:
        """The policy `service` runs."""
        return self.by_service.get(service, self.default)

    def versions(self) -> dict[str, str]:
        """Policy version per service name ('*' for the default), for status pages and logs."""
        return {"*": self.default.version, **{name: p.version for name, p in self.by_service.items()}}
