"""The admin console as a face of ``needle serve``: mounted at ``/admin`` on the shared FastAPI app."""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI
from gradio.routes import App
from starlette.routing import Mount

from admin.app import build_admin
from admin.security import AUTH_MESSAGE, admin_auth, check_exposure, max_file_size
from admin.sessions import share_sessions
from admin.sign_in import SESSION_ENDED_HEAD, protect
from admin.tabs.tables import TABLE_CSS
from admin.upload_guard import upload_guard_head
from pipelines.links import ADMIN_PATH
from pipelines.service import NeedleService
from pipelines.settings import Settings


def mount(app: FastAPI, service: NeedleService) -> None:
    """Add the console to ``app`` (the ``needle.faces`` entry point); see :func:`mount_console`."""
    mount_console(app, service)


def mount_console(app: FastAPI, service: NeedleService, settings: Settings | None = None) -> gr.Blocks:
    """Add the console to ``app`` at ``/admin``; refuses (before mounting anything) to expose it without
    a password. Returns the console's Blocks. ``settings`` replaces the service's own where the
    console is served differently (:func:`admin.app.launch` on another host).

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
