"""Benchmark the Slack bot's HTTP endpoint: 50 concurrent signed mentions, each followed by Slack's retries.

Not a test: it prints and saves figures (``results/slack_bench.json``). The bot runs in its own process,
exactly as deployed (``python -m bot``, HTTP mode, the real core on the embedded store with the whole
sample handbook indexed first by ``needle ingest --samples``). By default it answers with an LLM: the
local text-generation-inference stand-in of ``tests/support/fake_tgi.py`` streaming a fixed reply word by
word (``--token-ms`` apart), so there is text to stream; ``--llm none`` gives extractive answers. This
process plays Slack: it runs the recording Web API server from ``tests/bot/slack_api.py`` (the bot's
``NEEDLE_SLACK_API_URL``), as a workspace with the AI-app methods (streaming, status) or, with
``--workspace legacy``, one that refuses them (the ``chat.update`` fallback), and sends the signed
requests, so the load generator and the fake Slack do not share the bot's interpreter (its GIL), though
they do share the machine's cores.

Figures: ack p50/p99 of all deliveries (originals and retries); time from a mention to the first text of
its answer in Slack (a stream's start, or the first edit with text) and to the finished answer (the call
that put its sources and feedback in place); and the time to refuse a 20 MB body without a signature.

    .venv/bin/python scripts/bench_slack.py [--mentions 50] [--retries 2] [--workers N]
        [--llm fake|none] [--token-ms 20] [--workspace ai|legacy]
        [--switch-interval SECONDS] [--niceness N] [--out results/slack_bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import messages  # noqa: E402
from pipelines.base.settings import Settings  # noqa: E402
from pipelines.lab.evaluation import write_report  # noqa: E402
from tests.bot.replies import trace_of  # noqa: E402
from tests.bot.slack_api import APP_TOKEN, BOT_TOKEN, SlackState, slack_api_server  # noqa: E402
from tests.bot.slack_requests import SIGNING_SECRET, event_envelope, mention, signed_headers  # noqa: E402
from tests.support import fake_tgi  # noqa: E402

#: What the stand-in LLM answers every question with (cites the first passage, as a real answer would).
REPLY = (
    "Full-time employees get **25 vacation days** per calendar year [1]. After five full years of "
    "service they receive one extra day per year, up to three extra days [1]. Up to 5 unused days "
    "can be carried over into the next calendar year [1]."
)

EVENTS_PATH = "/slack/events"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bot_env(
    slack: SlackState, data_dir: str, port: int, args: argparse.Namespace, llm_url: str | None = None
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEEDLE_")}
    env |= {
        "NEEDLE_DATA_DIR": data_dir,
        "NEEDLE_HOST": "127.0.0.1",
        "NEEDLE_PORT": str(port),
        "NEEDLE_LOG_LEVEL": "WARNING",
        "NEEDLE_LOG_FORMAT": "text",  # the error count below reads " ERROR " lines
        "NEEDLE_SLACK_MODE": "http",
        "NEEDLE_SLACK_BOT_TOKEN": BOT_TOKEN,
        "NEEDLE_SLACK_APP_TOKEN": APP_TOKEN,
        "NEEDLE_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "NEEDLE_SLACK_API_URL": f"{slack.url}/api/",
    }
    if llm_url:
        env |= {"NEEDLE_LLM_API": "tgi", "NEEDLE_LLM_URL": llm_url, "NEEDLE_LLM_TIMEOUT_SECONDS": "30"}
    if args.workers:
        env["NEEDLE_SLACK_WORKERS"] = str(args.workers)
    if args.switch_interval is not None:
        env[SWITCH_INTERVAL_ENV] = str(args.switch_interval)
    if args.niceness is not None:
        env[ANSWER_NICENESS_ENV] = str(args.niceness)
    return env


def start_bot(env: dict[str, str], cwd: str, port: int, log: Path) -> subprocess.Popen:
    """``python -m bot`` in its own process; returns once ``/healthz`` answers."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the bot did not answer /healthz within 180 s")


