"""Benchmark the Slack bot's HTTP endpoint: 50 concurrent signed mentions, each followed by Slack's retries.

Not a test: it prints and saves figures (``results/slack_bench.json``). The bot is the real Bolt app behind
uvicorn over the real core (embedded store, whole sample handbook, bundled embedder, extractive answers);
Slack's Web API is the local recording server from ``tests/bot/slack_api.py``.

    .venv/bin/python scripts/bench_slack.py [--mentions 50] [--retries 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.http import EVENTS_PATH, add_routes  # noqa: E402
from bot.runtime import BotRuntime  # noqa: E402
from pipelines.samples import handbook_dir  # noqa: E402
from pipelines.service import NeedleService  # noqa: E402
from pipelines.settings import load_settings  # noqa: E402
from tests.bot.slack_api import APP_TOKEN, BOT_TOKEN, slack_api_server  # noqa: E402
from tests.bot.slack_requests import SIGNING_SECRET, event_envelope, mention, signed_headers  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def serve(app: FastAPI) -> tuple[uvicorn.Server, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


async def send_all(url: str, bodies: list[tuple[int, str, int | None]], retry_delay: float) -> list[dict]:
    """Send every original at once, then each retry ``retry_delay`` s after its original (as Slack does)."""
    results: list[dict] = []
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:

        async def post(index: int, body: str, retry: int | None) -> None:
            if retry:
                await asyncio.sleep(retry_delay * retry)
            headers = {"Content-Type": "application/json", **signed_headers(body)}
            if retry:
                headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            started = time.monotonic()
            response = await client.post(url, content=body.encode(), headers=headers)
            results.append(
                {
                    "index": index,
                    "retry": retry or 0,
                    "sent": started,
                    "ack_ms": (time.monotonic() - started) * 1000,
                    "status": response.status_code,
                }
            )

        await asyncio.gather(*(post(*item) for item in bodies))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=50)
    parser.add_argument("--retries", type=int, default=2, help="retries sent per mention")
    parser.add_argument("--retry-delay", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=None, help="NEEDLE_SLACK_WORKERS (default: settings)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "slack_bench.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    questions = [q["question"] for q in json.loads((ROOT / "tests/data/handbook_questions.json").read_text())]

    with slack_api_server() as slack, tempfile.TemporaryDirectory() as data_dir:
        overrides = {"slack_workers": args.workers} if args.workers else {}
        settings = load_settings(
            _env_file=None,
            data_dir=Path(data_dir),
            slack_bot_token=BOT_TOKEN,
            slack_app_token=APP_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_mode="http",
            slack_api_url=f"{slack.url}/api/",
            **overrides,
        )
        service = NeedleService(settings)
        started = time.monotonic()
        service.ingest_paths([handbook_dir()])
        print(f"indexed the handbook in {time.monotonic() - started:.1f} s: {service.stats()}")
        service.ask("warm-up question")
        runtime = BotRuntime.create(service)
        app = FastAPI()
        add_routes(app, build_app(service, runtime=runtime))
        server, base = serve(app)

        bodies: list[tuple[int, str, int | None]] = []
        channel_of: dict[str, int] = {}
        for index in range(args.mentions):
            channel, user = f"CBENCH{index:03d}", f"UBENCH{index:03d}"
            question = questions[index % len(questions)]
            ts = slack.add_user_message(channel, user, f"<@UBOT> {question}")
            event = mention(channel, user, question, ts)
            body = json.dumps(event_envelope(event, event_id=f"EvBench{index:04d}"))
            channel_of[channel] = index
            bodies.extend((index, body, retry or None) for retry in range(args.retries + 1))

        results = asyncio.run(send_all(base + EVENTS_PATH, bodies, args.retry_delay))
        sent = {r["index"]: r["sent"] for r in results if r["retry"] == 0}

        def finals(state: object) -> list:
            return [
                c
                for c in slack.of("chat.update")
                if any(block["type"] == "actions" for block in c.args.get("blocks", []))
            ]

        deadline = time.monotonic() + 600
        while len(finals(slack)) < args.mentions and time.monotonic() < deadline:
            time.sleep(0.1)
        runtime.wait_idle(60)
        slack.settle(quiet=1.0)
        server.should_exit = True
        runtime.shutdown()

        placeholders = slack.of("chat.postMessage")
        final_updates = finals(slack)
        to_placeholder = [(c.at - sent[channel_of[c.args["channel"]]]) * 1000 for c in placeholders]
        to_final = [(c.at - sent[channel_of[c.args["channel"]]]) * 1000 for c in final_updates]
        per_channel = [sum(1 for c in final_updates if c.args["channel"] == ch) for ch in channel_of]
        acks = [r["ack_ms"] for r in results]
        report = {
            "mentions": args.mentions,
            "retries_per_mention": args.retries,
            "requests": len(results),
            "non_200": sum(1 for r in results if r["status"] != 200),
            "slack_workers": settings.slack_workers,
            "cpu_count": __import__("os").cpu_count(),
            "ack_ms": {
                "p50": round(statistics.median(acks), 1),
                "p99": round(percentile(acks, 99), 1),
                "max": round(max(acks), 1),
            },
            "placeholders_posted": len(placeholders),
            "answers_posted": len(final_updates),
            "channels_answered_exactly_once": sum(1 for n in per_channel if n == 1),
            "channels_answered_twice_or_more": sum(1 for n in per_channel if n > 1),
            "time_to_placeholder_ms": {
                "p50": round(statistics.median(to_placeholder), 1),
                "p99": round(percentile(to_placeholder, 99), 1),
            },
            "time_to_final_answer_ms": {
                "p50": round(statistics.median(to_final), 1),
                "p99": round(percentile(to_final, 99), 1),
                "max": round(max(to_final), 1),
            },
        }
        service.traces.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    exact = report["answers_posted"] == args.mentions and not report["channels_answered_twice_or_more"]
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
