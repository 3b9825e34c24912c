"""The JSON API's OpenAPI 3.1 document: ``@operation(...)`` documents a view;
``openapi_document`` walks the URL map and builds the document from those
declarations and each route's policy, so a route cannot be served without
being documented (a test checks). Its components: the request schemas
generated from the resources (``leads.api.resources``), the response schemas
built from the fields the serialisers show (``leads.api.serialise``), and the
error responses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import peewee as pw

from leads.api.resources import _NOTE, ACCOUNT, ACTION_ARGS, CONTACT, LEAD, column_of
from leads.api.serialise import _SHOWN
from leads.api.validation import MAX_PAGE, MAX_PER_PAGE
from leads.core import fields as catalogue
from leads.core.interactions import BUILT_IN
from leads.core.numbers import MAX_ID
from leads.records import listing

# --------------------------------------------------------------------------- response schemas


def _nullable(kind: str, **extra) -> dict:
    return {"type": [kind, "null"], **extra}


_STRING = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_REF = {"oneOf": [{"$ref": "#/components/schemas/Ref"}, {"type": "null"}]}


def _object(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": sorted(properties)}


_JSON_TYPES = {catalogue.TEXT: "string", catalogue.NUMBER: "integer", catalogue.BOOL: "boolean"}


def _value_schema(spec: catalogue.Field, column: pw.Field) -> dict:
    """How the API shows a catalogue field's value, as a JSON Schema."""
    base = _JSON_TYPES.get(spec.type, "string")
    out: dict = {"type": [base, "null"] if column.null else base}
    if spec.format == catalogue.EMAIL:
        out["format"] = "idn-email"
    if spec.type == catalogue.DATE:
        out["format"] = "date-time"
    if spec.choices:
        out["enum"] = list(spec.choices)
    return out


def _fields_schema(record: str) -> dict:
    """The response properties of the catalogue fields the API shows of ``record``
    (a reference: its id and its ``Ref``)."""
    properties = {}
    for spec in _SHOWN[record]:
        column = column_of(record, spec)
        properties[spec.name] = _value_schema(spec, column)
        if spec.is_ref:
            properties[spec.attr] = _REF
    return properties


OUTPUT_SCHEMAS = {
    "Ref": _object({"id": _INT, "name": _nullable("string")}),
    "Lead": _object(
        {
            "id": _INT,
            "name": _STRING,
            **_fields_schema(catalogue.LEAD),
            "stage_label": _STRING,
            "status_reason_label": _STRING,
            "qualification": {"type": "object", "additionalProperties": True},
        }
    ),
    "Contact": _object({"id": _INT, "name": _STRING, **_fields_schema(catalogue.CONTACT)}),
    "Account": _object({"id": _INT, **_fields_schema(catalogue.ACCOUNT)}),
    "HistoryEntry": _object(
        {
            "id": _INT,
            "kind": {
                "type": "string",
                "description": "stage, status, status_reason, sales_ready, owner, qualification",
            },
            "old_value": _nullable("string"),
            "new_value": _nullable("string"),
            "old_label": _nullable("string", description="Stage name, for stage changes."),
            "new_label": _nullable("string", description="Stage name, for stage changes."),
            "actor_id": _nullable("integer"),
            "actor": _REF,
            "via": _nullable("string", description="The page, API call or rule that made the change."),
            "note": _nullable("string"),
            "created_at": _TIME,
        }
    ),
    "InteractionIn": {
        "type": "object",
        "required": ["type", "external_id"],
        "additionalProperties": False,
        "description": "Whose it is: lead_id, contact_id or email (a contact's, else the newest lead's).",
        "properties": {
            "type": {
                "type": "string",
                "maxLength": 50,
                "description": (
                    "A built-in type ("
                    + ", ".join(BUILT_IN)
                    + ") or a custom type an admin registered. Any other is refused: its error "
                    "(field type) lists the known types in known_types."
                ),
            },
            "external_id": {
                "type": "string",
                "maxLength": 200,
                "description": "Unique per source: the same event posted twice counts once (E3).",
            },
            "source": {"type": "string", "maxLength": 100, "description": 'Defaults to "api".'},
            "occurred_at": {"type": "string", "format": "date-time", "description": "Defaults to now."},
            "properties": {"type": "object", "description": "page_id, event_id, campaign_id…"},
            "lead_id": _INT,
            "contact_id": _INT,
            "email": {"type": "string", "format": "idn-email"},
        },
    },
    "InteractionRequest": {
        "description": "One interaction, or a batch: an array of up to 1,000, each item checked on "
        "its own (a bad item is rejected in its result, the others are stored).",
        "oneOf": [
            {"$ref": "#/components/schemas/InteractionIn"},
            {"type": "array", "minItems": 1, "maxItems": 1000, "items": {}},
        ],
    },
    "InteractionResults": _object(
        {
            "created": _INT,
            "duplicates": _INT,
            "rejected": _INT,
            "data": {
                "type": "array",
                "items": _object(
                    {
                        "index": _INT,
                        "status": {"type": "string", "enum": ["created", "duplicate", "rejected"]},
                        "id": _nullable("integer"),
                        "errors": {
                            "type": "array",
                            "items": _object({"field": _nullable("string"), "reason": _STRING}),
                        },
                    }
                ),
            },
        }
    ),
    "LeadScores": _object(
        {
            "data": {
                "type": "array",
                "items": _object(
                    {
                        "model_id": _INT,
                        "model": _STRING,
                        "live": _BOOL,
                        "score": _INT,
                        "grade": _nullable("string"),
                        "sales_ready": _BOOL,
                        "computed_at": _TIME,
                        "breakdown": {
                            "type": "array",
                            "items": _object(
                                {
                                    "rule_id": _STRING,
                                    "label": _STRING,
                                    "points": _INT,
                                    "occurrences": _INT,
                                    "capped": _BOOL,
                                }
                            ),
                        },
                    }
                ),
            }
        }
    ),
    "Error": _object(
        {
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {
                        "field": _nullable(
                            "string",
                            description="The faulty field or query parameter; null for the whole request.",
                        ),
                        "reason": _STRING,
                    }
                ),
            }
        }
    ),
}


