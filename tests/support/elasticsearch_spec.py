"""Every request Needle sends to Elasticsearch, and every reply the test server gives, checked against
Elastic's own API specification.

The local Elasticsearch server (:mod:`tests.support.fake_elasticsearch`) is Needle's own stand-in, so a
request it accepts could still be one a real cluster refuses. The specification's OpenAPI form
(``tests/data/elasticsearch/openapi-needle.json``, cut by ``scripts/extract_elasticsearch_spec.py`` from
elastic/elasticsearch-specification; the commit and licence are in its ``info``) says what each endpoint
takes. A request is checked for:

* its endpoint: the method and path must be one of the operations in the file, so a request to an
  endpoint Needle was not known to use fails the tests (add it to the script's list, with a test);
* its query parameters: each must be one the operation declares, with a value its schema accepts;
* its body: valid under the operation's request schema (the ``_bulk`` body line by line: each action is an
  ``OperationContainer``, each update an ``UpdateAction``), and with no key the specification does not
  name. Elasticsearch refuses unknown keys in queries, mappings and settings ("unknown field"), while the
  specification's schemas leave objects open, so the check closes them itself (:class:`Closed`).

A reply with status 2xx is checked against the operation's response schema the same way, so the client
code is tested against the shapes a real cluster sends.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "elasticsearch" / "openapi-needle.json"
_URI = "urn:needle:elasticsearch-openapi"


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's ``null`` type; ``oneOf`` read as ``anyOf``: the
    generated specification lists overlapping alternatives (an object, or any object) that real
    Elasticsearch accepts either way, so "exactly one" would refuse valid requests."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _openapi_to_jsonschema(value) for key, value in node.items()}
    if "oneOf" in converted:
        converted["anyOf"] = converted.pop("oneOf")
    if converted.pop("nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # A path parameter never starts with "_": Elasticsearch's index and alias names cannot.
        parts = [
            "[^/_][^/]*" if part.startswith("{") else re.escape(part)
            for part in self.template.strip("/").split("/")
        ]
        return re.compile("^/" + "/".join(parts) + "$")

    @property
    def literals(self) -> int:
        return sum(not part.startswith("{") for part in self.template.split("/"))


class Specification:
    """The operations of the specification file, and the checks of one request and its reply."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        document = json.loads(path.read_text())
        self.info = document["info"]
        self.document = _openapi_to_jsonschema(document)
        self.registry: Registry = Registry().with_resource(
            _URI, Resource.from_contents(self.document, default_specification=DRAFT4)
        )
        self.operations = sorted(
            (
                Operation(method.upper(), template, operation)
                for template, methods in self.document["paths"].items()
                for method, operation in methods.items()
            ),
            key=lambda operation: -operation.literals,
        )

    # --- references ------------------------------------------------------------------------------------

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            _, _, pointer = node["$ref"].partition("#/")
            target: Any = self.document
            for part in pointer.split("/"):
                target = target[part]
            node = target
        return node

    def validator(self, schema: dict[str, Any]) -> Draft4Validator:
        return Draft4Validator(self._anchored(schema), registry=self.registry)

    def _anchored(self, schema: Any) -> Any:
        """``schema`` with its ``#/...`` references made absolute, so it validates outside the file."""
        if isinstance(schema, list):
            return [self._anchored(item) for item in schema]
        if not isinstance(schema, dict):
            return schema
        return {
            key: (_URI + value if key == "$ref" and value.startswith("#") else self._anchored(value))
            for key, value in schema.items()
        }

    # --- requests -------------------------------------------------------------------------------------

    def operation(self, method: str, path: str) -> Operation | None:
        for operation in self.operations:
            if operation.method == method and operation.pattern.match(path):
                return operation
        return None

    def check_request(
        self, method: str, path: str, params: dict[str, list[str]], body: Any
    ) -> tuple[Operation | None, list[str]]:
        """The operation ``method path`` is, and what in the request the specification does not allow."""
        operation = self.operation(method, path)
        where = f"{method} {path}"
        if operation is None:
            return None, [f"{where}: no such operation in the specification file"]
        problems: list[str] = []
        declared = {
            parameter["name"]: parameter
            for parameter in (self.resolve(p) for p in operation.spec.get("parameters", []))
            if parameter["in"] == "query"
        }
        for name, values in params.items():
            parameter = declared.get(name)
            if parameter is None:
                problems.append(f"{where}: query parameter {name!r} is not one the operation takes")
                continue
            for value in values:
                if not self._query_value_fits(parameter["schema"], value):
                    problems.append(f"{where}: query parameter {name}={value!r} does not fit its schema")
        problems += [f"{where}: {p}" for p in self._check_body(operation, body)]
        return operation, problems

    def _query_value_fits(self, schema: dict[str, Any], value: str) -> bool:
        validator = self.validator(schema)
        if validator.is_valid(value):
            return True
        try:
            return validator.is_valid(json.loads(value))
        except ValueError:
            return validator.is_valid(value.split(","))

    def _check_body(self, operation: Operation, body: Any) -> list[str]:
        request = operation.spec.get("requestBody")
        if request is None:
            return [] if body is None else ["a body, where the operation takes none"]
        request = self.resolve(request)
        if body is None:
            return ["no body, where the operation requires one"] if request.get("required") else []
        schema = request["content"]["application/json"]["schema"]
        if operation.template.endswith("_bulk"):
            return self._check_bulk(body)
        return self.problems(schema, body)

    def _check_bulk(self, lines: Any) -> list[str]:
        if not isinstance(lines, list) or not lines:
            return ["the bulk body is not newline-delimited JSON lines"]
        container = {"$ref": "#/components/schemas/_global.bulk.OperationContainer"}
        update = {"$ref": "#/components/schemas/_global.bulk.UpdateAction"}
        problems: list[str] = []
        position = 0
        while position < len(lines):
            action = lines[position]
            found = self.problems(container, action)
            problems += [f"bulk line {position + 1}: {p}" for p in found]
            if found or not isinstance(action, dict):
                break
            (kind,) = action
            if kind == "delete":
                position += 1
                continue
            if position + 1 >= len(lines):
                problems.append(f"bulk line {position + 1}: {kind} without its document line")
                break
            if kind == "update":
                found = self.problems(update, lines[position + 1])
                problems += [f"bulk line {position + 2}: {p}" for p in found]
            elif not isinstance(lines[position + 1], dict):
                problems.append(f"bulk line {position + 2}: the document is not an object")
            position += 2
        return problems

    def check_reply(self, operation: Operation, status: int, payload: Any) -> list[str]:
        """What in a 2xx reply to ``operation`` differs from the specification's response schema."""
        if not 200 <= status < 300 or operation.method == "HEAD":
            return []
        responses = operation.spec["responses"]
        # The specification describes success once, as 200; Elasticsearch answers a creation with 201.
        response = self.resolve(responses.get(str(status)) or responses["200"])
        content = response.get("content", {}).get("application/json")
        if content is None:
            return []
        where = f"reply to {operation.method} {operation.template}"
        return [f"{where}: {p}" for p in self.problems(content["schema"], payload)]

    # --- schemas --------------------------------------------------------------------------------------

    def problems(self, schema: dict[str, Any], instance: Any) -> list[str]:
        """Schema errors, then keys the schema does not name (see :class:`Closed`)."""
        errors = [
            f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message[:300]}"
            for error in self.validator(schema).iter_errors(instance)
        ]
        return errors or Closed(self).unknown_keys(schema, instance)


