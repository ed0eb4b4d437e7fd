"""/v1/services: services, their bank switches and webhook endpoints; /v1/deliveries: the dead letter."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from tutela.api.auth import check_service, require
from tutela.api.deps import get_tutela
from tutela.app import Tutela
from tutela.auth import Permission, Principal
from tutela.effects.models import WebhookDelivery, WebhookEndpoint
from tutela.effects.stats import dead_deliveries, retry_dead
from tutela.net.guard import check_target

router = APIRouter(tags=["services"])
App = Annotated[Tutela, Depends(get_tutela)]


class ServiceIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["my-platform"])
    description: str = ""


class ServiceOut(BaseModel):
    id: int
    name: str
    description: str


class BankSwitch(BaseModel):
    enabled: bool


class WebhookIn(BaseModel):
    url: str = Field(min_length=1, max_length=2048, examples=["https://platform.example/tutela-hook"])
    secret: str | None = Field(
        None, min_length=16, max_length=256, description="HMAC key; generated (and shown once) if omitted."
    )
    description: str = ""


class WebhookOut(BaseModel):
    id: int
    url: str
    enabled: bool
    description: str
    created_at: datetime
    secret: str | None = Field(None, description="Only in the answer to the request that created it.")


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    item_id: int | None
    item_seq: int | None
    state: str
    attempts: int
    last_error: str | None
    last_status: int | None


@router.get("/v1/services", response_model=list[ServiceOut])
def list_services(
    app: App, _: Annotated[Principal, Depends(require(Permission.SERVICES_READ))]
) -> list[ServiceOut]:
    return [ServiceOut(id=s.id, name=s.name, description=s.description) for s in app.services.list()]


@router.post("/v1/services", response_model=ServiceOut, status_code=201)
def create_service(
    body: ServiceIn, app: App, _: Annotated[Principal, Depends(require(Permission.SERVICES_WRITE))]
) -> ServiceOut:
    service = app.services.create(body.name, body.description)
    return ServiceOut(id=service.id, name=service.name, description=service.description)


@router.put("/v1/services/{service}/banks/{bank}", response_model=BankSwitch)
def switch_bank(
    service: str,
    bank: str,
    body: BankSwitch,
    app: App,
    _: Annotated[Principal, Depends(require(Permission.SERVICES_WRITE))],
) -> BankSwitch:
    """Enable or disable one bank for one service (banks belong to the organisation)."""
    app.services.set_bank_enabled(app.services.get(service).id, bank, body.enabled)
    return body


def _visible_service(app: Tutela, principal: Principal, name: str) -> int:
    """The id of service `name`, as long as the caller may see it (platform keys: their own only)."""
    service_id = app.services.get(name).id
    check_service(principal, service_id)
    return service_id


def _webhook_out(endpoint: WebhookEndpoint, secret: str | None = None) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        enabled=endpoint.enabled,
        description=endpoint.description,
        created_at=endpoint.created_at,
        secret=secret,
    )


@router.get("/v1/services/{service}/webhooks", response_model=list[WebhookOut])
def list_webhooks(
    service: str, app: App, principal: Annotated[Principal, Depends(require(Permission.WEBHOOKS_READ))]
) -> list[WebhookOut]:
    service_id = _visible_service(app, principal, service)
    with app.database.read() as session:
        rows = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.service_id == service_id))
        return [_webhook_out(row) for row in rows]


@router.post("/v1/services/{service}/webhooks", response_model=WebhookOut, status_code=201)
def add_webhook(
    service: str,
    body: WebhookIn,
    app: App,
    principal: Annotated[Principal, Depends(require(Permission.WEBHOOKS_WRITE))],
) -> WebhookOut:
    """Register an endpoint; private, loopback and link-local targets are refused unless allowed."""
    service_id = _visible_service(app, principal, service)
    check_target(body.url, app.settings.allow_private_network_targets)
    secret = body.secret or secrets.token_urlsafe(32)
    with app.database.write() as session:
        endpoint = WebhookEndpoint(
            service_id=service_id, url=body.url, secret=secret, description=body.description, enabled=True
        )
        session.add(endpoint)
        session.flush()
        return _webhook_out(endpoint, secret if body.secret is None else None)


@router.delete("/v1/services/{service}/webhooks/{webhook_id}", status_code=204)
def delete_webhook(
    service: str,
    webhook_id: int,
    app: App,
    principal: Annotated[Principal, Depends(require(Permission.WEBHOOKS_WRITE))],
) -> None:
    """Disable an endpoint (kept, so its delivery history stays readable)."""
    service_id = _visible_service(app, principal, service)
    with app.database.write() as session:
        endpoint = session.get(WebhookEndpoint, webhook_id)
        if endpoint is None or endpoint.service_id != service_id:
            raise HTTPException(404, f"service {service!r} has no webhook {webhook_id}")
        endpoint.enabled = False


def _delivery_out(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        endpoint_id=row.endpoint_id,
        item_id=row.item_id,
        item_seq=row.item_seq,
        state=row.state,
        attempts=row.attempts,
        last_error=row.last_error,
        last_status=row.last_status,
    )


@router.get("/v1/deliveries/dead", response_model=list[DeliveryOut])
def list_dead(
    app: App,
    _: Annotated[Principal, Depends(require(Permission.DELIVERIES_READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """Webhook deliveries that exhausted their retries (oldest first)."""
    return [_delivery_out(row) for row in dead_deliveries(app.database, limit=limit)]


@router.post("/v1/deliveries/{delivery_id}/retry", status_code=202)
def retry_delivery(
    delivery_id: int, app: App, _: Annotated[Principal, Depends(require(Permission.DELIVERIES_RETRY))]
) -> dict[str, int]:
    """Requeue a dead delivery with a fresh attempt budget."""
    if not retry_dead(app.database, delivery_id):
        raise HTTPException(404, f"no dead delivery {delivery_id}")
    return {"requeued": delivery_id}