# --------------------------------------------------------------------------- OpenAPI


@dataclass(frozen=True)
class Param:
    """A documented query parameter."""

    name: str
    schema: dict
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """What a view documents: the rest (path, method, parameters, security) comes from its route and policy."""

    summary: str
    tag: str
    response: str | None = None  # component schema of the success body
    status: int = 200
    body: str | None = None  # component schema of the request body
    body_required: bool = True
    query: tuple[Param, ...] = ()
    path: Mapping[str, dict] = field(default_factory=dict)  # schema overrides for path parameters
    errors: tuple[int, ...] = (400, 401, 403, 404)
    description: str = ""
    also: Mapping[int, str] = field(default_factory=dict)  # other success statuses, same body: why


def operation(**kwargs):
    """Document a view for the OpenAPI document (the registry is the URL map)."""

    def decorate(view):
        view.openapi = Operation(**kwargs)
        return view

    return decorate


def search_param(columns: str) -> Param:
    """The documented ``q`` parameter of a directory list."""
    return Param(
        "q",
        {"type": "string", "maxLength": listing.MAX_QUERY_LENGTH},
        f"Words (at most {listing.MAX_QUERY_WORDS}), each a case-insensitive prefix of the {columns}.",
    )


# A record id in a query parameter (the id columns hold no more, ``leads.core.numbers``).
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}

PAGE_PARAMS = (
    Param(
        "page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}, "Page number, from 1."
    ),
    Param("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}, "Rows per page."),
)

ERROR_RESPONSES = {
    400: ("BadRequest", "Malformed request: the body is not JSON or not an object (field null)."),
    422: ("Unprocessable", "Refused values: one entry per faulty field or query parameter, with its reason."),
    401: ("Unauthorized", "No valid API token (missing, unknown, revoked, or its user deactivated)."),
    403: ("Forbidden", "The token's role may not call this route."),
    404: ("NotFound", "No such record, or one the token's user may not see."),
    409: ("Conflict", "The lead's current state (or the caller's role) refuses this stage action."),
}

INFO = {
    "title": "leadflow API",
    "version": "1",
    "description": (
        "Token-authenticated JSON API (send `Authorization: Bearer <token>`). "
        "Tokens act as their user and role: a sales rep's token sees only that rep's leads. "
        'Errors are always `{"errors": [{"field", "reason"}]}`: 400 malformed body (field null), '
        "422 refused values (every faulty field or query parameter listed), 401 no valid token, "
        "403 role refused, 404 not found or not visible, 409 stage action refused. "
        "Times are ISO 8601 in UTC."
    ),
}


def request_schemas() -> dict:
    """Create/update request schemas generated from the resources' writable fields."""
    schemas = {}
    for resource in (LEAD, CONTACT, ACCOUNT):
        properties = {f.name: f.schema() for f in resource.fields}
        required = sorted(f.name for f in resource.fields if f.required)
        schemas[f"{resource.name}Create"] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            **({"required": required} if required else {}),
        }
        schemas[f"{resource.name}Update"] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
            "description": "Only the fields sent change.",
        }
    action_fields = {f.name: f for specs in ACTION_ARGS.values() for f in specs}
    schemas["ActionRequest"] = {
        "type": "object",
        "description": "Arguments by action: "
        + "; ".join(f"{action}: {', '.join(f.name for f in specs)}" for action, specs in ACTION_ARGS.items())
        + "; note is accepted by every action.",
        "properties": {**{name: f.schema() for name, f in action_fields.items()}, "note": _NOTE.schema()},
        "additionalProperties": False,
    }
    return schemas


