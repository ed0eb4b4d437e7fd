"""`tutela service ...` and `tutela key ...`: tenancy and API keys, for operators at the console."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tutela.app import Tutela
from tutela.auth import Role
from tutela.cli.errors import reports_errors
from tutela.settings import get_settings

service_app = typer.Typer(help="Services: the platforms or apps this deployment serves.")
key_app = typer.Typer(help="API keys (shown once at creation; only a digest is stored).")


def _open() -> Tutela:
    return Tutela.open(get_settings(), load_indexes=False)


@service_app.command("create")
@reports_errors
def create_service(name: str, description: Annotated[str, typer.Option()] = "") -> None:
    """Create a service."""
    service = _open().services.create(name, description)
    print(json.dumps({"id": service.id, "name": service.name}))


@service_app.command("list")
@reports_errors
def list_services() -> None:
    """List services, one JSON line each."""
    for service in _open().services.list():
        print(json.dumps({"id": service.id, "name": service.name, "description": service.description}))


@key_app.command("create")
@reports_errors
def create_key(
    role: Annotated[Role, typer.Option(help="The key's role.")],
    service: Annotated[str | None, typer.Option(help="Service a platform key belongs to.")] = None,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
) -> None:
    """Create an API key and print it once."""
    app = _open()
    service_id = app.services.get(service).id if service else None
    key = app.keys.create(role, service_id=service_id, name=name)
    print(json.dumps({"key": key.token, "prefix": key.prefix, "role": key.role.value, "service": service}))


@key_app.command("revoke")
@reports_errors
def revoke_key(prefix: str) -> None:
    """Revoke a key by its prefix (the part after `tut_`)."""
    _open().keys.revoke(prefix)
    print(json.dumps({"revoked": prefix}))


@key_app.command("list")
@reports_errors
def list_keys() -> None:
    """List keys (prefix, role, service; never secrets)."""
    for key in _open().keys.list():
        row = {"prefix": key.prefix, "role": key.role, "service_id": key.service_id, "name": key.name}
        row["revoked"] = key.revoked_at is not None
        print(json.dumps(row))
