"""A local server that answers the Elasticsearch requests Needle sends, over real HTTP.

No Elasticsearch can run on the build machine. This speaks enough of its REST protocol, as Elasticsearch
documents it, for the official ``elasticsearch`` client, Haystack's document store and retrievers, and
Needle's records, traces and aliases, so that whole Needle processes can run against it (see
``tests/core/test_replicas.py``). It grows request by request: what it does not know gets a 400 with an
Elasticsearch-shaped error (type ``unsupported_by_fake``), so a request Needle did not mean to send, or a
query this server would answer wrongly, fails loudly instead of silently matching nothing.

What it serves:

* the product check (``GET /``), ``HEAD /<index>``, index creation with settings, mappings and aliases
  (400 ``resource_already_exists_exception``), index deletion, ``_refresh``, ``_count``;
* aliases: ``HEAD``/``GET /_alias/<name>`` and an atomic ``POST /_aliases`` (add, remove); every other
  request resolves an alias to its index (writes go to the alias's write index);
* documents by id (``_doc``, ``_create`` with 409 ``version_conflict_engine_exception``, and ``_update``
  with a partial ``doc``, merged as Elasticsearch merges it, 404 ``document_missing_exception``) and
  ``_bulk`` (``index``, ``create``, ``delete``), creating a missing index on first write as Elasticsearch
  does;
* ``_search`` with ``query``, ``knn``, ``sort``, ``from``, ``size``, ``_source`` and a one-field
  ``composite`` aggregation with a ``top_hits`` sub-aggregation; ``_delete_by_query``; and
  ``_update_by_query`` with the one Painless script Haystack's ``update_by_filter`` sends;
* the query DSL: ``match_all``, ``bool`` (must, filter, should, must_not), ``term``, ``terms``,
  ``range``, ``exists`` (what Haystack's filters and Needle's records and traces generate), and
  ``multi_match`` of type ``most_fields`` with operator OR and no fuzziness (Haystack's BM25 retriever
  with Needle's ``fuzziness="0"``).

How it approximates Elasticsearch:

* One shard, refreshed after every write: Elasticsearch makes a write searchable only after a refresh
  (1 s by default, or ``refresh=wait_for``), the fake at once, so a missing ``refresh`` is not caught.
* BM25 is Lucene's (k1 1.2, b 0.75, idf ``ln(1 + (N - n + 0.5) / (n + 0.5))``, no ``k1 + 1`` factor),
  per field, summed over the fields of a ``most_fields`` query with their boosts, over exact statistics:
  Lucene stores field lengths lossily and counts deleted documents until a merge. Analysers follow the
  index mapping: ``english`` is :func:`pipelines.text.analysis.analyze` (Snowball stemming where Elasticsearch
  uses Porter; both drop Lucene's English stop words and possessives) on the non-CJK text plus each CJK
  character alone, as the standard tokeniser splits ideographs; ``cjk`` is lower-cased words without
  stemming, stop words removed, and overlapping CJK bigrams; ``standard`` lower-cases and splits.
* kNN is exact (Elasticsearch's HNSW search is approximate): the ``filter`` is applied first, then the
  ``k`` nearest by the field's similarity (cosine scores ``(1 + cos) / 2``) are the hits.
* ``term`` and other non-text clauses score a constant 1.0 in query context; a ``term`` query on a
  ``text`` field (which Elasticsearch would compare with analysed tokens) is refused.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from pipelines.text.analysis import ENGLISH_STOP_WORDS, analyze
from pipelines.text.basics import CJK_CHAR
from tests.support.elasticsearch_spec import Specification

#: Lucene's BM25 defaults, which Elasticsearch uses unless an index configures a similarity.
BM25_K1 = 1.2
BM25_B = 0.75
#: Elasticsearch counts hits exactly up to this many (``track_total_hits`` default), then says "gte".
TRACK_TOTAL_HITS = 10_000
#: ``GET /``: what a single-node 8.19 cluster says of itself (the client's product check reads it).
INFO = {
    "name": "fake",
    "cluster_name": "needle-test",
    "cluster_uuid": "fake-cluster-uuid",
    "version": {
        "number": "8.19.0",
        "build_flavor": "default",
        "build_type": "docker",
        "build_hash": "0" * 40,
        "build_date": "2025-07-17T00:00:00.000Z",
        "build_snapshot": False,
        "lucene_version": "9.12.2",
        "minimum_wire_compatibility_version": "7.17.0",
        "minimum_index_compatibility_version": "7.0.0",
    },
    "tagline": "You Know, for Search",
}
#: The script Haystack's ``update_by_filter`` sends, whitespace removed: set each param on ``_source``.
HAYSTACK_UPDATE_SCRIPT = "for(entryinparams.entrySet()){ctx._source[entry.getKey()]=entry.getValue();}"


class ElasticsearchError(Exception):
    """An error Elasticsearch would answer with: HTTP status, error type and reason."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason

    def payload(self) -> dict[str, Any]:
        cause = {"type": self.kind, "reason": self.reason}
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


