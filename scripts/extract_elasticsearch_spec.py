"""Cut the part of Elastic's OpenAPI specification that Needle's requests use, for the tests to check against.

Elastic publishes its REST API as a specification (github.com/elastic/elasticsearch-specification, Apache
2.0). Its OpenAPI file is generated from the TypeScript definitions with the repository's own compiler:

    git clone https://github.com/elastic/elasticsearch-specification spec && cd spec/compiler && npm install
    npm run generate-schema -- --spec ../specification/ --output ../output/
    npm run transform-to-openapi -- --schema ../output/schema/schema.json --flavor stack \
        --output ../output/openapi/elasticsearch-openapi.json

(The compiler insists on the Node.js major version in ``.nvmrc``; with another Node.js, write that major
version into ``.nvmrc`` first. Nothing else changes.) This script keeps the operations in
:data:`OPERATIONS` and every component they reference, without descriptions and examples, so the file in
``tests/data/elasticsearch/`` stays small and a reviewer can see what Needle relies on.

The OpenAPI form drops four things the specification itself (``schema.json``, the compiled TypeScript)
says about the JSON Elasticsearch accepts; :func:`amend` puts them back, from ``schema.json``, and the
file lists each amended schema under ``info.x-needle.amendments``:

* ``@shortcut_property``: ``{"term": {"status": "queued"}}`` for ``{"term": {"status": {"value": ...}}}``;
* ``AdditionalProperty`` behaviours: a sort on a field is ``{"<field>": {...}}`` beside ``_score``;
* container properties of a ``container`` variant (a dynamic template's ``match_mapping_type`` beside its
  one ``mapping``), which the OpenAPI form counts against "exactly one property";
* enums that evolved from booleans (``@es_quirk``: ``dynamic`` takes ``true``/``false`` as booleans);
* property aliases (``aggs`` for ``aggregations``);
* user-defined values (a script's ``params``, a document), which the OpenAPI form writes as
  ``{"type": "object"}`` although any JSON value is accepted;
* the query parameters every endpoint takes (``filter_path``, ``pretty``...) and every ``_cat`` endpoint
  takes (``format``, ``bytes``...), which the specification attaches as behaviours.

    python scripts/extract_elasticsearch_spec.py OPENAPI.json SCHEMA.json COMMIT \
        tests/data/elasticsearch/openapi-needle.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: Every (method, path template) Needle's stores, records, traces, re-index and doctor send. A request to
#: anything else fails the tests (tests/support/elasticsearch_spec.py).
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("get", "/"),
    ("head", "/{index}"),
    ("put", "/{index}"),
    ("delete", "/{index}"),
    ("head", "/_alias/{name}"),
    ("get", "/_alias/{name}"),
    ("post", "/_aliases"),
    ("put", "/{index}/_bulk"),
    ("put", "/{index}/_doc/{id}"),
    ("get", "/{index}/_doc/{id}"),
    ("delete", "/{index}/_doc/{id}"),
    ("put", "/{index}/_create/{id}"),
    ("post", "/{index}/_update/{id}"),
    ("post", "/{index}/_search"),
    ("post", "/{index}/_count"),
    ("post", "/{index}/_delete_by_query"),
    ("post", "/{index}/_update_by_query"),
    ("post", "/{index}/_refresh"),
    # needle doctor
    ("get", "/_license"),
    ("get", "/_cluster/health"),
    ("get", "/_cluster/settings"),
    ("get", "/{index}/_mapping"),
    ("get", "/_cat/allocation"),
    ("get", "/_cat/indices/{index}"),
)
#: Keys that only document; dropped from the copy.
PROSE = {"description", "summary", "examples", "externalDocs", "x-codeSamples", "x-state", "tags"}


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _plain(value)
            for key, value in node.items()
            if key not in PROSE and not (key.startswith("x-") and key != "x-needle")
        }
    if isinstance(node, list):
        return [_plain(value) for value in node]
    return node


def _name(reference: dict[str, Any]) -> str:
    return f"{reference['namespace']}.{reference['name']}"


def _own_parts(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [schema, *[part for part in schema.get("allOf", []) if "$ref" not in part]]


def _free_objects_to_any(node: Any) -> bool:
    """Replace each bare ``{"type": "object"}`` under ``node`` with ``{}``; whether there was one."""
    found = False
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if value == {"type": "object"}:
            node[key] = {}
            found = True
        elif isinstance(value, dict | list):
            found = _free_objects_to_any(value) or found
    return found


def _parameter_schema(kind: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    builtin = {"string": {"type": "string"}, "boolean": {"type": "boolean"}, "integer": {"type": "integer"}}
    if kind.get("kind") == "instance_of":
        name = kind["type"]["name"]
        if kind["type"]["namespace"] == "_builtins" and name in builtin:
            return builtin[name]
        if _name(kind["type"]) in schemas:
            return {"$ref": f"#/components/schemas/{_name(kind['type'])}"}
    return {}


def _add_common_parameters(
    spec: dict[str, Any], compiled: dict[str, Any], done: dict[str, list[str]]
) -> None:
    """The query parameters of the behaviours an endpoint's request attaches, as OpenAPI parameters."""
    schemas = spec["components"]["schemas"]
    types = {_name(kind["name"]): kind for kind in compiled["types"]}
    for endpoint in compiled["endpoints"]:
        request = types.get(_name(endpoint["request"])) if endpoint.get("request") else None
        behaviours = (request or {}).get("attachedBehaviors", [])
        common = [
            prop
            for behaviour in behaviours
            if behaviour.startswith("Common")
            for prop in types[f"_spec_utils.{behaviour}"]["properties"]
        ]
        for url in endpoint.get("urls", []):
            for method in url["methods"]:
                operation = spec["paths"].get(url["path"], {}).get(method.lower())
                if operation is None:
                    continue
                operation.setdefault("parameters", []).extend(
                    {"in": "query", "name": prop["name"], "schema": _parameter_schema(prop["type"], schemas)}
                    for prop in common
                )
                if common:
                    done["common parameters"].append(f"{method} {url['path']}")


