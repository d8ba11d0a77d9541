"""The HTTP server behind ``needle serve``: one process, one core service, every face mounted on it.

The core must not import its faces, so faces plug in through the ``needle.faces`` entry-point group: each
names a ``mount(app, service)`` function that adds its routes (the Slack bot's ``/slack/events``, the
admin console) to the shared FastAPI app, or starts its own background connection (Socket Mode).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pipelines.base.settings import Settings
from pipelines.service.facade import NeedleService

logger = logging.getLogger(__name__)

FACES_GROUP = "needle.faces"


class Face(Protocol):
    def __call__(self, app: FastAPI, service: NeedleService) -> None: ...


#: A face's own readiness: ``{"ok": bool, ...}`` with, when not ok, why in words (never a secret).
ReadinessCheck = Callable[[], dict[str, Any]]


def add_readiness_check(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    """Make ``check`` part of ``/readyz`` under ``name`` (a face that can be up or not, such as the bot)."""
    app.state.readiness_checks[name] = check


def create_app(service: NeedleService) -> FastAPI:
    """The shared app with the core's own endpoints: ``/healthz`` (process up), ``/readyz`` (store
    reachable, model loaded, LLM configured or deliberately off, and each face's own check, such as the
    Slack bot being connected) and ``/metrics`` (Prometheus)."""
    app = FastAPI(title="Needle", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    # Who the client is (the console's sign-in throttle counts per address) and whether it came over
    # HTTPS (the session cookie is Secure then): from X-Forwarded-For/-Proto only when the connection
    # comes from a proxy named in NEEDLE_TRUSTED_PROXIES, and nobody's by default. The server runs
    # with uvicorn's own handling off (:func:`uvicorn_config`), whose default trusts 127.0.0.1.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(service.settings.trusted_proxies))
    app.state.readiness_checks = {}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        checks = service.readiness()
        for name, check in dict(app.state.readiness_checks).items():
            checks[name] = check()
        ready = all(check["ok"] for check in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


def mount_faces(app: FastAPI, service: NeedleService, names: set[str] | None = None) -> list[str]:
    """Mount every installed face (or only ``names``); returns the names mounted."""
    mounted = []
    for entry in sorted(entry_points(group=FACES_GROUP), key=lambda e: e.name):
        if names is not None and entry.name not in names:
            continue
        mount: Face = entry.load()
        mount(app, service)
        mounted.append(entry.name)
        logger.info("mounted face %s", entry.name)
    return mounted


def build_server(service: NeedleService, names: set[str] | None = None) -> tuple[FastAPI, list[str]]:
    app = create_app(service)
    return app, mount_faces(app, service, names)


def limit_torch_threads(settings: Settings) -> None:
    """One torch thread per question in a server process, unless ``NEEDLE_TORCH_THREADS`` says otherwise.

    A server answers several questions at once, each on its own thread; torch's own intra-op threads on
    top of that oversubscribe the cores (two torch threads per question measured several times slower
    than one under contention).
    """
    import torch

    if settings.torch_threads is None:
        torch.set_num_threads(1)


def uvicorn_config(app: Any, **options: Any) -> Any:
    """How every Needle server runs ``app`` under uvicorn (``needle serve``, the console's
    :func:`admin.face.launch`, the tests' servers): with uvicorn's forwarded-header handling off.

    uvicorn would otherwise believe ``X-Forwarded-For`` from ``FORWARDED_ALLOW_IPS`` (default
    127.0.0.1), so anyone on the machine, or a proxy that passes the client's header on, could claim any
    address and dodge the sign-in throttle. :func:`create_app` judges those headers itself, from
    NEEDLE_TRUSTED_PROXIES.
    """
    import uvicorn

    return uvicorn.Config(app, proxy_headers=False, **options)


def run(service: NeedleService, app: Any) -> None:
    """Serve ``app`` until stopped (torch limited as :func:`limit_torch_threads` says)."""
    import uvicorn

    settings = service.settings
    limit_torch_threads(settings)
    # Background ingest jobs run beside the server; `needle worker` adds more, on any replica.
    workers = [service.ingest_worker() for _ in range(settings.ingest_workers)]
    for worker in workers:
        worker.start_thread()
    # log_config=None: uvicorn's own loggers go through Needle's handler (JSON, redacted) like the rest.
    config = uvicorn_config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(), log_config=None
    )
    uvicorn.Server(config).run()