class Unsupported(ElasticsearchError):
    """A request Elasticsearch may accept but this server cannot answer faithfully."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, "unsupported_by_fake", reason)


@dataclass
class FakeElasticsearchState:
    #: Seed documents given as lists (index -> _source documents); taken in by id on first request.
    indices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    #: (method, path, error payload) of every error answer, so a test can tell refusals from misses.
    errors: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    documents: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # index -> id -> _source
    mappings: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # alias -> index -> options
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: (index, id) -> the document's version and the index's last sequence number, as write replies say.
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    sequence: int = 0
    #: What the cluster says of itself: its version, licence, and how full its one node's disk is.
    version: str = "8.19.0"
    licence: str = "basic"
    disk_percent: int = 42
    #: "METHOD /template" of each operation the server answered, checked against the specification.
    operations: list[str] = field(default_factory=list)
    #: What in a request or a reply Elastic's API specification does not allow (see elasticsearch_spec).
    spec_problems: list[str] = field(default_factory=list)

    def take_in_seeds(self) -> None:
        for name, sources in list(self.indices.items()):
            if name not in self.documents:
                self.documents[name] = {str(s.get("id", n)): s for n, s in enumerate(sources)}
                self.mappings.setdefault(name, {})
                self.settings.setdefault(name, {})
        self.indices.clear()

    def exists(self, name: str) -> bool:
        self.take_in_seeds()
        return name in self.documents or name in self.aliases

    def resolve(self, name: str, write: bool = False) -> str:
        """The concrete index ``name`` means: itself, or the index (the write index) of an alias."""
        self.take_in_seeds()
        if any(char in name for char in ",*"):
            raise Unsupported(f"several indices in one request ({name})")
        if name in self.documents:
            return name
        targets = self.aliases.get(name)
        if not targets:
            raise ElasticsearchError(404, "index_not_found_exception", f"no such index [{name}]")
        if len(targets) == 1:
            return next(iter(targets))
        writers = [index for index, options in targets.items() if options.get("is_write_index")]
        if write and writers:
            return writers[0]
        raise Unsupported(f"alias [{name}] points at several indices")

    def create_index(self, name: str, body: dict[str, Any]) -> None:
        self.take_in_seeds()
        if name in self.documents:
            raise ElasticsearchError(
                400, "resource_already_exists_exception", f"index [{name}] already exists"
            )
        if name in self.aliases:
            raise ElasticsearchError(400, "invalid_index_name_exception", f"[{name}] already exists as alias")
        unknown = set(body) - {"settings", "mappings", "aliases"}
        if unknown:
            raise Unsupported(f"index creation with {sorted(unknown)}")
        self.documents[name] = {}
        self.mappings[name] = body.get("mappings") or {}
        self.settings[name] = body.get("settings") or {}
        for alias, options in (body.get("aliases") or {}).items():
            self.aliases.setdefault(alias, {})[name] = dict(options or {})


def _value(source: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        source = source.get(part) if isinstance(source, dict) else None
    return source


# --- analysis ----------------------------------------------------------------------------------------

_CJK_RUN = re.compile(f"{CJK_CHAR.pattern}+")
_WORD = re.compile(rf"{CJK_CHAR.pattern}+|[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


@lru_cache(maxsize=65536)
def analyse(analyser: str, text: str) -> tuple[str, ...]:
    """The terms Elasticsearch's built-in ``analyser`` would index for ``text`` (approximated, see above)."""
    if analyser == "english":
        cjk = [char for run in _CJK_RUN.findall(text) for char in run]
        return (*analyze(_CJK_RUN.sub(" ", text)), *cjk)
    if analyser == "cjk":
        terms: list[str] = []
        for word in _words(text):
            if CJK_CHAR.match(word):
                terms.extend([word] if len(word) == 1 else (word[i : i + 2] for i in range(len(word) - 1)))
            elif word not in ENGLISH_STOP_WORDS:
                terms.append(word)
        return tuple(terms)
    if analyser == "standard":
        return tuple(piece for word in _words(text) for piece in (word if CJK_CHAR.match(word) else [word]))
    raise Unsupported(f"analyzer [{analyser}]")


# --- one index's search --------------------------------------------------------------------------------


def _as_list(clauses: Any) -> list[dict[str, Any]]:
    if clauses is None:
        return []
    return clauses if isinstance(clauses, list) else [clauses]


def _single(spec: dict[str, Any], query: str) -> tuple[str, Any]:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ElasticsearchError(400, "parsing_exception", f"[{query}] query malformed, expected one field")
    return next(iter(spec.items()))


