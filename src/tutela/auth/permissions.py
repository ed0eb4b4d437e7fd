"""Permissions (`resource:action`), roles, and the one table that maps roles to permissions.

Deny by default: a role holds exactly the permissions listed here, every API route declares the permission it
needs (a test fails on a route that declares none), and a `platform` key is further confined to its service.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """What a caller may do; values are `resource:action` and never change once released."""

    ITEMS_SUBMIT = "items:submit"
    ITEMS_READ = "items:read"
    BANKS_READ = "banks:read"
    BANKS_WRITE = "banks:write"
    BANKS_EXPORT = "banks:export"
    ENTRIES_WRITE = "entries:write"
    HASHES_COMPUTE = "hashes:compute"
    MATCHES_LOOKUP = "matches:lookup"
    POLICIES_READ = "policies:read"
    POLICIES_WRITE = "policies:write"
    SERVICES_READ = "services:read"
    SERVICES_WRITE = "services:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    DELIVERIES_READ = "deliveries:read"
    DELIVERIES_RETRY = "deliveries:retry"
    KEYS_WRITE = "keys:write"
    METRICS_READ = "metrics:read"
    STATUS_READ = "status:read"


class Role(StrEnum):
    """Roles a key or a person holds; values are storage keys."""

    ADMIN = "admin"
    POLICY_EDITOR = "policy_editor"
    BANK_CURATOR = "bank_curator"
    MODERATOR = "moderator"
    CHILD_SAFETY_MODERATOR = "child_safety_moderator"
    VAULT_CUSTODIAN = "vault_custodian"
    AUDITOR = "auditor"
    PLATFORM = "platform"


P = Permission
_READ_ONLY = frozenset({P.ITEMS_READ, P.BANKS_READ, P.POLICIES_READ, P.SERVICES_READ, P.STATUS_READ})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.POLICY_EDITOR: _READ_ONLY | {P.POLICIES_WRITE},
    Role.BANK_CURATOR: _READ_ONLY
    | {P.BANKS_WRITE, P.BANKS_EXPORT, P.ENTRIES_WRITE, P.HASHES_COMPUTE, P.MATCHES_LOOKUP},
    Role.MODERATOR: frozenset({P.ITEMS_READ, P.BANKS_READ, P.STATUS_READ}),
    Role.CHILD_SAFETY_MODERATOR: frozenset({P.ITEMS_READ, P.BANKS_READ, P.STATUS_READ}),
    Role.VAULT_CUSTODIAN: frozenset({P.ITEMS_READ, P.STATUS_READ}),
    Role.AUDITOR: _READ_ONLY | {P.WEBHOOKS_READ, P.DELIVERIES_READ, P.METRICS_READ},
    Role.PLATFORM: frozenset(
        {P.ITEMS_SUBMIT, P.ITEMS_READ, P.HASHES_COMPUTE, P.MATCHES_LOOKUP, P.BANKS_READ, P.STATUS_READ}
    ),
}
"""The one role table. Auditors read without media; platform keys are also scoped to their service."""


def allows(role: Role, permission: Permission) -> bool:
    """Whether `role` holds `permission`."""
    return permission in ROLE_PERMISSIONS[role]
