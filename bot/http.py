"""``POST /slack/events`` on a FastAPI app: Events API, slash commands and interactivity in one route.

Bolt's FastAPI adapter (``SlackRequestHandler.handle``) calls the synchronous ``App.dispatch`` on the
event loop, so one slow request (a listener taking its time to ack) would hold every other request back.
Here the same adapter helpers convert the request and response, and dispatch runs on a thread.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.fastapi import SlackRequestHandler  # noqa: F401 - the adapter whose helpers we use
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

EVENTS_PATH = "/slack/events"


def add_routes(app: FastAPI, bolt: App, path: str = EVENTS_PATH) -> None:
    @app.post(path, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        bolt_response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)