class IndexSearch:
    """Queries over one index's documents, typed by its mapping as Elasticsearch types them."""

    def __init__(
        self, documents: dict[str, dict[str, Any]], mapping: dict[str, Any], settings: dict[str, Any]
    ) -> None:
        self.documents = documents
        self.mapping = mapping
        self.settings = settings
        self._bm25_stats: dict[tuple[str, str], tuple[int, float, dict[str, int]]] = {}

    # Fields and their values ---------------------------------------------------------------------

    def _mapped(self, path: str) -> tuple[dict[str, Any] | None, str]:
        """(the field's mapping, where its value lives in ``_source``); a subfield reads its parent."""
        properties = self.mapping.get("properties", {})
        parts = path.split(".")
        for position, part in enumerate(parts):
            spec = properties.get(part)
            if spec is None:
                return None, path
            if position == len(parts) - 1:
                return spec, path
            if "properties" in spec:
                properties = spec["properties"]
            elif part == parts[-2] and parts[-1] in spec.get("fields", {}):
                return spec["fields"][parts[-1]], ".".join(parts[:-1])
            else:
                return None, path  # inside an object without properties (dynamic): typed by its values
        return None, path

    def field_type(self, path: str, sample: Any) -> str | None:
        """The type Elasticsearch gives ``path``: from the mapping, else from the dynamic templates for
        ``sample``'s JSON type; ``None`` when the field is not indexed (``dynamic: false``)."""
        spec, _ = self._mapped(path)
        if spec is not None:
            return spec.get("type", "object" if "properties" in spec else None)
        if self.mapping.get("dynamic") is False or self.mapping.get("dynamic") == "false":
            return None
        json_type = (
            "boolean"
            if isinstance(sample, bool)
            else "long"
            if isinstance(sample, int)
            else "double"
            if isinstance(sample, float)
            else "string"
        )
        for template in self.mapping.get("dynamic_templates", []):
            ((_, rule),) = template.items()
            if rule.get("match_mapping_type") in (json_type, "*"):
                return rule.get("mapping", {}).get("type")
        return {"boolean": "boolean", "long": "long", "double": "float", "string": "text"}[json_type]

    def values(self, source: dict[str, Any], path: str) -> list[Any]:
        _, source_path = self._mapped(path)
        value = _value(source, source_path)
        if value is None and source_path not in source and "." in path:
            value = source.get(path)  # a dotted key written literally
        raw = value if isinstance(value, list) else [value]
        return [item for item in raw if item is not None]

    # Filter context -----------------------------------------------------------------------------

    def matches(self, source: dict[str, Any], clause: dict[str, Any]) -> bool:
        return self.score(source, clause) is not None

    def _comparable(self, kind: str | None, value: Any, target: str) -> Any:
        if kind in ("long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"):
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ElasticsearchError(400, "query_shard_exception", f"[{target}] expects a number")
            return float(value)
        if kind == "date":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value) / 1000.0  # epoch milliseconds
            try:
                parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise Unsupported(f"date [{value}] for [{target}] in another format than ISO 8601") from None
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()  # naive means UTC
        if kind == "boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
        if kind in ("keyword", "constant_keyword"):  # a number or boolean is indexed as its text
            return json.dumps(value) if isinstance(value, bool) else str(value)
        raise Unsupported(f"term-level query on [{target}] of type [{kind}]")

    def _indexed(self, source: dict[str, Any], target: str) -> tuple[str | None, list[Any]]:
        """(the field's type, its values made comparable) as a term-level query sees them."""
        stored = self.values(source, target)
        kind = self.field_type(target, stored[0] if stored else "")
        if kind in ("text", "match_only_text"):
            raise Unsupported(
                f"term-level query on text field [{target}] (Elasticsearch compares analysed terms)"
            )
        if kind is None:
            return None, []  # not indexed (dynamic: false): matches nothing
        return kind, [self._comparable(kind, value, target) for value in stored]

    def _terms(self, source: dict[str, Any], target: str, wanted: list[Any]) -> bool:
        """``term``/``terms``: any stored value equals any wanted one (arrays match by any element)."""
        kind, have = self._indexed(source, target)
        return bool(have) and any(self._comparable(kind, item, target) in have for item in wanted)

    def _range(self, source: dict[str, Any], spec: dict[str, Any]) -> bool:
        target, bounds = _single(spec, "range")
        unknown = set(bounds) - {"gt", "gte", "lt", "lte"}
        if unknown:
            raise Unsupported(f"range options {sorted(unknown)}")
        kind, have = self._indexed(source, target)
        if not have:
            return False
        tests: dict[str, Callable[[Any, Any], bool]] = {
            "gt": lambda v, b: v > b,
            "gte": lambda v, b: v >= b,
            "lt": lambda v, b: v < b,
            "lte": lambda v, b: v <= b,
        }
        limits = {
            op: self._comparable(kind, bound, target) for op, bound in bounds.items() if bound is not None
        }
        try:
            return any(all(tests[op](value, bound) for op, bound in limits.items()) for value in have)
        except TypeError:
            raise Unsupported(f"range on [{target}] with values of mixed types") from None

    # Query context ------------------------------------------------------------------------------

    def score(self, source: dict[str, Any], clause: dict[str, Any]) -> float | None:
        """The clause's score for the document in query context, ``None`` when it does not match."""
        kind, spec = _single(clause, "query")
        if kind == "match_all":
            return 1.0
        if kind == "bool":
            return self._bool(source, spec)
        if kind == "term":
            target, wanted = _single(spec, "term")
            if isinstance(wanted, dict):
                if set(wanted) != {"value"}:
                    raise Unsupported(f"term options {sorted(wanted)}")
                wanted = wanted["value"]
            return 1.0 if self._terms(source, target, [wanted]) else None
        if kind == "terms":
            target, wanted = _single(spec, "terms")
            if not isinstance(wanted, list):
                raise Unsupported("terms lookup")
            return 1.0 if self._terms(source, target, wanted) else None
        if kind == "range":
            return 1.0 if self._range(source, spec) else None
        if kind == "exists":
            if set(spec) != {"field"}:
                raise ElasticsearchError(400, "parsing_exception", "[exists] takes one [field]")
            return 1.0 if self.values(source, spec["field"]) else None
        if kind == "multi_match":
            return self._multi_match(source, spec)
        raise Unsupported(f"query [{kind}]")

    def _bool(self, source: dict[str, Any], spec: dict[str, Any]) -> float | None:
        unknown = set(spec) - {"must", "filter", "should", "must_not"}
        if unknown:
            raise Unsupported(f"bool options {sorted(unknown)}")
        # Every clause is evaluated (no short cut), so a clause this server cannot answer is refused
        # whatever the documents; see :meth:`validate`.
        must = [self.score(source, clause) for clause in _as_list(spec.get("must"))]
        filters = [self.matches(source, clause) for clause in _as_list(spec.get("filter"))]
        must_not = [self.matches(source, clause) for clause in _as_list(spec.get("must_not"))]
        should = [self.score(source, clause) for clause in _as_list(spec.get("should"))]
        if None in must or not all(filters) or any(must_not):
            return None
        matched = [scored for scored in should if scored is not None]
        # Documented default: with no must or filter clause, at least one should clause must match.
        if should and not matched and not must and not filters:
            return None
        return sum(scored for scored in must if scored is not None) + sum(matched)

    def validate(self, query: dict[str, Any]) -> None:
        """Refuse a query this server cannot answer before looking at documents, even with none."""
        self.score({}, query)

    def _multi_match(self, source: dict[str, Any], spec: dict[str, Any]) -> float | None:
        unknown = set(spec) - {"query", "fields", "type", "operator", "fuzziness"}
        if unknown:
            raise Unsupported(f"multi_match options {sorted(unknown)}")
        if spec.get("type", "best_fields") != "most_fields":
            raise Unsupported(f"multi_match of type [{spec.get('type', 'best_fields')}]")
        if str(spec.get("operator", "OR")).upper() != "OR":
            raise Unsupported("multi_match with operator AND")
        if str(spec.get("fuzziness", "0")) != "0":
            raise Unsupported(f"fuzziness [{spec['fuzziness']}] (only exact terms, fuzziness 0)")
        fields = spec.get("fields") or _value(self.settings, "index.query.default_field")
        if isinstance(fields, str):
            fields = [fields]
        if not fields or "*" in fields:
            raise Unsupported("multi_match over every field (give fields or index.query.default_field)")
        total = 0.0
        matched = False
        for named in fields:
            name, _, boost = named.partition("^")
            scored = self._bm25(source, name, str(spec["query"]), float(boost or 1))
            if scored is not None:
                matched, total = True, total + scored
        return total if matched else None

    def _analyser(self, path: str) -> str:
        spec, _ = self._mapped(path)
        if spec is None or spec.get("type") not in ("text", "match_only_text"):
            raise Unsupported(f"full-text query on [{path}], which is not a mapped text field")
        return str(spec.get("search_analyzer") or spec.get("analyzer") or "standard")

    def _statistics(self, path: str, analyser: str) -> tuple[int, float, dict[str, int]]:
        """(documents with the field, their mean length in terms, documents per term) over the index."""
        key = (path, analyser)
        if key not in self._bm25_stats:
            count, length, frequencies = 0, 0, {}
            for document in self.documents.values():
                terms = self._field_terms(document, path, analyser)
                if terms is None:
                    continue
                count += 1
                length += len(terms)
                for term in set(terms):
                    frequencies[term] = frequencies.get(term, 0) + 1
            self._bm25_stats[key] = (count, length / count if count else 0.0, frequencies)
        return self._bm25_stats[key]

    def _field_terms(self, source: dict[str, Any], path: str, analyser: str) -> tuple[str, ...] | None:
        texts = [str(value) for value in self.values(source, path)]
        if not texts:
            return None
        return tuple(term for text in texts for term in analyse(analyser, text))

    def _bm25(self, source: dict[str, Any], path: str, query: str, boost: float) -> float | None:
        analyser = self._analyser(path)
        terms = self._field_terms(source, path, analyser)
        if not terms:
            return None
        count, mean_length, frequencies = self._statistics(path, analyser)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * len(terms) / mean_length)
        total, matched = 0.0, False
        for term in analyse(analyser, query):  # a repeated query term is one more clause, as in Lucene
            frequency = terms.count(term)
            if not frequency:
                continue
            having = frequencies[term]
            idf = math.log(1 + (count - having + 0.5) / (having + 0.5))
            total += boost * idf * frequency / (frequency + norm)
            matched = True
        return total if matched else None

    # kNN ----------------------------------------------------------------------------------------

    def knn(self, spec: dict[str, Any]) -> list[tuple[str, float]]:
        """The ``k`` nearest documents that pass the filter, best first, with Elasticsearch's scores."""
        unknown = set(spec) - {"field", "query_vector", "k", "num_candidates", "filter"}
        if unknown:
            raise Unsupported(f"knn options {sorted(unknown)}")
        target, vector = spec["field"], spec["query_vector"]
        mapped, _ = self._mapped(target)
        if not mapped or mapped.get("type") != "dense_vector":
            raise ElasticsearchError(
                400, "illegal_argument_exception", f"[knn] field [{target}] is not a dense_vector"
            )
        k = int(spec.get("k", 10))
        candidates = int(spec.get("num_candidates", min(max(1.5 * k, 10), 10_000)))
        if k < 1 or candidates < k or candidates > 10_000:
            raise ElasticsearchError(
                400, "illegal_argument_exception", "[num_candidates] must be >= [k] and <= 10000, [k] >= 1"
            )
        dims = mapped.get("dims")
        if dims is not None and len(vector) != dims:
            raise ElasticsearchError(
                400,
                "illegal_argument_exception",
                f"The query vector has a different number of dimensions [{len(vector)}] than the document "
                f"vectors [{dims}].",
            )
        similarity = mapped.get("similarity", "cosine")
        filters = _as_list(spec.get("filter"))
        for clause in filters:
            self.validate(clause)
        scored = []
        for doc_id, source in self.documents.items():
            stored = _value(source, target)
            if not stored or not all(self.matches(source, clause) for clause in filters):
                continue
            scored.append((doc_id, _similarity(similarity, vector, stored)))
        scored.sort(key=lambda hit: -hit[1])
        return scored[:k]


