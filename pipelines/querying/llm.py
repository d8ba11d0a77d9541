"""The configured LLM: its chat generator, its check at start, and what readiness says about it.

Every endpoint with a URL (``tgi``, ``inference_endpoint``, ``openai``) is called through the OpenAI
chat-completions protocol with Haystack's ``OpenAIChatGenerator``: text-generation-inference and Inference
Endpoints serve it at ``/v1`` as vLLM, Ollama, llama.cpp's server and Hugging Face's router do. That client
is not huggingface_hub's, so ``HF_HUB_OFFLINE`` (which makes ``InferenceClient`` refuse every call, even to
127.0.0.1) never blocks a site's own server. Only ``serverless`` needs the Hub; it goes through
``HuggingFaceAPIChatGenerator`` and is checked once at start (offline, or a model id the Hub does not
know, stops Needle with one sentence).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.utils import Secret

from pipelines.base.errors import NeedleError
from pipelines.base.settings import ENV_PREFIX, Settings

logger = logging.getLogger(__name__)

#: Sent as the model name to servers that serve one model and ignore it (TGI, Inference Endpoints).
SINGLE_MODEL = "tgi"
#: Sent as the key when none is configured: the OpenAI client insists on one; keyless servers ignore it.
NO_KEY = "none"
PROBE_TIMEOUT_SECONDS = 3.0


class LLMConfigurationError(NeedleError):
    """The configured LLM cannot be used at all (stops Needle at start, in one sentence)."""


def hub_offline() -> bool:
    """Whether huggingface_hub is in offline mode (``HF_HUB_OFFLINE``, read as huggingface_hub reads it)."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return constants.is_offline_mode() or flag.strip().upper() in {"1", "ON", "YES", "TRUE"}


def chat_base_url(settings: Settings) -> str:
    """The OpenAI-protocol base URL (the part before ``/chat/completions``) of a URL endpoint.

    ``NEEDLE_LLM_URL`` of ``openai`` is that base already (``http://vllm:8000/v1``); a TGI server or an
    Inference Endpoint is given by its root, so ``/v1`` is added unless the URL has it.
    """
    url = str(settings.llm_url or "").rstrip("/").removesuffix("/chat/completions")
    if settings.llm_api in ("tgi", "inference_endpoint") and not url.endswith("/v1"):
        url += "/v1"
    return url


def _key(settings: Settings) -> Secret:
    secret = settings.llm_api_key if settings.llm_api == "openai" else settings.hf_token
    return Secret.from_token(secret.get_secret_value() if secret else NO_KEY)


def build_chat_generator(settings: Settings, timeout_seconds: float | None = None) -> Any | None:
    """The chat generator for the configured LLM, or ``None`` when ``NEEDLE_LLM_API=none``.

    :param timeout_seconds: the HTTP client's timeout (default ``NEEDLE_LLM_TIMEOUT_SECONDS``).
    :raises LLMConfigurationError: ``serverless`` while huggingface_hub is offline.
    """
    if not settings.llm_enabled:
        return None
    timeout = settings.llm_timeout_seconds if timeout_seconds is None else timeout_seconds
    generation = {"max_tokens": settings.llm_max_tokens, "temperature": settings.llm_temperature}
    if settings.llm_api != "serverless":
        return OpenAIChatGenerator(
            api_key=_key(settings),
            model=settings.llm_model or SINGLE_MODEL,
            api_base_url=chat_base_url(settings),
            generation_kwargs=generation,
            timeout=timeout,
            # No silent retries: a failed call falls back to the extract at once, within the deadline.
            max_retries=0,
        )
    if hub_offline():
        raise LLMConfigurationError(
            f"{ENV_PREFIX}LLM_API=serverless calls the Hugging Face Hub, which HF_HUB_OFFLINE forbids; "
            f"set {ENV_PREFIX}LLM_API to tgi, inference_endpoint or openai with your own server's "
            f"{ENV_PREFIX}LLM_URL, or unset HF_HUB_OFFLINE"
        )
    from haystack_integrations.components.generators.huggingface_api import HuggingFaceAPIChatGenerator

    api_params: dict[str, Any] = {"model": settings.llm_model, "timeout": timeout}
    if settings.llm_provider:
        api_params["provider"] = settings.llm_provider
    token = (
        Secret.from_token(settings.hf_token.get_secret_value())
        if settings.hf_token
        else Secret.from_env_var(["HF_API_TOKEN", "HF_TOKEN"], strict=False)
    )
    return HuggingFaceAPIChatGenerator(
        api_type="serverless_inference_api", api_params=api_params, token=token, generation_kwargs=generation
    )


