"""The API route registry and the OpenAPI 3.1 document generated from it.

Every ``/api/v1`` route is added through :meth:`ApiRegistry.route`, which registers the Flask
route, declares its roles and records what the OpenAPI document says about it, so the document
cannot fall behind the code (tests/web check that every ``/api/v1`` rule is documented).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import Blueprint
from flask.typing import RouteCallable

from hub.auth.roles import Role
from hub.web.access import allow

F = TypeVar("F", bound=Callable[..., object])
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "stable machine word, e.g. not_found"},
        "detail": {"type": "string", "description": "what went wrong and what to do"},
    },
}


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter."""

    name: str
    schema: Mapping[str, Any]
    description: str
    required: bool = False


PAGINATION = (
    Param("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}, "page number, from 1"),
    Param("per_page", {"type": "integer", "minimum": 1}, "items per page (at most the hub's per_page_max)"),
)


def page_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of the page envelope around ``item``."""
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "properties": {
            "items": {"type": "array", "items": dict(item)},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
            "total_is_estimate": {"type": "boolean",
                                  "description": "total is a capped count (a lower bound), e.g. of a text search"},
        },
    }


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented route."""

    method: str
    path: str  # the Flask rule, e.g. /api/v1/agents/<agent_id>/history
    endpoint: str
    summary: str
    description: str
    tag: str
    roles: frozenset[Role]
    params: tuple[Param, ...]
    response: Mapping[str, Any]
    media_type: str
    errors: tuple[int, ...]
    path_descriptions: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None  # JSON schema of the request body
    path_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class ApiRegistry:
    """Collects :class:`Operation` objects as routes are declared."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def route(
        self,
        bp: Blueprint,
        rule: str,
        *,
        summary: str,
        roles: Sequence[Role] | frozenset[Role],
        tag: str,
        response: Mapping[str, Any],
        method: str = "GET",
        params: Sequence[Param] = (),
        description: str = "",
        media_type: str = "application/json",
        errors: Sequence[int] = (),
        path_descriptions: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        path_schemas: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Callable[[F], F]:
        """Register ``rule`` on ``bp`` (whose ``url_prefix`` is prepended) and document it."""
        prefix = bp.url_prefix or ""

        def register(view: F) -> F:
            allowed = frozenset(roles)
            allow(*allowed)(view)
            bp.add_url_rule(rule, view_func=cast(RouteCallable, view), methods=[method])
            self.operations.append(
                Operation(
                    method=method.lower(),
                    path=prefix + rule,
                    endpoint=f"{bp.name}.{view.__name__}",
                    summary=summary,
                    description=description,
                    tag=tag,
                    roles=allowed,
                    params=tuple(params),
                    response=response,
                    media_type=media_type,
                    errors=tuple(errors),
                    path_descriptions=dict(path_descriptions or {}),
                    body=body,
                    path_schemas=dict(path_schemas or {}),
                )
            )
            return view

        return register

    def document(
        self, *, title: str, version: str, description: str = "", per_page_max: int | None = None
    ) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every registered operation (``per_page_max``: this hub's bound
        on ``per_page``, written into the parameter's schema)."""
        paths: dict[str, dict[str, Any]] = {}
        for op in sorted(self.operations, key=lambda o: (o.path, o.method)):
            path, path_params = openapi_path(op.path)
            parameters: list[dict[str, Any]] = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": dict(op.path_schemas.get(name, schema)),
                    "description": op.path_descriptions.get(name, name),
                }
                for name, schema in path_params
            ]
            parameters += [
                {"name": p.name, "in": "query", "required": p.required,
                 "schema": {**p.schema, "maximum": per_page_max} if p.name == "per_page" and per_page_max
                 else dict(p.schema), "description": p.description}
                for p in op.params
            ]
            responses: dict[str, Any] = {
                "200": {"description": "success", "content": {op.media_type: {"schema": dict(op.response)}}},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "403": {"$ref": "#/components/responses/Forbidden"},
            }
            for code in sorted({400, *op.errors} if op.params or op.body is not None else set(op.errors)):
                responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
            operation: dict[str, Any] = {
                "operationId": op.endpoint.replace(".", "_"),
                "summary": op.summary,
                "tags": [op.tag],
                "responses": responses,
                "x-roles": sorted(r.value for r in op.roles),
            }
            if op.description:
                operation["description"] = op.description
            if parameters:
                operation["parameters"] = parameters
            if op.body is not None:
                operation["requestBody"] = {
                    "required": True, "content": {"application/json": {"schema": dict(op.body)}}}
            paths.setdefault(path, {})[op.method] = operation
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version, "description": description},
            "servers": [{"url": "/"}],
            "security": [{"bearerAuth": []}, {"sessionCookie": []}],
            "paths": paths,
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "an API token (xnt_…)"},
                    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "xn_session"},
                },
                "schemas": {"Error": ERROR_SCHEMA},
                "responses": {
                    name: {
                        "description": text,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    }
                    for name, text in (
                        ("Unauthorized", "no valid session or bearer token"),
                        ("Forbidden", "the caller's role may not use this route"),
                        ("E400", "a parameter is invalid; detail names it"),
                        ("E404", "no such object"),
                        ("E409", "the object changed meanwhile; reload it and try again"),
                        ("E503", "the component behind this route is not running yet"),
                    )
                },
            },
        }


def openapi_path(rule: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """``/a/<int:id>`` → (``/a/{id}``, [(``id``, integer schema)])."""
    params: list[tuple[str, dict[str, Any]]] = []

    def swap(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        params.append((name, dict(_CONVERTER_TYPES.get(converter or "", {"type": "string"}))))
        return "{" + name + "}"

    return _CONVERTER.sub(swap, rule), params


API = ApiRegistry()
"""The registry of the hub's ``/api/v1`` routes."""
