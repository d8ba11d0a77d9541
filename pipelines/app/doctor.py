"""``needle doctor``: one command a deployer runs where Needle will live, before employees ask anything.

Each check is one line: what was looked at, and when something is wrong, one plain sentence saying what to
do. It reads the same settings as ``needle serve`` and talks to the same store, embedder, LLM and Slack,
so a green doctor means the real parts answer, not that the configuration parses. Nothing is written
except a temporary file in the data directory (to prove it is writable) and, with ``--store-smoke`` on
Elasticsearch, a temporary index that is deleted afterwards.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings

Status = Literal["ok", "warn", "fail", "skip"]
#: The bot scopes Slack's app manifest asks for (bot/manifest.yaml, read as data: the core never imports
#: the Slack face).
MANIFEST = Path(__file__).resolve().parents[2] / "bot" / "manifest.yaml"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    detail: str
    seconds: float = 0.0


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "checks": [asdict(check) for check in self.checks]}


@dataclass
class _Context:
    """What later checks reuse from earlier ones (the embedder's dimension, the loaded parts)."""

    settings: Settings
    embedding_dim: int | None = None
    embedders: Any = None


@contextmanager
def _timed(report: Report, name: str) -> Iterator[Callable[[Status, str], None]]:
    """Record one check: the block calls ``say(status, detail)``; an exception is a failed check."""
    started = time.perf_counter()
    said: list[tuple[Status, str]] = []
    try:
        yield lambda status, detail: said.append((status, detail))
    except NeedleError as error:
        said.append(("fail", str(error)))
    except Exception as error:  # a doctor reports every fault as a line, never a traceback
        said.append(("fail", f"{type(error).__name__}: {error}"))
    status, detail = said[-1] if said else ("fail", "the check ended without a result")
    report.checks.append(Check(name, status, detail, round(time.perf_counter() - started, 3)))


# --- the checks ----------------------------------------------------------------------------------------


def check_data_dir(context: _Context, say: Callable[[Status, str], None]) -> None:
    directory = context.settings.data_dir
    if not directory.exists():
        parent = next((p for p in directory.parents if p.exists()), Path("/"))
        if os.access(parent, os.W_OK):
            say("ok", f"{directory} does not exist yet; Needle will create it (0700)")
        else:
            say("fail", f"{directory} does not exist and {parent} is not writable: create it for Needle")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
            pass
    except OSError as error:
        say("fail", f"{directory} is not writable ({error.strerror}): give Needle's user write access")
        return
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode & 0o077:
        say("warn", f"{directory} is readable by other local users (mode {mode:o}): chmod 700 {directory}")
        return
    say("ok", f"{directory} is writable and private (mode {mode:o})")


def check_embedder(context: _Context, say: Callable[[Status, str], None]) -> None:
    from pipelines.service.embedders import build_embedders, embedder_identity

    embedders = build_embedders(context.settings)
    vector = embedders.sentence_encoder(["Where do I find the VPN guide?"])[0]
    if len(vector) != embedders.dimension:
        raise NeedleError(f"the embedder returned {len(vector)} numbers, not its {embedders.dimension}")
    context.embedding_dim, context.embedders = embedders.dimension, embedders
    say("ok", f"{embedder_identity(context.settings)}: {embedders.dimension} dimensions")


def check_store(context: _Context, say: Callable[[Status, str], None]) -> None:
    from pipelines.stores import build_backend, on_elasticsearch

    settings = context.settings
    if not on_elasticsearch(settings):
        backend = build_backend(settings, context.embedding_dim or 384)
        say("ok", f"embedded store in {settings.data_dir}: {backend.documents.count_documents()} chunks")
        return
    say(*elasticsearch_status(settings, context.embedding_dim))


def elasticsearch_status(settings: Settings, embedding_dim: int | None) -> tuple[Status, str]:
    """The cluster's version, licence, health, disk and the Needle index's mapping, in one line."""
    from pipelines.stores.cluster import check_version, licence_note, mapping_problems
    from pipelines.stores.elasticsearch import index_definition, make_client

    client = make_client(settings)
    try:
        try:
            info = client.info().body
        except Exception as error:
            raise NeedleError(
                f"Elasticsearch at {settings.elasticsearch_url} does not answer ({type(error).__name__}): "
                "check NEEDLE_ELASTICSEARCH_URL and the credentials"
            ) from None
        version = check_version(info)
        parts = [f"Elasticsearch {version}", licence_note(client.license.get().body)]
        health = client.cluster.health().body
        parts.append(f"cluster {health.get('status')}")
        disk = _disk_note(client)
        if disk:
            parts.append(disk)
        status: Status = "warn" if health.get("status") == "red" or disk.startswith("over") else "ok"
        alias = settings.elasticsearch_index
        if not (client.indices.exists_alias(name=alias) or client.indices.exists(index=alias)):
            return status, "; ".join([*parts, f"the index {alias!r} will be created at the first start"])
        mappings = client.indices.get_mapping(index=alias).body
        (live,) = (entry["mappings"] for entry in mappings.values())
        expected = index_definition(embedding_dim or 384)["mappings"]
        problems = mapping_problems(live, expected)
        if problems:
            return "fail", (
                f"the index {alias!r} does not match what Needle writes ({'; '.join(problems)}): "
                "run `needle reindex` to rebuild it under the current settings"
            )
        chunks = client.count(index=alias).body.get("count", 0)
        return status, "; ".join([*parts, f"index {alias!r} matches, {chunks} chunks"])
    finally:
        client.close()


def _disk_note(client: Any) -> str:
    """How full the fullest data node's disk is, against the cluster's high watermark."""
    settings = client.cluster.get_settings(include_defaults=True, flat_settings=True).body
    merged = {
        **settings.get("defaults", {}),
        **settings.get("persistent", {}),
        **settings.get("transient", {}),
    }
    high = str(merged.get("cluster.routing.allocation.disk.watermark.high", "90%"))
    nodes = client.cat.allocation(format="json", bytes="b").body
    used = [float(node["disk.percent"]) for node in nodes if node.get("disk.percent") not in (None, "")]
    if not used:
        return f"disk high watermark {high}"
    fullest = max(used)
    limit = float(high.rstrip("%")) if high.endswith("%") else None
    if limit is not None and fullest >= limit:
        return f"over the disk high watermark ({fullest:.0f}% used, limit {high}): free disk on the nodes"
    return f"disk {fullest:.0f}% used (high watermark {high})"


def check_llm(context: _Context, say: Callable[[Status, str], None]) -> None:
    settings = context.settings
    if settings.llm_api == "none":
        say("ok", "no LLM configured: answers are quoted extracts from the documents")
        return
    from haystack.dataclasses import ChatMessage

    from pipelines.querying.llm import build_chat_generator

    generator = build_chat_generator(settings)
    if generator is None:
        raise NeedleError(f"NEEDLE_LLM_API={settings.llm_api} but no generator could be built")
    started = time.perf_counter()
    try:
        reply = generator.run(messages=[ChatMessage.from_user("Reply with the single word OK.")])
    except Exception as error:
        raise NeedleError(
            f"the {settings.llm_api} LLM at {settings.llm_url or settings.llm_model} failed "
            f"({type(error).__name__}: {str(error)[:160]}): check NEEDLE_LLM_URL, the model and the token"
        ) from None
    latency = time.perf_counter() - started
    text = (reply.get("replies") or [None])[0]
    if text is None or not (text.text or "").strip():
        raise NeedleError("the LLM answered with nothing: check the model and its prompt format")
    say("ok", f"{settings.llm_api} at {settings.llm_url or settings.llm_model} answered in {latency:.2f} s")


def manifest_scopes(path: Path = MANIFEST) -> list[str]:
    """The bot scopes listed in the app manifest (``oauth_config.scopes.bot``)."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    scopes: list[str] = []
    inside = False
    for line in lines:
        if re.match(r"^\s+bot:\s*$", line):
            inside = True
            continue
        match = re.match(r"^\s+-\s+([a-z:._]+)", line)
        if inside and match:
            scopes.append(match.group(1))
        elif inside and line.strip() and not match:
            break
    return scopes


def check_slack(context: _Context, say: Callable[[Status, str], None]) -> None:
    settings = context.settings
    if settings.slack_bot_token is None:
        say("skip", "no SLACK_BOT_TOKEN: the console runs without the Slack bot")
        return
    base = (settings.slack_api_url or "https://slack.com/api/").rstrip("/") + "/"
    request = urllib.request.Request(base + "auth.test", method="POST", data=b"")  # noqa: S310
    request.add_header("Authorization", f"Bearer {settings.slack_bot_token.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the Slack API URL
            body = json.loads(response.read() or b"{}")
            granted = {s.strip() for s in (response.headers.get("x-oauth-scopes") or "").split(",") if s}
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        raise NeedleError(f"Slack's API at {base} is not reachable ({error}): check the network") from None
    if not body.get("ok"):
        raise NeedleError(
            f"Slack refused the bot token ({body.get('error', 'unknown error')}): "
            "reinstall the app and copy the new xoxb- token into SLACK_BOT_TOKEN"
        )
    missing = [scope for scope in manifest_scopes() if granted and scope not in granted]
    where = f"as @{body.get('user', '?')} in {body.get('team', '?')}"
    if missing:
        say(
            "fail",
            f"Slack answers {where}, but the token lacks {', '.join(missing)}: reinstall the app "
            "from bot/manifest.yaml so it is granted every scope",
        )
        return
    if settings.slack_mode == "http":
        url = (settings.public_base_url or "").rstrip("/") + "/slack/events"
        if not url.startswith("https://"):
            say(
                "fail",
                f"Slack answers {where}, but its events URL {url!r} is not HTTPS: set "
                "NEEDLE_PUBLIC_BASE_URL to the https:// address in front of Needle",
            )
            return
        say("ok", f"Slack answers {where}; events go to {url}")
        return
    say("ok", f"Slack answers {where}; Socket Mode, no public URL needed")


def check_console(context: _Context, say: Callable[[Status, str], None]) -> None:
    url = context.settings.public_base_url
    if not url:
        say("ok", "NEEDLE_PUBLIC_BASE_URL is not set: the console is for this machine only")
        return
    host = re.sub(r"^https?://", "", url).split("/")[0].split(":")[0]
    if url.startswith("https://"):
        say("ok", f"console at {url.rstrip('/')}/admin, over HTTPS (its sign-in cookie is Secure)")
    elif host in ("localhost", "127.0.0.1", "::1"):
        say("ok", f"console at {url.rstrip('/')}/admin on this machine")
    else:
        say(
            "fail",
            f"console at {url} is plain HTTP: passwords and sign-in cookies would cross the network "
            "unencrypted; put HTTPS in front and set NEEDLE_PUBLIC_BASE_URL to the https:// address",
        )


CHECKS: tuple[tuple[str, Callable[[_Context, Callable[[Status, str], None]], None]], ...] = (
    ("data directory", check_data_dir),
    ("embedder", check_embedder),
    ("store", check_store),
    ("LLM", check_llm),
    ("Slack", check_slack),
    ("console", check_console),
)


def run_doctor(settings: Settings, store_smoke: bool = False) -> Report:
    report = Report()
    context = _Context(settings)
    for name, check in CHECKS:
        with _timed(report, name) as say:
            check(context, say)
    if store_smoke:
        with _timed(report, "store smoke test") as say:
            from pipelines.app.doctor_smoke import store_smoke_test

            say(*store_smoke_test(settings))
    return report


def format_report(report: Report) -> str:
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}
    lines = [f"[{marks[check.status]}] {check.name}: {check.detail}" for check in report.checks]
    failed = sum(check.status == "fail" for check in report.checks)
    lines.append("Ready." if report.ready else f"Not ready: {failed} check{'s' * (failed != 1)} failed.")
    return "\n".join(lines)