def with_timeout(generator: Any, timeout_seconds: float) -> Any:
    """A twin of ``generator`` (same endpoint, key and generation settings) with its own HTTP timeout:
    the follow-up rewrite's short one. Anything else with a ``run(messages=...)`` is used as it is."""
    if isinstance(generator, OpenAIChatGenerator):
        return OpenAIChatGenerator(
            api_key=generator.api_key,
            model=generator.model,
            api_base_url=generator.api_base_url,
            generation_kwargs=dict(generator.generation_kwargs),
            timeout=timeout_seconds,
            max_retries=generator.max_retries,
        )
    api_params = getattr(generator, "api_params", None)
    if not isinstance(api_params, dict) or not hasattr(generator, "api_type"):
        return generator
    kwargs = dict(getattr(generator, "generation_kwargs", None) or {})
    kwargs["stop"] = list(kwargs.get("stop") or [])
    return type(generator)(
        api_type=generator.api_type,
        api_params={**api_params, "timeout": timeout_seconds},
        token=generator.token,
        generation_kwargs=kwargs,
    )


def prepare_at_start(settings: Settings, generator: Any | None) -> None:
    """Create the generator's client now, so a ``serverless`` model the Hub does not know, or a Hub that
    cannot be reached, stops Needle at start in one sentence instead of failing the first question.

    :raises LLMConfigurationError: the sentence, naming the setting to fix.
    """
    if generator is None:
        return
    try:
        generator.warm_up()
    except Exception as error:  # huggingface_hub's and httpx's errors, turned into one plain sentence
        logger.debug("LLM warm-up failed", exc_info=error)
        raise LLMConfigurationError(_start_failure(settings, error)) from None


def _start_failure(settings: Settings, error: BaseException) -> str:
    model = settings.llm_model
    text = f"{type(error).__name__} {error} {error.__cause__!r}".lower()
    if "offline" in text:
        return f"{ENV_PREFIX}LLM_API=serverless calls the Hugging Face Hub, which HF_HUB_OFFLINE forbids"
    if "not found" in text or "repositorynotfound" in text:
        return (
            f"{ENV_PREFIX}LLM_MODEL={model} is not a model on the Hugging Face Hub (or the token cannot "
            "see it); check the model id"
        )
    if "text-generation" in text or "pipeline_tag" in text or "not a text generation" in text:
        return f"{ENV_PREFIX}LLM_MODEL={model} is not a text-generation model on the Hugging Face Hub"
    if "401" in text or "403" in text or "unauthorized" in text:
        return f"the Hugging Face Hub refused the token while checking {ENV_PREFIX}LLM_MODEL={model}"
    return f"Needle could not reach the Hugging Face Hub to check {ENV_PREFIX}LLM_MODEL={model}"


def describe(settings: Settings) -> str:
    """Which LLM answers, in a few words without secrets: for readiness and the console header."""
    api = settings.llm_api
    if api == "none":
        return "no LLM (extractive answers)"
    if api == "serverless":
        provider = f" via {settings.llm_provider}" if settings.llm_provider else ""
        return f"{settings.llm_model} (Hugging Face serverless{provider})"
    kind = {"tgi": "text-generation-inference", "inference_endpoint": "Inference Endpoint"}.get(
        api, "OpenAI-compatible server"
    )
    model = f"{settings.llm_model} on " if settings.llm_model else ""
    return f"{model}{kind} at {settings.llm_url}"


@dataclass(frozen=True)
class LastCall:
    """How the latest call to the LLM went: answered, or the one sentence of why not."""

    ok: bool
    at: float
    error: str = ""