def _similarity(kind: str, query: list[float], stored: list[float]) -> float:
    """Elasticsearch's ``_score`` for a dense_vector similarity (always positive, higher is nearer)."""
    dot = sum(a * b for a, b in zip(query, stored, strict=True))
    if kind == "cosine":
        norms = math.sqrt(sum(a * a for a in query)) * math.sqrt(sum(b * b for b in stored))
        return (1 + (dot / norms if norms else 0.0)) / 2
    if kind == "dot_product":
        return (1 + dot) / 2
    if kind == "l2_norm":
        return 1 / (1 + sum((a - b) ** 2 for a, b in zip(query, stored, strict=True)))
    raise Unsupported(f"similarity [{kind}]")


def _sort_key(order: list[Any]) -> list[tuple[str, bool]]:
    keys = []
    for item in order:
        if isinstance(item, str):
            keys.append((item, item == "_score"))
            continue
        ((name, direction),) = item.items()
        if isinstance(direction, dict):
            unknown = set(direction) - {"order"}
            if unknown:
                raise Unsupported(f"sort options {sorted(unknown)}")
            direction = direction.get("order", "desc" if name == "_score" else "asc")
        keys.append((name, direction == "desc"))
    return keys


def _project(source: dict[str, Any], wanted: Any) -> dict[str, Any] | None:
    """``_source`` filtering: a list of includes, ``{"includes", "excludes"}``, or false."""
    if wanted is None or wanted is True:
        return source
    if wanted is False:
        return None
    includes, excludes = (
        (wanted, [])
        if isinstance(wanted, (list, str))
        else (
            wanted.get("includes", []),
            wanted.get("excludes", []),
        )
    )
    includes = [includes] if isinstance(includes, str) else includes
    kept = {
        key: value
        for key, value in source.items()
        if (not includes or any(fnmatch.fnmatchcase(key, pattern) for pattern in includes))
        and not any(fnmatch.fnmatchcase(key, pattern) for pattern in excludes)
    }
    return kept


