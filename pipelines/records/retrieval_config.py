"""Retrieval configurations: named sets of retrieval settings, the live one stored with Needle's data.

The environment's retrieval settings are the initial defaults. An admin compares a candidate (``needle
compare --candidate dense_weight=0.5``) and promotes it; the live configuration is read on every question,
so the next question in every process and replica uses it, without a restart. Every promotion is kept
with its note and metrics, and rolling back to an earlier one is another promotion of its values.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError

from pipelines.base.errors import NeedleError
from pipelines.base.settings import Settings, describe_validation_error
from pipelines.records.audit import AuditLog
from pipelines.stores.records import Record, RecordStore

COLLECTION = "configs"
LIVE_KEY = "live"
#: The settings a configuration may change (the same names as the environment's NEEDLE_* settings).
TUNABLE = (
    "fusion",
    "rrf_k",
    "bm25_weight",
    "dense_weight",
    "bm25_top_k",
    "dense_top_k",
    "top_k",
    "answerability_threshold",
)


@dataclass(frozen=True)
class Promotion:
    """One promoted configuration: its values (over the environment's), who promoted it, why, and the
    comparison that justified it."""

    config_id: str
    values: dict[str, Any]
    promoted_by: str | None
    note: str
    at: float
    metrics: dict[str, Any] = field(default_factory=dict)
    rolled_back_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_assignments(raw: str) -> dict[str, str]:
    """``"fusion=rrf,dense_weight=0"`` -> ``{"fusion": "rrf", "dense_weight": "0"}`` (validated later)."""
    values: dict[str, str] = {}
    for part in (piece.strip() for piece in raw.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower().removeprefix("needle_")
        if not sep or not value.strip():
            raise NeedleError(f"{part!r}: write KEY=VALUE, e.g. dense_weight=0.5")
        if name not in TUNABLE:
            raise NeedleError(f"{name!r} is not a retrieval setting; use one of {', '.join(TUNABLE)}")
        values[name] = value.strip()
    return values


def apply(settings: Settings, values: dict[str, Any]) -> Settings:
    """``settings`` with ``values`` applied and validated as the environment's values are.

    :raises NeedleError: a value out of range or of the wrong type, in plain words.
    """
    unknown = sorted(set(values) - set(TUNABLE))
    if unknown:
        raise NeedleError(f"not retrieval settings: {', '.join(unknown)}")
    try:
        validated = Settings.model_validate({**settings.model_dump(), **values})
    except ValidationError as error:
        raise NeedleError(describe_validation_error(error)) from None
    # Only the tunable values are taken from the validated copy: secrets with aliases stay as they were.
    return settings.model_copy(update={name: getattr(validated, name) for name in values})


def effective_values(settings: Settings) -> dict[str, Any]:
    """The tunable settings' values in ``settings``."""
    return {name: getattr(settings, name) for name in TUNABLE}


class ConfigStore:
    """The live configuration and its history over a :class:`RecordStore`; promotions are audited."""

    def __init__(self, records: RecordStore, settings: Settings, audit: AuditLog) -> None:
        self.records = records
        self.settings = settings
        self.audit = audit

    def live(self) -> Promotion | None:
        record = self.records.get(COLLECTION, LIVE_KEY)
        return None if record is None else _promotion(record)

    def live_settings(self) -> Settings:
        """The environment's settings with the live configuration applied (read afresh each call)."""
        live = self.live()
        return apply(self.settings, live.values) if live else self.settings

    def promote(
        self,
        values: dict[str, Any],
        actor: str | None,
        note: str,
        metrics: dict[str, Any] | None = None,
        rolled_back_from: str | None = None,
    ) -> Promotion:
        """Make ``values`` (over the environment's settings) the live configuration."""
        if not note.strip():
            raise NeedleError("say why in a note: it is kept with the promotion")
        applied = apply(self.settings, values)  # validates before anything is written
        values = {name: getattr(applied, name) for name in values}
        before = self.live()
        promotion = Promotion(
            config_id=uuid.uuid4().hex[:10],
            values=values,
            promoted_by=actor,
            note=note.strip(),
            at=time.time(),
            metrics=metrics or {},
            rolled_back_from=rolled_back_from,
        )
        self.records.put(COLLECTION, promotion.config_id, {"kind": "promotion"}, promotion.to_dict())
        self.records.put(COLLECTION, LIVE_KEY, {"kind": "live"}, promotion.to_dict())
        self.audit.record(
            actor,
            "retrieval.rollback" if rolled_back_from else "retrieval.promote",
            f"retrieval configuration {promotion.config_id}",
            {"values": before.values if before else {}},
            {"values": values, "note": promotion.note},
        )
        return promotion

    def history(self) -> list[Promotion]:
        """Every promotion, newest first."""
        return [_promotion(r) for r in self.records.query(COLLECTION, {"kind": "promotion"}, limit=1000)]

    def rollback(self, config_id: str, actor: str | None, note: str | None = None) -> Promotion:
        """Promote an earlier configuration's values again ("default" returns to the environment's)."""
        if config_id == "default":
            values: dict[str, Any] = {}
        else:
            record = self.records.get(COLLECTION, config_id)
            if record is None or config_id == LIVE_KEY:
                raise NeedleError(f"no promoted configuration {config_id!r}; see `needle config history`")
            values = _promotion(record).values
        return self.promote(values, actor, note or f"rolled back to {config_id}", rolled_back_from=config_id)


def _promotion(record: Record) -> Promotion:
    return Promotion(**{name: record.body.get(name) for name in Promotion.__dataclass_fields__})