class LLMStatus:
    """What the process knows of its LLM: which one, a problem found at start, and the last call.

    Shared by every answer generator of a service and read by readiness and the console header; thread
    safe (answers are generated on many threads).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.description = describe(settings)
        self._lock = threading.Lock()
        self._last: LastCall | None = None

    def record(self, ok: bool, error: str = "") -> None:
        with self._lock:
            self._last = LastCall(ok=ok, at=time.time(), error=error)

    @property
    def last_call(self) -> LastCall | None:
        with self._lock:
            return self._last

    def probe(self) -> str:
        """Ask the configured endpoint whether it serves; "" when it does, else one plain sentence.

        TGI and Inference Endpoints answer ``GET /health``; an OpenAI-compatible server lists its models
        at ``GET {base}/models``, which also shows a model name it does not serve. Serverless is not
        probed (every call is billed); it was checked at start.
        """
        api = self.settings.llm_api
        if api in ("none", "serverless"):
            return ""
        if api == "openai":
            return _probe_openai(self.settings)
        return _probe_health(self.settings)

    def readiness(self) -> dict[str, Any]:
        """The ``llm`` entry of ``/readyz``: which LLM, whether it is reachable, and its last call."""
        api = self.settings.llm_api
        check: dict[str, Any] = {"ok": True, "mode": api, "llm": self.description, "probed": False}
        if api not in ("none", "serverless"):
            problem = self.probe()
            check.update(ok=not problem, probed=True)
            if problem:
                check["error"] = problem
        last = self.last_call
        check["last_call"] = None if last is None else {"ok": last.ok, "at": last.at, "error": last.error}
        return check

    def headline(self) -> str:
        """One line for the console header: the LLM and whether it answered its last call."""
        if self.settings.llm_api == "none":
            return "extractive answers (no LLM configured)"
        last = self.last_call
        if last is None:
            state = "no call yet"
        elif last.ok:
            state = "answered its last call"
        else:
            state = f"last call failed: {last.error}"
        return f"{self.description} ({state})"


def _request(settings: Settings, url: str) -> urllib.request.Request:
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - an http(s) URL from settings
    secret = settings.llm_api_key if settings.llm_api == "openai" else settings.hf_token
    if secret:
        request.add_header("Authorization", f"Bearer {secret.get_secret_value()}")
    return request


def _probe_health(settings: Settings) -> str:
    url = str(settings.llm_url).rstrip("/")
    try:
        request = _request(settings, url + "/health")
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_SECONDS):  # noqa: S310
            return ""
    except urllib.error.HTTPError as error:  # it answered: reachable, even if /health is not a route
        if error.code in (401, 403):
            return f"the language model at {url} refused Needle's token (HTTP {error.code})"
        return "" if error.code < 500 else f"the language model at {url} is failing (HTTP {error.code})"
    except (urllib.error.URLError, TimeoutError, OSError):
        return f"the language model at {url} is not reachable"


def _probe_openai(settings: Settings) -> str:
    base = chat_base_url(settings)
    try:
        request = _request(settings, base + "/models")
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_SECONDS) as reply:  # noqa: S310
            listing = json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return f"the language model server at {base} refused {ENV_PREFIX}LLM_API_KEY (HTTP {error.code})"
        if error.code == 404:
            return (
                f"{base} has no OpenAI-compatible API (HTTP 404 for /models); {ENV_PREFIX}LLM_URL should be "
                "the base URL that ends before /chat/completions, often .../v1"
            )
        return f"the language model server at {base} is failing (HTTP {error.code})"
    except (urllib.error.URLError, TimeoutError, OSError):
        return f"the language model server at {base} is not reachable"
    except ValueError:
        return f"{base}/models did not answer in the OpenAI format; check {ENV_PREFIX}LLM_URL"
    served = [str(item.get("id")) for item in listing.get("data") or [] if isinstance(item, dict)]
    if served and settings.llm_model not in served:
        shown = ", ".join(served[:5]) + (", ..." if len(served) > 5 else "")
        return (
            f"the language model server at {base} does not serve {ENV_PREFIX}LLM_MODEL={settings.llm_model} "
            f"(it serves {shown})"
        )
    return ""