def amend(spec: dict[str, Any], compiled: dict[str, Any]) -> dict[str, list[str]]:
    """Put back into ``spec``'s schemas what ``compiled`` (schema.json) says and OpenAPI dropped."""
    schemas = spec["components"]["schemas"]
    done: dict[str, list[str]] = {
        "shortcut": [],
        "additional property": [],
        "container": [],
        "boolean": [],
        "alias": [],
        "user-defined value": [],
    }
    done["common parameters"] = []
    for name, schema in schemas.items():
        if _free_objects_to_any(schema):
            done["user-defined value"].append(name)
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if _free_objects_to_any(operation):
                done["user-defined value"].append(f"{method.upper()} {path}")
    _add_common_parameters(spec, compiled, done)
    for kind in compiled["types"]:
        name = _name(kind["name"])
        schema = schemas.get(name)
        if schema is None:
            continue
        if kind.get("kind") == "enum" and "boolean" in kind.get("esQuirk", ""):
            schemas[name] = {"anyOf": [schema, {"type": "boolean"}]}
            done["boolean"].append(name)
            continue
        for behaviour in kind.get("behaviors", []):
            if behaviour["type"]["name"] in ("AdditionalProperty", "AdditionalProperties"):
                value = behaviour["generics"][1]
                # A user-defined value (other index settings), or a type the OpenAPI form never names
                # (a sort's FieldSort), is left unchecked.
                known = value.get("kind") == "instance_of" and _name(value["type"]) in schemas
                target = {"$ref": f"#/components/schemas/{_name(value['type'])}"} if known else {}
                part = next((p for p in _own_parts(schema) if "properties" in p), schema)
                if "additionalProperties" not in part:
                    part["additionalProperties"] = target
                    done["additional property"].append(name)
        container = [p["name"] for p in kind.get("properties", []) if p.get("containerProperty")]
        if kind.get("variants", {}).get("kind") == "container" and container:
            for part in _own_parts(schema):
                if part.get("maxProperties") == 1 and not set(part.get("properties", {})) & set(container):
                    part.pop("minProperties", None)
                    part.pop("maxProperties", None)
                    done["container"].append(name)
        for prop in kind.get("properties", []):
            for alias in prop.get("aliases", []):
                part = next((p for p in _own_parts(schema) if prop["name"] in p.get("properties", {})), None)
                if part is not None:
                    part["properties"][alias] = part["properties"][prop["name"]]
                    done["alias"].append(name)
        shortcut = kind.get("shortcutProperty")
        if shortcut:
            holders = [p for p in _own_parts(schema) if shortcut in p.get("properties", {})]
            value = holders[0]["properties"][shortcut] if holders else None
            if value is not None:
                schemas[name] = {"anyOf": [schema, value]}
                done["shortcut"].append(name)
    bodies = spec["components"].get("requestBodies", {})
    types = {_name(kind["name"]): kind for kind in compiled["types"]}
    for endpoint in compiled["endpoints"]:
        request = types.get(_name(endpoint["request"])) if endpoint.get("request") else None
        body = bodies.get(endpoint["name"], {}).get("content", {}).get("application/json", {})
        properties = body.get("schema", {}).get("properties")
        if request is None or properties is None or request["body"]["kind"] != "properties":
            continue
        for prop in request["body"]["properties"]:
            for alias in prop.get("aliases", []):
                if prop["name"] in properties:
                    properties[alias] = properties[prop["name"]]
                    done["alias"].append(f"request body {endpoint['name']}")
    return done


def cut(spec: dict[str, Any], commit: str, amendments: dict[str, list[str]]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method]
        paths.setdefault(path, {})[method] = operation
    components: dict[str, dict[str, Any]] = {}
    pending: set[str] = set()
    _refs(paths, pending)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = spec["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        _refs(target, pending)
    return {
        "openapi": spec["openapi"],
        "info": {
            "title": spec["info"]["title"],
            "version": spec["info"].get("version", ""),
            "x-needle": {
                "source": "https://github.com/elastic/elasticsearch-specification",
                "commit": commit,
                "licence": "Apache-2.0 (Elasticsearch B.V.)",
                "cut by": "scripts/extract_elasticsearch_spec.py",
                "amendments": {
                    kind: sorted(
                        {
                            name
                            for name in names
                            if name in components.get("schemas", {})
                            or name.removeprefix("request body ") in components.get("requestBodies", {})
                            or tuple(name.lower().split(" ", 1)) in OPERATIONS
                        }
                    )
                    for kind, names in amendments.items()
                },
            },
        },
        "paths": _plain(paths),
        "components": _plain({kind: dict(sorted(items.items())) for kind, items in components.items()}),
    }


def main() -> None:
    source, compiled, commit, target = sys.argv[1:5]
    spec = json.loads(Path(source).read_text())
    amendments = amend(spec, json.loads(Path(compiled).read_text()))
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(json.dumps(cut(spec, commit, amendments), indent=1) + "\n")


if __name__ == "__main__":
    main()