def search(index: str, search_in: IndexSearch, body: dict[str, Any]) -> dict[str, Any]:
    """Elasticsearch's answer to ``POST /<index>/_search`` with ``body``."""
    unknown = set(body) - {"query", "knn", "size", "from", "sort", "_source", "aggs", "aggregations"}
    if unknown:
        raise Unsupported(f"search options {sorted(unknown)}")
    if "knn" in body and "query" in body:
        raise Unsupported("knn combined with query (hybrid search)")
    size, offset = int(body.get("size", 10)), int(body.get("from", 0))
    if size < 0 or offset < 0 or size + offset > 10_000:
        raise ElasticsearchError(
            400, "illegal_argument_exception", "Result window is too large (from + size)"
        )
    if "knn" in body:
        hits = search_in.knn(body["knn"])
    else:
        query = body.get("query") or {"match_all": {}}
        search_in.validate(query)
        hits = []
        for doc_id, source in search_in.documents.items():
            scored = search_in.score(source, query)
            if scored is not None:
                hits.append((doc_id, scored))
    sort = _sort_key(body.get("sort", []))
    if sort:
        for name, descending in reversed(sort):
            if name == "_score":
                hits.sort(key=lambda hit: hit[1], reverse=descending)
                continue
            present = [hit for hit in hits if _value(search_in.documents[hit[0]], name) is not None]
            missing = [hit for hit in hits if _value(search_in.documents[hit[0]], name) is None]
            present.sort(key=lambda hit: _value(search_in.documents[hit[0]], name), reverse=descending)
            hits = present + missing  # missing values last, whatever the direction
    else:
        hits.sort(key=lambda hit: -hit[1])  # stable: ties keep index order
    scores_kept = not sort or any(name == "_score" for name, _ in sort)
    aggregations = body.get("aggs") or body.get("aggregations")
    total = len(hits)
    answer: dict[str, Any] = {
        "took": 1,
        "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {
            "total": {
                "value": min(total, TRACK_TOTAL_HITS),
                "relation": "eq" if total <= TRACK_TOTAL_HITS else "gte",
            },
            "max_score": max((score for _, score in hits), default=None) if scores_kept else None,
            "hits": [
                {
                    "_index": index,
                    "_id": doc_id,
                    "_score": score if scores_kept else None,
                    **(
                        {"_source": projected}
                        if (projected := _project(search_in.documents[doc_id], body.get("_source")))
                        is not None
                        else {}
                    ),
                    **(
                        {"sort": [_value(search_in.documents[doc_id], name) for name, _ in sort]}
                        if sort
                        else {}
                    ),
                }
                for doc_id, score in hits[offset : offset + size]
            ],
        },
    }
    if aggregations:
        answer["aggregations"] = composite_aggregation(
            index, [search_in.documents[h[0]] for h in hits], hits, aggregations
        )
    return answer


