"""Where Bolt runs: on a few threads of the server's process, or in a process of its own.

The server's process acknowledges Slack; answering is CPU-bound Python (embedding, BM25, sentence scoring).
In one interpreter the two share a GIL, and an ack that arrives while answers run waits for it: with two
answers in progress, Slack's retries took up to 850 ms to be acknowledged on the 2-core build machine. In
HTTP mode the bot therefore runs Bolt, its listeners and its answer threads in a child process
(``NEEDLE_SLACK_ANSWER_PROCESS``, on by default), and the server's process only reads the request, checks
its signature and hands the raw request over; an event is acknowledged without waiting for the child.

The child is stateless like the parent: it builds its own core from the same settings, and everything the
bot must remember (handled events, threads, votes, channel settings) is in the record store. If it dies,
the next request starts a new one.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol, TypeVar

from slack_bolt import App, BoltRequest, BoltResponse

from pipelines.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RawRequest:
    """A Slack request as it arrived, in a form that crosses a process boundary."""

    body: str
    query: str
    headers: dict[str, list[str]]

    def to_bolt(self) -> BoltRequest:
        return BoltRequest(body=self.body, query=self.query, headers=self.headers)


class Dispatcher(Protocol):
    """Runs Bolt on a request, off the event loop; the future holds Bolt's response."""

    def submit(self, request: RawRequest) -> Future[BoltResponse]: ...

    def shutdown(self) -> None: ...


#: Threads that run Bolt's dispatch in the process that holds it. A few suffice: each takes ~1 ms.
DISPATCH_THREADS = 4


class ThreadDispatcher:
    """Bolt in this process, on a small pool of its own (not the event loop, not the answer threads)."""

    def __init__(self, bolt: App) -> None:
        self._bolt = bolt
        self._threads = ThreadPoolExecutor(
            max_workers=DISPATCH_THREADS, thread_name_prefix="needle-slack-ack"
        )

    def submit(self, request: RawRequest) -> Future[BoltResponse]:
        return self._threads.submit(self._bolt.dispatch, request.to_bolt())

    def shutdown(self) -> None:
        self._threads.shutdown(wait=False)


#: The child's Bolt app and its dispatch threads, set by :func:`_start_child` in the child process.
_child: ThreadDispatcher | None = None


def _start_child(settings: Settings, console: bool) -> None:
    """In the child: configure logging, the interpreter and torch as a server does, build the core and
    the Bolt app."""
    from bot.app import build_app
    from bot.runtime import BotRuntime, tune_interpreter
    from pipelines.logging_setup import configure_logging
    from pipelines.server import limit_torch_threads
    from pipelines.service import NeedleService

    global _child
    configure_logging(settings, json_lines=settings.log_format == "json")
    tune_interpreter(settings)
    limit_torch_threads(settings)
    service = NeedleService(settings)
    runtime = BotRuntime.create(service, settings)
    runtime.admin_console = (lambda: True) if console else (lambda: False)
    _child = ThreadDispatcher(build_app(service, runtime=runtime))
    logger.info("Slack bot process ready: %d answer threads", settings.slack_workers)


def _dispatch_in_child(request: RawRequest) -> BoltResponse:
    """In the child: Bolt's response to ``request`` (its listeners go on after the ack, in the child)."""
    assert _child is not None, "the child process was not started by _start_child"
    return _child.submit(request).result()


def _ready() -> bool:
    return _child is not None


class ChildProcessDispatcher:
    """Bolt in a child process (see the module docstring); a child that died is replaced on the next
    request, which is logged."""

    def __init__(self, settings: Settings, console: Callable[[], bool]) -> None:
        self._settings = settings
        self._console = console
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the parent runs threads (uvicorn, Gradio) that a fork would copy mid-flight.
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child,
            initargs=(self._settings, self._console()),
        )

    def start(self, timeout: float = 300.0) -> None:
        """Start the child and wait until its core and Bolt app are built, so a server that accepts
        requests can answer them. :raises RuntimeError: the child could not start (the cause is logged)."""
        with self._lock:
            self._pool = self._start()
            try:
                self._pool.submit(_ready).result(timeout=timeout)
            except BrokenProcessPool as error:
                raise RuntimeError("the Slack bot's process failed to start; see the log above") from error

    def submit(self, request: RawRequest) -> Future[BoltResponse]:
        return self._submit(_dispatch_in_child, request)

    def child_pid(self) -> int:
        """The child's process id, asked of the child itself (one is started if there is none)."""
        return self._submit(os.getpid).result(timeout=300)

    def _submit(self, call: Callable[..., T], *args: object, retry: bool = True) -> Future[T]:
        """Run ``call`` in the child. A child found dead (before the call, or while it ran) is replaced
        and the call sent once more: a request the dead child had begun is then seen twice, which the
        bot's de-duplication in the record store absorbs."""
        result: Future[T] = Future()
        pool = self._pool_now()
        try:
            attempt = pool.submit(call, *args)
        except BrokenProcessPool as error:
            attempt = Future()
            attempt.set_exception(error)

        def settle(done: Future[T]) -> None:
            error = done.exception()
            if isinstance(error, BrokenProcessPool) and retry:
                logger.error("the Slack bot's process died; starting a new one")
                self._replace(pool)
                again = self._submit(call, *args, retry=False)
                again.add_done_callback(lambda final: _copy(final, result))
            else:
                _copy(done, result)

        attempt.add_done_callback(settle)
        return result

    def _pool_now(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = self._start()
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = self._start()
        broken.shutdown(wait=False)

    def shutdown(self) -> None:
        """Stop taking requests; the child finishes the answers it started before it exits."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _copy(source: Future[T], target: Future[T]) -> None:
    if source.cancelled():
        target.cancel()
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
