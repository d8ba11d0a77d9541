"""Build the Hugging Face-hosted chat generator from settings: serverless, Inference Endpoint or TGI."""

from __future__ import annotations

from typing import Any

from haystack.utils import Secret

from pipelines.settings import Settings

_API_TYPES = {
    "serverless": "serverless_inference_api",
    "inference_endpoint": "inference_endpoints",
    "tgi": "text_generation_inference",
}


def build_chat_generator(settings: Settings) -> Any | None:
    """A ``HuggingFaceAPIChatGenerator`` for the configured LLM, or ``None`` when ``NEEDLE_LLM_API=none``."""
    if not settings.llm_enabled:
        return None
    from haystack_integrations.components.generators.huggingface_api import HuggingFaceAPIChatGenerator

    api_params: dict[str, Any] = {"timeout": settings.llm_timeout_seconds}
    if settings.llm_api == "serverless":
        api_params["model"] = settings.llm_model
        if settings.llm_provider:
            api_params["provider"] = settings.llm_provider
    else:
        api_params["url"] = settings.llm_url
    token = (
        Secret.from_token(settings.hf_token.get_secret_value())
        if settings.hf_token
        else Secret.from_env_var(["HF_API_TOKEN", "HF_TOKEN"], strict=False)
    )
    return HuggingFaceAPIChatGenerator(
        api_type=_API_TYPES[settings.llm_api],
        api_params=api_params,
        token=token,
        generation_kwargs={"max_tokens": settings.llm_max_tokens, "temperature": settings.llm_temperature},
    )
