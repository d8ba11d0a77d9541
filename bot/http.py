"""``POST /slack/events`` on a FastAPI app: Events API, slash commands and interactivity in one route.

Bolt's FastAPI adapter (``SlackRequestHandler.handle``) calls the synchronous ``App.dispatch`` on the
event loop, so one slow request (a listener taking its time to ack) would hold every other request back.
Here the same adapter helpers convert the request and response, and dispatch runs on a small thread pool
of its own: not the event loop, not the pool shared with the server's other synchronous routes, and not
the bot's answer workers, so an ack never queues behind anything slow. Dispatch only verifies the
signature, drops repeats, acks and hands the work on; it takes about a millisecond.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.fastapi import SlackRequestHandler  # noqa: F401 - the adapter whose helpers we use
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

EVENTS_PATH = "/slack/events"
#: Threads that run Bolt's dispatch (signature, dedup, ack). A few suffice: each request takes ~1 ms.
DISPATCH_THREADS = 4


def add_routes(app: FastAPI, bolt: App, path: str = EVENTS_PATH) -> None:
    dispatcher = ThreadPoolExecutor(max_workers=DISPATCH_THREADS, thread_name_prefix="needle-slack-ack")
    app.router.on_shutdown.append(lambda: dispatcher.shutdown(wait=False))

    @app.post(path, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        # slack_sdk's verifier raises (a 500) on a timestamp that is not a number; that is a bad request
        # signature like any other, and gets the same 401.
        if not request.headers.get("x-slack-request-timestamp", "").strip().isdigit():
            return Response(status_code=401, content="invalid request")
        body = await request.body()
        loop = asyncio.get_running_loop()
        bolt_response = await loop.run_in_executor(dispatcher, bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)