def post_event(url: str, body: str) -> httpx.Response:
    headers = {"Content-Type": "application/json", **signed_headers(body)}
    return httpx.post(url, content=body.encode(), headers=headers, timeout=30)


def send_all(url: str, bodies: list[tuple[int, str, int | None]], retry_delay: float) -> list[dict]:
    """Send every original at once, then each retry ``retry_delay`` s after its original (as Slack does).

    The requests go from a process of their own, over plain asyncio sockets: an HTTP client library in
    this process would share an interpreter with the recording Slack server the bot is calling, and
    httpx alone adds about 100 ms to the slowest of fifty concurrent requests to a server that does
    nothing (measured here), which would be counted as the bot's ack time.
    """
    requests = []
    for index, body, retry in bodies:
        headers = {"Content-Type": "application/json", **signed_headers(body)}
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        requests.append((index, retry or 0, body.encode(), headers))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as sender:
        return sender.submit(send_burst, url, requests, retry_delay).result()


def send_burst(
    url: str, requests: list[tuple[int, int, bytes, dict[str, str]]], retry_delay: float
) -> list[dict]:
    """In the sender process: post each request on its own connection; ``ack_ms`` runs from opening the
    connection to the response's status line (``sent`` is on the machine-wide monotonic clock)."""
    parsed = urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80

    async def post(index: int, retry: int, body: bytes, headers: dict[str, str]) -> dict:
        if retry:
            await asyncio.sleep(retry_delay * retry)
        head = f"POST {parsed.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(body)}\r\n"
        head += (
            "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "Connection: close\r\n\r\n"
        )
        started = time.monotonic()
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(head.encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        ack_ms = (time.monotonic() - started) * 1000
        writer.close()
        return {
            "index": index,
            "retry": retry,
            "sent": started,
            "ack_ms": ack_ms,
            "status": int(status_line.split()[1]),
        }

    async def burst() -> list[dict]:
        return list(await asyncio.gather(*(post(*request) for request in requests)))

    return asyncio.run(burst())


def finals(slack: SlackState, channels: set[str] | dict[str, int]) -> list:
    """The calls that finished an answer in ``channels``: they put its feedback in place (a stream's stop,
    a whole post, or the last edit of the fallback path)."""
    return [
        call
        for call in slack.calls
        if call.method in ("chat.stopStream", "chat.update", "chat.postMessage")
        and call.args.get("channel") in channels
        and call.response.get("ok")
        and trace_of(call.args.get("blocks") or [])
    ]


def first_texts(slack: SlackState, channels: dict[str, int]) -> dict[str, float]:
    """When the first words of each channel's answer reached Slack (a stream's start, the fallback's
    first edit with text, or a whole post)."""
    first: dict[str, float] = {}
    for call in slack.calls:
        channel = call.args.get("channel")
        if channel not in channels or channel in first or not call.response.get("ok"):
            continue
        text = call.args.get("markdown_text") or call.args.get("text") or ""
        writes = ("chat.startStream", "chat.update", "chat.postMessage")
        if call.method in writes and text.strip() and text != messages.PLACEHOLDER:
            first[channel] = call.at
    return first


def refuse_big_body(url: str, megabytes: int = 20, tries: int = 5) -> dict[str, object]:
    """Post ``megabytes`` of JSON without a signature; how long until the 413 (ms, each try)."""
    body = b"{" + b" " * (megabytes * 1024 * 1024 - 2) + b"}"
    times, statuses = [], []
    with httpx.Client(timeout=30) as client:
        for _ in range(tries):
            started = time.monotonic()
            try:
                status = client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                ).status_code
            except httpx.HTTPError as error:  # the server closed the connection while the body was sent
                status = type(error).__name__
            times.append((time.monotonic() - started) * 1000)
            statuses.append(status)
    return {
        "megabytes": megabytes,
        "ms": [round(t, 1) for t in times],
        "max_ms": round(max(times), 1),
        "status": statuses,
    }


