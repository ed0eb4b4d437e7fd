"""Build the FastAPI application around one `Tutela` object.

The tests and `tutela serve` call `create_app`; `tutela serve --workers N` names `create_app_from_env`, which
each server process calls to build its own Tutela object (its own index, following the bank change log).
The app owns no state of its own beyond the Tutela object,
its metrics and the routers, so in-process tests drive exactly what production runs.
"""

from __future__ import annotations

import gc
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from tutela import __version__
from tutela.api import errors
from tutela.api.body_limit import BodyLimit
from tutela.api.hot_items import HotItems
from tutela.api.hot_lookup import HotLookup
from tutela.api.hot_upload import HotUpload
from tutela.api.lookup_batch import LookupBatcher
from tutela.api.request_metrics import RequestMetrics
from tutela.api.routes import banks, hma_curation, hma_matching, items, ops, services
from tutela.api.routes.items import SUBMIT_THREADS
from tutela.app import Tutela
from tutela.ops.gil import apply_switch_interval
from tutela.ops.thread_lane import ThreadLane
from tutela.settings import get_settings

ROUTERS: tuple[APIRouter, ...] = (
    ops.router,
    items.router,
    banks.router,
    services.router,
    hma_matching.router,
    hma_curation.router,
)
"""Every router the app serves, in order; tests walk these (FastAPI nests included routers)."""


def api_routes() -> list[APIRoute]:
    """Every API route with its full path, for the permission and documentation tests."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


def create_app(
    tutela: Tutela, *, background: bool = True, hot_lookups: bool = True, hot_items: bool = True
) -> FastAPI:
    """The HTTP API; with `background`, workers and deliverers run in this process while it serves.

    `hot_lookups` puts the pure-ASGI fast paths for lookups by hash and by upload (`tutela.api.hot_lookup`,
    `tutela.api.hot_upload`) in front of the routes, inside the request metrics; off, the FastAPI routes
    answer those too (the tests compare both).
    `hot_items` does the same for plain multipart uploads to `POST /v1/items` (`tutela.api.hot_items`).
    Inside them, every body is capped at `max_json_body_bytes` (`tutela.api.body_limit`) except multipart
    uploads to the routes marked `own_upload_limit`, which bound their own.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background:
            tutela.start_background()
        # Everything built so far (the app, the index, loaded modules) lives as long as the process: moved
        # out of the collector's reach, a full collection no longer walks it and stalls requests.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            app.state.lookups.close()
            app.state.submissions.close()
            if background:
                tutela.stop_background()

    app = FastAPI(
        title="Tutela",
        version=__version__,
        description="Trust-and-safety engine: hash banks, matching, verdicts and signed webhooks.",
        lifespan=lifespan,
    )
    app.state.tutela = tutela
    app.state.lookups = LookupBatcher(tutela.matcher)
    app.state.submissions = ThreadLane(SUBMIT_THREADS, "tutela-submit")
    app.state.open_networks = [
        ipaddress.ip_network(network, strict=False) for network in tutela.settings.hma_open_networks
    ]
    errors.install(app)
    # Added first, so it is the innermost middleware: the fast paths' own answers (multipart uploads and
    # lookups by hash) never pass through it; what they hand on to the routes does.
    app.add_middleware(BodyLimit, limit=tutela.settings.max_json_body_bytes)
    if hot_lookups:  # added first, so it runs inside RequestMetrics (middleware added later wraps it)
        app.add_middleware(HotLookup, state=app.state, routes=api_routes())
        app.add_middleware(HotUpload, state=app.state, routes=api_routes())
    if hot_items:
        handlers = app.exception_handlers
        app.add_middleware(HotItems, state=app.state, routes=api_routes(), handlers=handlers)
    app.add_middleware(RequestMetrics, metrics=tutela.metrics)
    for router in ROUTERS:
        app.include_router(router)
    return app


def create_app_from_env() -> FastAPI:
    """The app of one server process, from the settings in the environment: uvicorn's factory for
    `tutela serve --workers N` (`uvicorn --factory tutela.api.app:create_app_from_env` works too)."""
    settings = get_settings()
    apply_switch_interval(settings)
    return create_app(Tutela.open(settings))
