"""An OpenAPI 3.1 description of the JSON API (Connect unary over HTTP), built
from the generated protobuf descriptors.

Every unary method is ``POST /<package>.<Service>/<Method>``; schemas follow the
proto3 JSON mapping (lowerCamelCase names, 64-bit integers as strings, enums by
name, Timestamps as RFC 3339). ``comments`` (full proto name -> text) adds the
proto comments when the caller has them (``scripts/openapi.py`` reads them from
the .proto sources); the generated code carries none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

REF = "#/components/schemas/"
ERROR_SCHEMA = "connect.Error"

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT64: {"type": ["string", "integer"], "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": ["string", "integer"], "format": "uint64"},
    FieldDescriptor.TYPE_SINT64: {"type": ["string", "integer"], "format": "int64"},
    FieldDescriptor.TYPE_FIXED64: {"type": ["string", "integer"], "format": "uint64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": ["string", "integer"], "format": "int64"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}

# Well-known types have their own JSON forms.
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated paths."},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Empty": {"type": "object"},
}


def openapi_document(
    service_names: Sequence[str],
    *,
    title: str = "GaaP",
    version: str = "v1",
    comments: Mapping[str, str] | None = None,
    servers: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """``servers``: where the API is (OpenAPI's ``servers``); none for a document
    served by the service itself, whose server is then where it was fetched."""
    notes = dict(comments or {})
    pool = descriptor_pool.Default()
    schemas: dict[str, Any] = {ERROR_SCHEMA: _error_schema()}
    paths: dict[str, Any] = {}
    for name in service_names:
        service = pool.FindServiceByName(name)
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                continue
            _add_message(method.input_type, schemas, notes)
            _add_message(method.output_type, schemas, notes)
            operation: dict[str, Any] = {
                "operationId": f"{service.name}_{method.name}",
                "tags": [service.full_name],
                "summary": method.name,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(method.input_type)}},
                },
                "responses": {
                    "200": {
                        "description": "The response message.",
                        "content": {"application/json": {"schema": _ref(method.output_type)}},
                    },
                    "default": {
                        "description": "A Connect error; the HTTP status follows its code "
                        "(400 invalid_argument/failed_precondition, 401 unauthenticated, "
                        "403 permission_denied, 404 not_found, 409 already_exists, "
                        "429 resource_exhausted, 503 unavailable).",
                        "content": {"application/json": {"schema": {"$ref": REF + ERROR_SCHEMA}}},
                    },
                },
            }
            description = notes.get(method.full_name)
            if description:
                operation["description"] = description
            paths[f"/{service.full_name}/{method.name}"] = {"post": operation}
    tags = [{"name": n, **({"description": notes[n]} if n in notes else {})} for n in service_names]
    return {
        "openapi": "3.1.0",
        **({"servers": [dict(server) for server in servers]} if servers else {}),
        "info": {
            "title": f"{title} JSON API",
            "version": version,
            "description": "The gRPC API as JSON over HTTP (Connect protocol, unary). Send "
            "`Authorization: Bearer <access token>` and `Content-Type: application/json`.",
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }


def _ref(message: Descriptor) -> dict[str, Any]:
    if message.full_name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[message.full_name])
    return {"$ref": REF + message.full_name}


def _add_message(message: Descriptor, schemas: dict[str, Any], notes: Mapping[str, str]) -> None:
    if message.full_name in schemas or message.full_name in _WELL_KNOWN:
        return
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    schemas[message.full_name] = schema  # before the fields: messages may nest themselves
    if message.full_name in notes:
        schema["description"] = notes[message.full_name]
    for field in message.fields:
        prop = _field_schema(field, schemas, notes)
        note = notes.get(field.full_name)
        if note:
            prop = (
                {**prop, "description": note}
                if "$ref" not in prop
                else {
                    "allOf": [prop],
                    "description": note,
                }
            )
        schema["properties"][field.json_name] = prop


def _field_schema(
    field: FieldDescriptor, schemas: dict[str, Any], notes: Mapping[str, str]
) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single(value, schemas, notes)}
    single = _single(field, schemas, notes)
    if field.is_repeated:
        return {"type": "array", "items": single}
    return single


def _single(
    field: FieldDescriptor, schemas: dict[str, Any], notes: Mapping[str, str]
) -> dict[str, Any]:
    if field.message_type is not None:
        _add_message(field.message_type, schemas, notes)
        return _ref(field.message_type)
    if field.enum_type is not None:
        return _enum(field.enum_type)
    return dict(_SCALARS[field.type])


def _enum(enum: EnumDescriptor) -> dict[str, Any]:
    return {"type": "string", "enum": [v.name for v in enum.values], "title": enum.full_name}


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {"type": "string", "examples": ["invalid_argument", "unauthenticated"]},
            "message": {"type": "string"},
            "details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "examples": ["google.rpc.BadRequest"]},
                        "value": {"type": "string", "contentEncoding": "base64"},
                        "debug": {"type": "object"},
                    },
                },
            },
        },
    }