SWITCH_INTERVAL_ENV = "NEEDLE_SLACK_SWITCH_INTERVAL"
ANSWER_NICENESS_ENV = "NEEDLE_SLACK_ANSWER_NICENESS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=50)
    parser.add_argument("--retries", type=int, default=2, help="retries sent per mention")
    parser.add_argument("--retry-delay", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=None, help="NEEDLE_SLACK_WORKERS (default: settings)")
    parser.add_argument(
        "--switch-interval", type=float, default=None, help=f"{SWITCH_INTERVAL_ENV} (0: leave Python's)"
    )
    parser.add_argument(
        "--niceness", type=int, default=None, help=f"{ANSWER_NICENESS_ENV} (0: answer threads not niced)"
    )
    parser.add_argument("--llm", choices=["fake", "none"], default="fake")
    parser.add_argument("--token-ms", type=float, default=20.0, help="the stand-in LLM's pause per word")
    parser.add_argument("--workspace", choices=["ai", "legacy"], default="ai")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "slack_bench.json")
    args = parser.parse_args()
    questions = [q["question"] for q in json.loads((ROOT / "tests/data/handbook_questions.json").read_text())]

    with (
        slack_api_server(ai_apps=args.workspace == "ai") as slack,
        fake_tgi.fake_tgi_server() as (llm_url, llm_state),
        tempfile.TemporaryDirectory() as data_dir,
    ):
        llm_state.reply = lambda _messages: REPLY
        llm_state.token_delay_seconds = args.token_ms / 1000
        port = free_port()
        env = bot_env(slack, data_dir, port, args, llm_url if args.llm == "fake" else None)
        started = time.monotonic()
        ingest = [str(Path(sys.executable).with_name("needle")), "ingest", "--samples", "--json"]
        done = subprocess.run(ingest, env=env, cwd=data_dir, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"needle ingest failed:\n{done.stderr[-3000:]}")
        print(f"indexed the sample handbook in {time.monotonic() - started:.1f} s (needle ingest --samples)")
        log = Path(data_dir) / "bot.log"
        bot = start_bot(env, data_dir, port, log)
        url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
        try:
            # Warm-up: one answered mention loads the embedder and Bolt's auth.test, as in a running bot.
            ts = slack.add_user_message("CWARMUP", "UWARMUP", "<@UBOT> warm-up")
            post_event(url, json.dumps(event_envelope(mention("CWARMUP", "UWARMUP", questions[0], ts))))
            slack.wait_for(lambda s: finals(s, {"CWARMUP"}), timeout=120)

            bodies: list[tuple[int, str, int | None]] = []
            channel_of: dict[str, int] = {}
            for index in range(args.mentions):
                channel, user = f"CBENCH{index:03d}", f"UBENCH{index:03d}"
                question = questions[index % len(questions)]
                ts = slack.add_user_message(channel, user, f"<@UBOT> {question}")
                body = json.dumps(event_envelope(mention(channel, user, question, ts), f"EvBench{index:04d}"))
                channel_of[channel] = index
                bodies.extend((index, body, retry or None) for retry in range(args.retries + 1))

            # The machine is shared: the load around the burst says how much to trust the figures.
            load_before = os.getloadavg()[0]
            results = send_all(url, bodies, args.retry_delay)
            load_after = os.getloadavg()[0]
            sent = {r["index"]: r["sent"] for r in results if r["retry"] == 0}
            deadline = time.monotonic() + 600
            while len(finals(slack, channel_of)) < args.mentions and time.monotonic() < deadline:
                time.sleep(0.1)
            slack.settle(quiet=2.0, timeout=30)  # anything doubled would arrive now
            big_body = refuse_big_body(url)
        finally:
            bot.terminate()
            try:
                bot.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.kill()
        errors = [line for line in log.read_text().splitlines() if " ERROR " in line]

    placeholders = [
        c
        for c in slack.of("chat.postMessage")
        if c.args.get("channel") in channel_of and c.args.get("text") == messages.PLACEHOLDER
    ]
    statuses = [c for c in slack.of("assistant.threads.setStatus") if c.args.get("channel_id") in channel_of]
    final_updates = finals(slack, channel_of)
    to_placeholder = [(c.at - sent[channel_of[c.args["channel"]]]) * 1000 for c in placeholders]
    to_status = [
        (c.at - sent[channel_of[c.args["channel_id"]]]) * 1000 for c in statuses if c.response.get("ok")
    ]
    to_first_text = [(at - sent[channel_of[ch]]) * 1000 for ch, at in first_texts(slack, channel_of).items()]
    to_final = [(c.at - sent[channel_of[c.args["channel"]]]) * 1000 for c in final_updates]
    per_channel = [sum(1 for c in final_updates if c.args["channel"] == ch) for ch in channel_of]
    acks = [r["ack_ms"] for r in results]
    originals = [r["ack_ms"] for r in results if not r["retry"]]

    def spread(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {
            "p50": round(statistics.median(values), 1),
            "p99": round(percentile(values, 99), 1),
            "max": round(max(values), 1),
        }

    defaults = Settings.model_fields
    report = {
        "config": {
            "process_layout": "bot in its own process (python -m bot, uvicorn, HTTP mode); load generator "
            "in a process of its own (asyncio sockets, one connection per request); recording Slack Web "
            "API in the benchmark process; same machine",
            "slack_workers": int(env.get("NEEDLE_SLACK_WORKERS") or _default_workers()),
            "switch_interval_s": float(
                env.get(SWITCH_INTERVAL_ENV, defaults["slack_switch_interval"].default)
            )
            or 0.005,
            "answer_thread_niceness": int(
                env.get(ANSWER_NICENESS_ENV, defaults["slack_answer_niceness"].default)
            ),
            "cpu_count": os.cpu_count(),
            "core": "embedded store, sample handbook, bundled MiniLM embedder, "
            + (
                f"LLM answers (local TGI stand-in, one word per {args.token_ms:g} ms)"
                if args.llm == "fake"
                else "extractive answers (no LLM)"
            ),
            "workspace": "AI-app methods offered (status, streaming)"
            if args.workspace == "ai"
            else "AI-app methods refused (placeholder and chat.update)",
            "python": sys.version.split()[0],
            "load_average_1min": {"before_burst": round(load_before, 2), "after_burst": round(load_after, 2)},
        },
        "mentions": args.mentions,
        "retries_per_mention": args.retries,
        "retry_delay_s": args.retry_delay,
        "requests": len(results),
        "non_200": sum(1 for r in results if r["status"] != 200),
        "ack_ms": spread(acks),
        "ack_ms_originals": spread(originals),
        "ack_ms_retries": spread([r["ack_ms"] for r in results if r["retry"]]),
        "acks_over_3s": sum(1 for a in acks if a > 3000),
        "placeholders_posted": len(placeholders),
        "answers_posted": len(final_updates),
        "channels_answered_exactly_once": sum(1 for n in per_channel if n == 1),
        "channels_answered_twice_or_more": sum(1 for n in per_channel if n > 1),
        "time_to_placeholder_ms": spread(to_placeholder),
        "time_to_status_ms": spread(to_status),
        "time_to_first_streamed_text_ms": spread(to_first_text),
        "time_to_final_answer_ms": spread(to_final),
        "unsigned_20mb_body_refused": big_body,
        "bot_errors_logged": len(errors),
    }
    write_report(args.out, report)
    print(json.dumps(report, indent=2))
    exact = report["answers_posted"] == args.mentions and not report["channels_answered_twice_or_more"]
    return 0 if exact else 1


def _default_workers() -> int:
    from pipelines.base.settings import Settings

    return Settings.model_fields["slack_workers"].get_default(call_default_factory=True)


if __name__ == "__main__":
    raise SystemExit(main())
