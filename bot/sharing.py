"""Whether a private answer may be shared into a channel: every source it drew on must be one the channel
may see.

A private answer (ephemeral, DM) may use sources shared with the asker alone, a user group or another
channel. "Share in channel" turns it into a message everyone in the channel reads, so it is checked again,
against the channel's audience and the sources' audiences as they are now (an audience narrowed since the
answer counts). The check covers every passage the answer was written from, not only the cited ones: an
LLM's text can repeat a passage it did not cite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.records.audience import Viewer, audience_of


def used_sources(trace: Mapping[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """source id -> (title, audience recorded with the passage) for every source the answer drew on."""
    used: dict[str, tuple[str, list[str]]] = {}
    stored = trace.get("answer") or {}
    for citation in [*(stored.get("citations") or []), *(stored.get("related") or [])]:
        source_id = str(citation.get("source_id") or "")
        if source_id:
            used.setdefault(source_id, (str(citation.get("title") or ""), []))
    for passage in trace.get("passages") or []:
        meta = passage.get("meta") or {}
        source_id = str(meta.get("source_id") or "")
        if source_id:
            title = used.get(source_id, (str(meta.get("title") or ""), []))[0]
            used[source_id] = (title, audience_of(meta))
    return used


def not_shareable(
    trace: Mapping[str, Any], audiences: Mapping[str, list[str]], channel_viewer: Viewer
) -> list[str]:
    """Titles of the sources ``channel_viewer`` (everyone in the channel) may not see; empty: shareable.

    :param audiences: source id -> audience now; a source no longer indexed is judged by the audience
        recorded with its passage, and refused when there is none.
    """
    refused = []
    for source_id, (title, recorded) in used_sources(trace).items():
        audience = audiences.get(source_id) or recorded
        if not audience or not channel_viewer.may_see(audience):
            refused.append(title or "a source")
    return sorted(set(refused))
