"""The OpenAPI 3 document the server serves at `/openapi.json` (every route, request and
response schema, every error). schemathesis checks the server against it in CI."""

from __future__ import annotations

from typing import Any

from skewless.online.store import MAX_ENTITIES, MAX_FEATURES, REASONS, STATUSES

__all__ = ["openapi_document"]

_FEAST_STATUSES = ["PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_UNAUTHORIZED = _error("missing or wrong bearer token (only when SKEWLESS_SERVER_TOKEN is set)")


def _schemas() -> dict[str, Any]:
    nullable_number = {"type": "number", "nullable": True}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "description": "machine-readable code"},
                        "message": {"type": "string", "description": "what, where, what to do"},
                    },
                }
            },
        },
        "EntityRow": {
            "type": "object",
            "description": "key column → value (a JSON value of the key's type, or its text)",
            "additionalProperties": {},
        },
        "Columns": {
            "type": "object",
            "description": "column → one value per entity (Feast's column-wise shape)",
            "additionalProperties": {"type": "array", "items": {}},
        },
        "GetOnlineFeaturesRequest": {
            "type": "object",
            "required": ["features", "entities"],
            "properties": {
                "features": {
                    "type": "array",
                    "maxItems": MAX_FEATURES,
                    "items": {"type": "string"},
                    "description": "`<model>.<column>` (Feast's shape: `view:feature` too)",
                },
                "entities": {
                    "oneOf": [
                        {
                            "type": "array",
                            "maxItems": MAX_ENTITIES,
                            "items": _ref("EntityRow"),
                            "description": "native shape: one dict per entity",
                        },
                        _ref("Columns"),
                    ]
                },
                "request": {
                    "nullable": True,
                    "description": "native shape: the request payload of each entity (a dict "
                    "when there is one entity), read by request-time features",
                    "oneOf": [{"type": "array", "items": _ref("EntityRow")}, _ref("EntityRow")],
                },
                "request_context": {
                    "allOf": [_ref("Columns")],
                    "description": "Feast's shape: request fields column-wise",
                },
                "full_feature_names": {
                    "type": "boolean",
                    "description": "Feast's shape: name features `view__feature`",
                },
                "now": {
                    "type": "string",
                    "format": "date-time",
                    "nullable": True,
                    "description": "age values against this instant (default: now)",
                },
                "deadline_ms": {
                    "type": "number",
                    "exclusiveMinimum": True,
                    "minimum": 0,
                    "nullable": True,
                    "description": "this call's deadline (default: the server's)",
                },
            },
        },
        "OnlineFeaturesResponse": {
            "type": "object",
            "required": ["features", "versions", "served_at", "results"],
            "properties": {
                "features": {"type": "array", "items": {"type": "string"}},
                "versions": {"type": "object", "additionalProperties": {"type": "string"}},
                "served_at": {"type": "string", "format": "date-time"},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["values", "statuses", "reasons", "age_seconds"],
                        "properties": {
                            "values": {"type": "array", "items": {}},
                            "statuses": {
                                "type": "array",
                                "items": {"type": "string", "enum": list(STATUSES)},
                            },
                            "reasons": {
                                "type": "array",
                                "items": {
                                    "type": "string",
                                    "enum": [*REASONS, None],
                                    "nullable": True,
                                },
                            },
                            "age_seconds": {"type": "array", "items": nullable_number},
                        },
                    },
                },
            },
        },
        "FeastOnlineFeaturesResponse": {
            "type": "object",
            "required": ["metadata", "results", "versions", "served_at"],
            "properties": {
                "metadata": {
                    "type": "object",
                    "required": ["feature_names"],
                    "properties": {"feature_names": {"type": "array", "items": {"type": "string"}}},
                },
                "versions": {"type": "object", "additionalProperties": {"type": "string"}},
                "served_at": {"type": "string", "format": "date-time"},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["values", "statuses", "event_timestamps"],
                        "properties": {
                            "values": {"type": "array", "items": {}},
                            "statuses": {
                                "type": "array",
                                "items": {"type": "string", "enum": _FEAST_STATUSES},
                            },
                            "event_timestamps": {
                                "type": "array",
                                "items": {"type": "string", "format": "date-time"},
                            },
                            "skewless_statuses": {
                                "type": "array",
                                "items": {"type": "string", "enum": list(STATUSES)},
                            },
                            "reasons": {
                                "type": "array",
                                "items": {
                                    "type": "string",
                                    "enum": [*REASONS, None],
                                    "nullable": True,
                                },
                            },
                            "age_seconds": {"type": "array", "items": nullable_number},
                        },
                    },
                },
            },
        },
        "Catalog": {
            "type": "object",
            "required": ["manifest_sha256", "views", "request_time_views", "disabled"],
            "properties": {
                "manifest_sha256": {"type": "string"},
                "views": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "name",
                            "entity",
                            "version",
                            "ttl_seconds",
                            "freshness_seconds",
                            "on_stale",
                            "features",
                            "online",
                        ],
                        "properties": {
                            "name": {"type": "string"},
                            "entity": {"type": "array", "items": {"type": "string"}},
                            "entity_types": {"type": "array", "items": {"type": "string"}},
                            "timestamp": {"type": "string"},
                            "version": {"type": "string"},
                            "ttl": {"type": "string", "nullable": True},
                            "ttl_seconds": nullable_number,
                            "available_after_seconds": nullable_number,
                            "freshness": {"type": "string", "nullable": True},
                            "freshness_seconds": nullable_number,
                            "on_stale": {
                                "type": "string",
                                "enum": ["serve", "default", "null", "reject"],
                            },
                            "features": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "ref", "data_type"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "ref": {"type": "string"},
                                        "data_type": {"type": "string"},
                                        "has_default": {"type": "boolean"},
                                        "description": {"type": "string"},
                                    },
                                },
                            },
                            "online": {
                                "type": "object",
                                "required": ["materialized"],
                                "properties": {
                                    "materialized": {"type": "boolean"},
                                    "stored_version": {"type": "string", "nullable": True},
                                    "generation": {"type": "string", "nullable": True},
                                    "rows": {"type": "integer", "nullable": True},
                                    "materialized_age_seconds": nullable_number,
                                },
                            },
                        },
                    },
                },
                "request_time_views": {"type": "array", "items": {"type": "object"}},
                "disabled": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "Readiness": {
            "type": "object",
            "required": ["ready", "checks"],
            "properties": {
                "ready": {"type": "boolean"},
                "checks": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["ok"],
                        "properties": {"ok": {"type": "boolean"}},
                    },
                },
            },
        },
        "ExplainRequest": {
            "type": "object",
            "required": ["feature", "entity"],
            "properties": {
                "feature": {"type": "string", "description": "`<model>.<column>`"},
                "entity": _ref("EntityRow"),
                "at": {"type": "string", "format": "date-time", "nullable": True},
            },
        },
        "PushRequest": {
            "type": "object",
            "required": ["view", "events"],
            "properties": {
                "view": {"type": "string", "description": "a window view with an event_id"},
                "events": {
                    "type": "array",
                    "description": "one object per event: entity keys, event time (ISO 8601), "
                    "event id, aggregated columns",
                    "items": {"type": "object"},
                },
                "now": {"type": "string", "format": "date-time", "nullable": True},
            },
        },
        "PushResult": {
            "type": "object",
            "required": ["view", "added", "duplicates", "too_old", "log_files"],
            "properties": {
                "view": {"type": "string"},
                "added": {"type": "integer"},
                "duplicates": {"type": "integer", "description": "event ids already pushed"},
                "too_old": {
                    "type": "integer",
                    "description": "events older than every window from now on: only logged",
                },
                "log_files": {"type": "integer", "description": "event log files written"},
            },
        },
        "Explanation": {
            "type": "object",
            "description": "`skewless explain --json`'s document (docs/explain.md)",
            "required": ["feature", "verdict"],
            "properties": {
                "feature": {"type": "string"},
                "verdict": {"type": "string"},
                "detail": {"type": "string"},
                "fix": {"type": "string", "nullable": True},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document of the server."""
    bad = _error("bad input: the message names the field")
    unavailable = _error(
        "the store cannot answer now: Redis failed or timed out (online_store_error, "
        "deadline_exceeded, store_unavailable), a view is not materialized (not_materialized), "
        "past its SLA under on_stale: reject (stale_feature), or disabled (broken_view)"
    )
    too_large = _error("the body is past the server's limit (SKEWLESS_SERVER_MAX_BODY_BYTES)")
    open_route: dict[str, Any] = {"security": []}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "skewless feature server",
            "version": "1",
            "description": "Feature values from a dbt project's feature views, served from Redis "
            "with a status, a reason and an age per value. See docs/server.md.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
        "security": [{"bearer": []}],
        "paths": {
            "/get-online-features": {
                "post": {
                    "operationId": "getOnlineFeatures",
                    "summary": "Feature values of entities (native or Feast request shape)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": _ref("GetOnlineFeaturesRequest")}
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "oneOf": [
                                    _ref("OnlineFeaturesResponse"),
                                    _ref("FeastOnlineFeaturesResponse"),
                                ]
                            },
                            "values; Feast's response shape for a Feast-shaped request",
                        ),
                        "400": bad,
                        "401": _UNAUTHORIZED,
                        "404": _error("a feature reference names no feature (unknown_feature)"),
                        "410": _error(
                            "the view's definition version was retired (retired_version)"
                        ),
                        "413": too_large,
                        "422": _error("another skewless error (skewless_error)"),
                        "503": unavailable,
                    },
                }
            },
            "/features": {
                "get": {
                    "operationId": "listFeatures",
                    "summary": "The catalog: views, versions, types, ttl/freshness, Redis state",
                    "responses": {
                        "200": _json(_ref("Catalog"), "the catalog"),
                        "401": _UNAUTHORIZED,
                        "503": _error("Redis did not answer (online_store_error)"),
                    },
                }
            },
            "/explain": {
                "post": {
                    "operationId": "explain",
                    "summary": "Why one entity is served its value, against the offline side",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ExplainRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("Explanation"), "the explanation"),
                        "400": bad,
                        "401": _UNAUTHORIZED,
                        "404": _error("no such feature (unknown_feature)"),
                        "410": _error("the view's definition version was retired"),
                        "413": too_large,
                        "422": _error("another skewless error (skewless_error)"),
                        "503": _error(
                            "Redis or the offline side cannot be read "
                            "(online_store_error, offline_unavailable, broken_view)"
                        ),
                    },
                }
            },
            "/push": {
                "post": {
                    "operationId": "push",
                    "summary": "Push events into a window view (idempotent by event id)",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("PushRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("PushResult"), "what the push did"),
                        "400": bad,
                        "401": _UNAUTHORIZED,
                        "404": _error("no such window view (unknown_feature)"),
                        "413": too_large,
                        "422": _error("another skewless error (skewless_error)"),
                        "503": _error("Redis failed (online_store_error): push again, it is safe"),
                    },
                }
            },
            "/livez": {
                "get": {
                    "operationId": "livez",
                    "summary": "The process answers (no I/O)",
                    **open_route,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": {"type": "string", "enum": ["ok"]}},
                            },
                            "alive",
                        )
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Definitions loaded, Redis reachable, every view materialized",
                    **open_route,
                    "responses": {
                        "200": _json(_ref("Readiness"), "ready"),
                        "503": _json(_ref("Readiness"), "not ready: the failing checks say why"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition 0.0.4)",
                    "responses": {
                        "200": {
                            "description": "metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _UNAUTHORIZED,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {
                        "200": _json({"type": "object"}, "the OpenAPI document"),
                        "401": _UNAUTHORIZED,
                    },
                }
            },
        },
    }
