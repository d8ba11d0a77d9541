"""The admin console as a face of ``needle serve``: mounted at ``/admin`` on the shared FastAPI app."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import gradio as gr
import uvicorn
from fastapi import FastAPI
from gradio.routes import App
from starlette.routing import Mount

from admin.app import build_admin
from admin.security import AUTH_MESSAGE, admin_auth, check_exposure, max_file_size
from admin.sessions import share_sessions
from admin.sign_in import SESSION_ENDED_HEAD, protect
from admin.tabs.tables import TABLE_CSS
from admin.upload_guard import upload_guard_head
from pipelines.app.links import ADMIN_PATH
from pipelines.base.settings import Settings
from pipelines.service.facade import NeedleService


def mount(app: FastAPI, service: NeedleService) -> None:
    """Add the console to ``app`` (the ``needle.faces`` entry point); see :func:`mount_console`."""
    mount_console(app, service)


def mount_console(app: FastAPI, service: NeedleService, settings: Settings | None = None) -> gr.Blocks:
    """Add the console to ``app`` at ``/admin``; refuses (before mounting anything) to expose it without
    a password. Returns the console's Blocks. ``settings`` replaces the service's own where the
    console is served differently (:func:`launch` on another host).

    :raises admin.security.AdminConfigError: no NEEDLE_ADMIN_PASSWORD and a non-loopback host or URL.
    """
    settings = settings or service.settings
    check_exposure(settings, has_accounts=bool(service.accounts.list()))
    blocks = build_admin(service)
    gr.mount_gradio_app(
        app,
        blocks,
        path=ADMIN_PATH,
        server_name=settings.host,
        server_port=settings.port,
        footer_links=[],
        auth=admin_auth(service.accounts),
        auth_message=AUTH_MESSAGE,
        max_file_size=max_file_size(settings),
        css=TABLE_CSS,
        head=SESSION_ENDED_HEAD + upload_guard_head(settings),
        ssr_mode=False,
        show_error=False,
    )
    (console,) = [
        route.app
        for route in app.routes
        if isinstance(route, Mount) and isinstance(route.app, App) and route.app.get_blocks() is blocks
    ]
    # Sessions live in the record store (every replica, across restarts) and end after
    # NEEDLE_ADMIN_SESSION_HOURS; installed before the server takes any sign-in.
    share_sessions(console, service.records, settings)
    # Needle's sign-in and sign-out in place of Gradio's, and no cross-site access to any of it.
    protect(console, settings)
    return blocks


@dataclass
class LaunchedConsole:
    """A console served on its own by :func:`launch`: its Blocks, its address, and how to stop it."""

    blocks: gr.Blocks
    local_url: str
    server: uvicorn.Server
    thread: threading.Thread | None

    def close(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=15)


def launch(
    service: NeedleService, *, host: str | None = None, port: int | None = None, block: bool = False
) -> LaunchedConsole:
    """Serve the console on its own, exactly as ``needle serve --faces admin`` mounts it (same sign-in,
    same-origin guard, upload limit and forwarded-header rule), at ``/admin/`` on ``host``:``port``.

    :param port: ``None`` picks a free one (see ``local_url``).
    :param block: wait until the server stops (for a terminal); tests keep the default and close it.
    :raises admin.security.AdminConfigError: no password is set and ``host`` is not loopback.
    """
    from pipelines.app.server import create_app, uvicorn_config

    settings = service.settings
    if host is not None and host != settings.host:
        settings = settings.model_copy(update={"host": host})
    app = create_app(service)
    blocks = mount_console(app, service, settings)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, port or 0))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, log_level="warning", timeout_graceful_shutdown=1))
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    local_url = f"http://{shown if ':' not in shown else f'[{shown}]'}:{bound}{ADMIN_PATH}/"
    if block:
        server.run(sockets=[sock])
        return LaunchedConsole(blocks, local_url, server, None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console's server did not start")
        time.sleep(0.05)
    return LaunchedConsole(blocks, local_url, server, thread)