class Closed:
    """Finds keys that no schema on their path names.

    Elasticsearch's parsers refuse a field they do not know; the specification's schemas do not say
    ``additionalProperties: false``, and many are built with ``allOf`` of several parts, which JSON
    Schema cannot close. This walks the instance beside the schema, collecting the names each object may
    have from all its parts (``$ref``, ``allOf``, and the ``anyOf`` branches the value validates under,
    chosen by the discriminator where there is one)."""

    def __init__(self, spec: Specification) -> None:
        self.spec = spec

    def unknown_keys(self, schema: dict[str, Any], instance: Any, path: str = "") -> list[str]:
        if isinstance(instance, list):
            items = [self.spec.resolve(part).get("items") for part in self._parts(schema, instance)]
            schemas = [item for item in items if isinstance(item, dict)]
            return [
                problem
                for index, value in enumerate(instance)
                for item in schemas[:1]
                for problem in self.unknown_keys(item, value, f"{path}/{index}")
            ]
        if not isinstance(instance, dict):
            return []
        properties: dict[str, dict[str, Any]] = {}
        extra: list[dict[str, Any]] = []
        open_ended = False
        for part in self._parts(schema, instance):
            properties.update(part.get("properties", {}))
            additional = part.get("additionalProperties")
            if additional is True or part.get("type") not in (None, "object"):
                open_ended = True
            elif isinstance(additional, dict):
                extra.append(additional)
            elif not any(key in part for key in ("properties", "allOf", "anyOf", "additionalProperties")):
                open_ended = True  # a free-form value: documents, metadata, script params
        problems: list[str] = []
        for key, value in instance.items():
            if key in properties:
                problems += self.unknown_keys(properties[key], value, f"{path}/{key}")
            elif extra:
                problems += self.unknown_keys(extra[0], value, f"{path}/{key}")
            elif not open_ended:
                problems.append(f"{path or '(body)'}: unknown key {key!r}")
        return problems

    def _parts(self, schema: dict[str, Any], instance: Any) -> list[dict[str, Any]]:
        """The schema's own object parts: itself, its ``allOf`` members, its matching ``anyOf`` branch."""
        schema = self.spec.resolve(schema)
        parts = [schema]
        for member in schema.get("allOf", []):
            parts += self._parts(member, instance)
        branches = schema.get("anyOf")
        if branches:
            chosen = self._branch(schema, branches, instance)
            if chosen is None:
                return [*parts, {"additionalProperties": True}]
            parts += self._parts(chosen, instance)
        return parts

    def _branch(
        self, schema: dict[str, Any], branches: list[dict[str, Any]], instance: Any
    ) -> dict[str, Any] | None:
        discriminator = schema.get("discriminator")
        if discriminator and isinstance(instance, dict):
            tag = instance.get(discriminator["propertyName"])
            target = discriminator.get("mapping", {}).get(tag)
            if target is not None:
                return {"$ref": target}
        fitting = [branch for branch in branches if self.spec.validator(branch).is_valid(instance)]
        if not fitting:
            return None
        # Among alternatives that all accept the value, the one naming most of its keys explains it.
        if isinstance(instance, dict):
            return max(fitting, key=lambda branch: self._named(branch, instance))
        return fitting[0]

    def _named(self, branch: dict[str, Any], instance: dict[str, Any]) -> int:
        return len(self._names(branch) & set(instance))

    def _names(self, schema: dict[str, Any]) -> set[str]:
        resolved = self.spec.resolve(schema)
        names = set(resolved.get("properties", {}))
        for member in resolved.get("allOf", []):
            names |= self._names(member)
        return names