def composite_aggregation(
    index: str, documents: list[dict[str, Any]], hits: list[tuple[str, float]], aggregations: dict[str, Any]
) -> dict[str, Any]:
    """A one-field ``composite`` aggregation (terms source) with a ``top_hits`` sub-aggregation, paged by
    ``after``; the only aggregation Needle sends (listing sources)."""
    if len(aggregations) != 1:
        raise Unsupported("several aggregations")
    ((name, aggregation),) = aggregations.items()
    if set(aggregation) - {"composite", "aggs", "aggregations"} or "composite" not in aggregation:
        raise Unsupported(f"aggregation {sorted(aggregation)}")
    composite = aggregation["composite"]
    if len(composite["sources"]) != 1:
        raise Unsupported("composite aggregation over several sources")
    ((key_name, key_source),) = composite["sources"][0].items()
    if set(key_source) != {"terms"} or set(key_source["terms"]) != {"field"}:
        raise Unsupported(f"composite source {key_source}")
    field_name = key_source["terms"]["field"]
    after = (composite.get("after") or {}).get(key_name)
    subaggregations = aggregation.get("aggs") or aggregation.get("aggregations") or {}
    top_hits = {sub: spec["top_hits"] for sub, spec in subaggregations.items() if set(spec) == {"top_hits"}}
    if len(top_hits) != len(subaggregations):
        raise Unsupported(f"sub-aggregations {subaggregations}")
    groups: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
    for (doc_id, _), document in zip(hits, documents, strict=True):
        value = _value(document, field_name)
        for key in value if isinstance(value, list) else [value]:
            if key is not None:  # documents without the field are in no bucket (missing_bucket false)
                groups.setdefault(key, []).append((doc_id, document))
    keys = sorted(key for key in groups if after is None or key > after)[: composite.get("size", 10)]
    buckets = []
    for key in keys:
        bucket: dict[str, Any] = {"key": {key_name: key}, "doc_count": len(groups[key])}
        for sub, spec in top_hits.items():
            members = groups[key][: spec.get("size", 3)]
            bucket[sub] = {
                "hits": {
                    "total": {"value": len(groups[key]), "relation": "eq"},
                    "max_score": 1.0,
                    "hits": [
                        {
                            "_index": index,
                            "_id": doc_id,
                            "_score": 1.0,
                            "_source": _project(doc, spec.get("_source")),
                        }
                        for doc_id, doc in members
                    ],
                }
            }
        buckets.append(bucket)
    result: dict[str, Any] = {"buckets": buckets}
    if keys:
        result["after_key"] = {key_name: keys[-1]}
    return {name: result}


# --- the HTTP server -----------------------------------------------------------------------------------