def _list_schema(item: str) -> dict:
    return _object(
        {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "page": _INT,
            "per_page": _INT,
            "total": _INT,
        }
    )


def components() -> dict:
    """Schemas, error responses and the bearer security scheme."""
    schemas = {**OUTPUT_SCHEMAS, **request_schemas()}
    for item in ("Lead", "Contact", "Account"):
        schemas[f"{item}Page"] = _list_schema(item)
    schemas["History"] = _object(
        {"data": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryEntry"}}}
    )
    responses = {
        name: {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for name, description in ERROR_RESPONSES.values()
    }
    responses["Unauthorized"]["headers"] = {
        "WWW-Authenticate": {"description": "The scheme to use: Bearer.", "schema": {"type": "string"}}
    }
    return {
        "schemas": schemas,
        "responses": responses,
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token (lf_…)."}
        },
    }


RULE_ARG = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")


def openapi_path(rule: str) -> str:
    """``/leads/<int:lead_id>`` → ``/leads/{lead_id}``."""
    return RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule)


def _path_parameters(rule, doc: Operation) -> list[dict]:
    params = []
    for match in RULE_ARG.finditer(rule.rule):
        name = match["name"]
        schema = {"type": "integer", "minimum": 1} if match["converter"] == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": doc.path.get(name, schema)})
    return params


def _operation_object(rule, view) -> dict:
    doc: Operation = view.openapi
    policy = getattr(view, "policy", None)
    out: dict = {"operationId": rule.endpoint.split(".", 1)[1], "summary": doc.summary, "tags": [doc.tag]}
    if doc.description:
        out["description"] = doc.description
    parameters = _path_parameters(rule, doc) + [
        {"name": p.name, "in": "query", "required": False, "schema": p.schema, "description": p.description}
        for p in doc.query
    ]
    if parameters:
        out["parameters"] = parameters
    if doc.body:
        out["requestBody"] = {
            "required": doc.body_required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{doc.body}"}}},
        }
    success = {"description": {201: "Created", 204: "No content"}.get(doc.status, "OK")}
    if doc.response:
        success["content"] = {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{doc.response}"}}
        }
    out["responses"] = {str(doc.status): success}
    for code, why in doc.also.items():
        out["responses"][str(code)] = {**success, "description": why}
    if policy is not None and policy.public:
        out["security"] = []
    else:
        out["x-roles"] = sorted(policy.roles) if policy else []
        # 422 everywhere: an undocumented query parameter is refused on every operation
        for code in sorted({*doc.errors, 422}):
            out["responses"][str(code)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"}
    return out


def openapi_document(url_map, view_functions: Mapping[str, Callable], prefix: str = "/api/v1/") -> dict:
    """The OpenAPI 3.1 document of every documented route under ``prefix``
    (the API's blueprints: leads, contacts and accounts; campaigns)."""
    paths: dict[str, dict] = {}
    for rule in sorted(url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(prefix):
            continue
        view = view_functions[rule.endpoint]
        if getattr(view, "openapi", None) is None:
            continue  # undocumented: the OpenAPI test names it
        item = paths.setdefault(openapi_path(rule.rule), {})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            item[method.lower()] = _operation_object(rule, view)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": components(),
    }
