"""What Needle needs of an Elasticsearch cluster, checked against what the cluster says of itself.

Needle runs on the free Basic licence (it fuses BM25 and kNN in the client, so the licensed ``rrf``
retriever is not needed) and on Elasticsearch 8.4 or newer, the first version whose search request takes
``knn`` with a ``filter`` (Elastic's API specification: ``knn`` is "available since 8.4.0"), which the
audience rules rely on. ``dense_vector`` with ``cosine`` similarity and the ``cjk`` analyser are older.
The 8.x Python client speaks to 9.x clusters in their 8-compatible mode.

A cluster that is too old is refused when Needle starts, with one sentence naming what is missing,
rather than with a parse error at the first question (:func:`check_version`); ``needle doctor`` reports
the rest (:func:`mapping_problems`, :func:`licence_note`).
"""

from __future__ import annotations

from typing import Any

from pipelines.base.errors import NeedleError

#: The oldest Elasticsearch Needle works with, and why.
MINIMUM_VERSION = (8, 4)
MINIMUM_REASON = "kNN search with a filter (the `knn` option of _search)"


class ClusterTooOld(NeedleError):
    """The cluster lacks a feature Needle's requests use."""


def version_of(info: dict[str, Any]) -> tuple[int, int]:
    """``(major, minor)`` from the cluster's ``GET /`` reply."""
    number = str(info.get("version", {}).get("number", "0.0"))
    major, _, rest = number.partition(".")
    minor = rest.partition(".")[0]
    return int(major or 0), int(minor or 0) if minor.isdigit() else 0


def check_version(info: dict[str, Any]) -> str:
    """The cluster's version number; :class:`ClusterTooOld` with the missing feature when it is older
    than :data:`MINIMUM_VERSION`."""
    number = str(info.get("version", {}).get("number", "unknown"))
    if version_of(info) < MINIMUM_VERSION:
        wanted = ".".join(map(str, MINIMUM_VERSION))
        raise ClusterTooOld(
            f"Elasticsearch {number} is too old for Needle: it needs {wanted} or newer for "
            f"{MINIMUM_REASON}. Upgrade the cluster, or run Needle on its embedded store."
        )
    return number


def licence_note(licence: dict[str, Any]) -> str:
    """One line on the cluster's licence; every licence works, since Needle fuses results itself."""
    kind = str(licence.get("license", {}).get("type", "unknown"))
    status = str(licence.get("license", {}).get("status", "unknown"))
    return f"{kind} licence, {status} (Needle fuses BM25 and kNN itself, so Basic is enough)"


def mapping_problems(mapping: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """What in an index's live mapping differs from the fields Needle defines (``expected`` is
    :func:`pipelines.stores.elasticsearch.index_definition`'s ``mappings``): a field missing, of another
    type, or a vector of another dimension or similarity. Extra fields are fine (dynamic keywords)."""
    live = mapping.get("properties", {})
    problems: list[str] = []
    for name, wanted in expected.get("properties", {}).items():
        have = live.get(name)
        if have is None:
            problems.append(f"the field {name!r} is missing")
            continue
        if have.get("type", "object") != wanted.get("type", "object"):
            problems.append(f"{name!r} is {have.get('type')!r}, Needle writes {wanted.get('type')!r}")
            continue
        for key in ("dims", "similarity", "analyzer"):
            if key in wanted and have.get(key, wanted[key] if key == "similarity" else None) != wanted[key]:
                problems.append(f"{name!r} has {key} {have.get(key)!r}, Needle needs {wanted[key]!r}")
        for sub, sub_wanted in wanted.get("fields", {}).items():
            sub_have = have.get("fields", {}).get(sub, {})
            if sub_have.get("analyzer") != sub_wanted.get("analyzer"):
                problems.append(f"'{name}.{sub}' is not analysed with {sub_wanted.get('analyzer')!r}")
    return problems