class _Request:
    """One request against the state; methods raise :class:`ElasticsearchError` to answer with an error."""

    def __init__(
        self, state: FakeElasticsearchState, method: str, parts: list[str], params: dict[str, str]
    ) -> None:
        self.state, self.method, self.parts, self.params = state, method, parts, params

    def searcher(self, index: str) -> IndexSearch:
        return IndexSearch(
            self.state.documents[index], self.state.mappings[index], self.state.settings[index]
        )

    def writable(self, name: str) -> str:
        """The index a write to ``name`` goes to, created on first write as Elasticsearch does."""
        if not self.state.exists(name):
            self.state.create_index(name, {})
        return self.state.resolve(name, write=True)

    def answer(self, body: Any) -> tuple[int, Any]:
        parts, method, state = self.parts, self.method, self.state
        if parts == [""]:
            return 200, {**INFO, "version": {**INFO["version"], "number": state.version}}
        if parts[0] in ("_license", "_cluster", "_cat"):
            return self.cluster(parts)
        if len(parts) == 2 and parts[1] == "_mapping" and method == "GET":
            index = state.resolve(parts[0])
            return 200, {index: {"mappings": state.mappings[index]}}
        if parts[0] == "_alias" and len(parts) == 2:
            return self.alias(parts[1])
        if parts == ["_aliases"] and method == "POST":
            return self.update_aliases(body["actions"])
        if parts == ["_bulk"] or (len(parts) == 2 and parts[1] == "_bulk"):
            return self.bulk(body, parts[0] if len(parts) == 2 else None)
        name = parts[0]
        if len(parts) == 1:
            if method == "HEAD":
                return (200 if state.exists(name) else 404), {}
            if method == "PUT":
                state.create_index(name, body or {})
                return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
            if method == "DELETE":
                return self.delete_index(name)
        elif parts[1] in ("_doc", "_create"):
            return self.document(method, name, parts[1], parts[2] if len(parts) == 3 else None, body)
        elif parts[1] == "_update" and len(parts) == 3 and method == "POST":
            return self.update(name, parts[2], body or {})
        elif len(parts) == 2 and parts[1] == "_refresh":
            state.resolve(name)
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        elif len(parts) == 2 and parts[1] in ("_search", "_count", "_delete_by_query", "_update_by_query"):
            index = state.resolve(name)
            return self.by_query(index, parts[1], body or {})
        raise Unsupported(f"{method} /{'/'.join(parts)}")

    def cluster(self, parts: list[str]) -> tuple[int, Any]:
        """What ``needle doctor`` reads: licence, health, settings, disk allocation, the indices."""
        state = self.state
        if parts == ["_license"]:
            return 200, {
                "license": {
                    "status": "active",
                    "uid": "fake-licence",
                    "type": state.licence,
                    "issue_date": "2025-01-01T00:00:00.000Z",
                    "issue_date_in_millis": 1735689600000,
                    "max_nodes": 1000,
                    "issued_to": "needle-test",
                    "issuer": "elasticsearch",
                    "start_date_in_millis": -1,
                }
            }
        if parts == ["_cluster", "health"]:
            state.take_in_seeds()
            shards = len(state.documents)
            return 200, {
                "cluster_name": INFO["cluster_name"],
                "status": "green",
                "timed_out": False,
                "number_of_nodes": 1,
                "number_of_data_nodes": 1,
                "active_primary_shards": shards,
                "active_shards": shards,
                "relocating_shards": 0,
                "initializing_shards": 0,
                "unassigned_shards": 0,
                "unassigned_primary_shards": 0,
                "delayed_unassigned_shards": 0,
                "number_of_pending_tasks": 0,
                "number_of_in_flight_fetch": 0,
                "task_max_waiting_in_queue_millis": 0,
                "active_shards_percent_as_number": 100.0,
            }
        if parts == ["_cluster", "settings"]:
            defaults = {"cluster.routing.allocation.disk.watermark.high": "90%"}
            return 200, {"persistent": {}, "transient": {}, "defaults": defaults}
        if parts == ["_cat", "allocation"]:
            return 200, [
                {
                    "shards": str(len(state.documents)),
                    "disk.percent": str(state.disk_percent),
                    "host": "127.0.0.1",
                    "ip": "127.0.0.1",
                    "node": "fake",
                }
            ]
        if parts[:2] == ["_cat", "indices"] and len(parts) == 3:
            state.take_in_seeds()
            return 200, [
                {"health": "green", "status": "open", "index": name, "docs.count": str(len(docs))}
                for name, docs in state.documents.items()
                if fnmatch.fnmatchcase(name, parts[2])
            ]
        raise Unsupported("/".join(parts))

    def alias(self, name: str) -> tuple[int, dict[str, Any]]:
        targets = self.state.aliases.get(name)
        if not targets:
            return 404, {"error": f"alias [{name}] missing", "status": 404}
        return 200, {index: {"aliases": {name: options}} for index, options in targets.items()}

    def update_aliases(self, actions: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """All actions or none (Elasticsearch applies ``_aliases`` atomically)."""
        aliases = {alias: dict(targets) for alias, targets in self.state.aliases.items()}
        for action in actions:
            ((kind, spec),) = action.items()
            index, alias = spec.get("index"), spec.get("alias")
            if (
                kind not in ("add", "remove")
                or not index
                or not alias
                or set(spec) - {"index", "alias", "is_write_index"}
            ):
                raise Unsupported(f"alias action {action}")
            self.state.take_in_seeds()
            if index not in self.state.documents:
                raise ElasticsearchError(404, "index_not_found_exception", f"no such index [{index}]")
            if kind == "add":
                aliases.setdefault(alias, {})[index] = {
                    k: v for k, v in spec.items() if k == "is_write_index"
                }
            elif index in aliases.get(alias, {}):
                del aliases[alias][index]
                if not aliases[alias]:
                    del aliases[alias]
            else:
                raise ElasticsearchError(404, "aliases_not_found_exception", f"aliases [{alias}] missing")
        self.state.aliases = aliases
        return 200, {"acknowledged": True}

    def delete_index(self, name: str) -> tuple[int, dict[str, Any]]:
        self.state.take_in_seeds()
        if name in self.state.aliases:
            raise ElasticsearchError(
                400,
                "illegal_argument_exception",
                f"The provided expression [{name}] matches an alias, specify the corresponding concrete "
                "indices instead.",
            )
        doomed = [index for index in self.state.documents if fnmatch.fnmatchcase(index, name)]
        if not doomed and "*" not in name and self.params.get("ignore_unavailable") != "true":
            raise ElasticsearchError(404, "index_not_found_exception", f"no such index [{name}]")
        for index in doomed:
            for store in (self.state.documents, self.state.mappings, self.state.settings):
                store.pop(index, None)
            for alias in list(self.state.aliases):
                self.state.aliases[alias].pop(index, None)
                if not self.state.aliases[alias]:
                    del self.state.aliases[alias]
        return 200, {"acknowledged": True}

    def document(
        self, method: str, name: str, endpoint: str, doc_id: str | None, body: Any
    ) -> tuple[int, dict[str, Any]]:
        """``/<index>/_doc[/<id>]`` and ``/<index>/_create/<id>``: write, read or delete one document."""
        if method in ("PUT", "POST"):
            index = self.writable(name)
            documents = self.state.documents[index]
            doc_id = doc_id or uuid.uuid4().hex[:20]
            created = endpoint == "_create" or self.params.get("op_type") == "create"
            if created and doc_id in documents:
                raise ElasticsearchError(
                    409,
                    "version_conflict_engine_exception",
                    f"[{doc_id}]: version conflict, document already exists",
                )
            result = "updated" if doc_id in documents else "created"
            documents.pop(doc_id, None)  # a new version is a new Lucene document, at the end
            documents[doc_id] = body or {}
            return (201 if result == "created" else 200), self.written(index, doc_id, result)
        if endpoint != "_doc" or doc_id is None:
            raise Unsupported(f"{method} {endpoint}")
        index = self.state.resolve(name)
        documents = self.state.documents[index]
        if method == "GET":
            if doc_id in documents:
                return 200, {"_index": index, "_id": doc_id, "found": True, "_source": documents[doc_id]}
            return 404, {"_index": index, "_id": doc_id, "found": False}
        if method == "DELETE":
            found = documents.pop(doc_id, None) is not None
            return (200 if found else 404), self.written(index, doc_id, "deleted" if found else "not_found")
        raise Unsupported(f"{method} /_doc")

    def update(self, name: str, doc_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``POST /<index>/_update/<id>`` with a partial ``doc``: objects are merged key by key (a
        non-object value, ``null`` included, replaces), ``noop`` when nothing changes."""
        if set(body) != {"doc"} or not isinstance(body["doc"], dict):
            raise Unsupported(f"_update with {sorted(body)} (only a partial doc)")
        index = self.state.resolve(name, write=True)
        documents = self.state.documents[index]
        if doc_id not in documents:
            raise ElasticsearchError(404, "document_missing_exception", f"[{doc_id}]: document missing")
        merged = _merge(documents[doc_id], body["doc"])
        result = "noop" if merged == documents[doc_id] else "updated"
        if result == "updated":
            documents.pop(doc_id)  # a new version is a new Lucene document, at the end
            documents[doc_id] = merged
        return 200, self.written(index, doc_id, result)

    def written(self, index: str, doc_id: str, result: str) -> dict[str, Any]:
        """A write's reply as Elasticsearch gives it: the document's new version and sequence number."""
        state = self.state
        if result != "noop":
            state.versions[(index, doc_id)] = state.versions.get((index, doc_id), 0) + 1
            state.sequence += 1
        return {
            "_index": index,
            "_id": doc_id,
            "_version": state.versions.get((index, doc_id), 1),
            "result": result,
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": state.sequence,
            "_primary_term": 1,
        }

    def by_query(self, index: str, endpoint: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        searcher = self.searcher(index)
        if endpoint == "_search":
            return 200, search(index, searcher, body)
        unknown = set(body) - ({"query"} if endpoint != "_update_by_query" else {"query", "script"})
        if unknown:
            raise Unsupported(f"{endpoint} options {sorted(unknown)}")
        query = body.get("query") or {"match_all": {}}
        searcher.validate(query)
        selected = [
            doc_id for doc_id, source in searcher.documents.items() if searcher.matches(source, query)
        ]
        if endpoint == "_count":
            return 200, {"count": len(selected), "_shards": {"total": 1, "successful": 1, "failed": 0}}
        if endpoint == "_delete_by_query":
            for doc_id in selected:
                del searcher.documents[doc_id]
            return 200, {
                "took": 1,
                "timed_out": False,
                "total": len(selected),
                "deleted": len(selected),
                "failures": [],
            }
        script = body.get("script") or {}
        if (
            re.sub(r"\s+", "", str(script.get("source", ""))) != HAYSTACK_UPDATE_SCRIPT
            or script.get("lang", "painless") != "painless"
        ):
            raise Unsupported("an update script other than Haystack's update_by_filter script")
        for doc_id in selected:
            searcher.documents[doc_id].update(script.get("params") or {})
        return 200, {
            "took": 1,
            "timed_out": False,
            "total": len(selected),
            "updated": len(selected),
            "failures": [],
        }

    def bulk(self, lines: Any, default_index: str | None) -> tuple[int, dict[str, Any]]:
        if not isinstance(lines, list):
            raise ElasticsearchError(
                400, "illegal_argument_exception", "The bulk request must be newline terminated"
            )
        items: list[dict[str, Any]] = []
        position = 0
        while position < len(lines):
            ((action, meta),) = lines[position].items()
            position += 1
            if action not in ("index", "create", "delete") or set(meta) - {"_index", "_id"}:
                raise Unsupported(f"bulk action {action} {sorted(meta)}")
            name = meta.get("_index") or default_index
            if not name:
                raise ElasticsearchError(400, "action_request_validation_exception", "index is missing")
            source = None
            if action != "delete":
                source, position = lines[position], position + 1
            item: dict[str, Any]
            try:
                if action == "delete":
                    index = self.state.resolve(name, write=True)
                    status, reply = self.document("DELETE", index, "_doc", meta["_id"], None)
                else:
                    endpoint = "_create" if action == "create" else "_doc"
                    status, reply = self.document("PUT", name, endpoint, meta.get("_id"), source)
                item = {**reply, "status": status}
            except ElasticsearchError as error:
                item = {
                    "_index": name,
                    "_id": meta.get("_id"),
                    "status": error.status,
                    "error": error.payload()["error"],
                }
            items.append({action: item})
        errors = any(
            item[next(iter(item))]["status"] >= 300 and next(iter(item)) != "delete" for item in items
        )
        return 200, {"took": 1, "errors": errors, "items": items}


def _merge(source: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    """Elasticsearch's merge of a partial document into ``source`` (a new dict; ``source`` is kept)."""
    merged = dict(source)
    for key, value in partial.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _handler(state: FakeElasticsearchState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, payload: Any) -> None:
            data = b"" if self.command == "HEAD" else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            params = {key: values[-1] for key, values in parse_qs(query).items()}
            try:
                if "ndjson" in (self.headers.get("Content-Type") or ""):
                    body: Any = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
                else:
                    body = json.loads(raw) if raw else None
            except ValueError as error:
                self._reply(400, ElasticsearchError(400, "parse_exception", str(error)).payload())
                return
            state.requests.append((self.command, path, body))
            try:
                operation, problems = _specification().check_request(
                    self.command, unquote(path) or "/", parse_qs(query, keep_blank_values=True), body
                )
            except Exception as error:  # the check must not take the server down with it
                operation, problems = None, [f"{self.command} {path}: the check failed: {error!r}"]
            parts = [unquote(part) for part in path.strip("/").split("/")]
            try:
                with state.lock:
                    status, payload = _Request(state, self.command, parts, params).answer(body)
            except ElasticsearchError as error:
                status, payload = error.status, error.payload()
            except (KeyError, TypeError, ValueError, AttributeError) as error:  # a malformed request
                status, payload = 400, ElasticsearchError(400, "parsing_exception", repr(error)).payload()
            if status >= 400:
                state.errors.append((self.command, path, payload))
            if operation is not None:
                state.operations.append(f"{operation.method} {operation.template}")
                try:
                    problems += _specification().check_reply(operation, status, payload)
                except Exception as error:
                    problems.append(f"reply to {self.command} {path}: the check failed: {error!r}")
            state.spec_problems += problems
            self._reply(status, payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    return Handler


@lru_cache(maxsize=1)
def _specification() -> Specification:
    return Specification()


@contextmanager
def fake_elasticsearch(check_spec: bool = True) -> Iterator[tuple[str, FakeElasticsearchState]]:
    """``(base_url, state)`` of a server on a free loopback port, for the length of the block.

    On leaving the block, every request Needle sent and every reply given must have fitted Elastic's API
    specification (``check_spec=False`` only for a test that sends off-specification requests itself)."""
    state = FakeElasticsearchState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
    if check_spec and state.spec_problems:
        shown = "\n".join(dict.fromkeys(state.spec_problems))
        raise AssertionError(f"requests or replies outside Elastic's API specification:\n{shown}")
