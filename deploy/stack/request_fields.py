"""Request fields: which JSON keys each HTTP route accepts, read from the descriptor set.

Envoy's gRPC-JSON transcoder drops a JSON key that the request message does not define, so
`{"citty": "Pune"}` would be served as if the city were unknown. At `stack up` this module
turns the google.api.http rules in generated/adplatform.binpb into a table of routes and the
field names their bodies may carry (a message and every message nested in it); the edge's
Lua filter (deploy/stack/strict_json.lua) refuses any other key with 400 before transcoding.
docs/edge.md says why the check lives there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

# Well-known types have JSON forms of their own (a Timestamp is a string, a Struct any
# object): their contents are the transcoder's to judge, not a list of field names.
OPAQUE_PACKAGE = "google.protobuf."
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")
_LUA_MAGIC = re.compile(r"([\^$()%.\[\]*+\-?])")


@dataclass(frozen=True, slots=True)
class FieldCheck:
    """FieldCheck is what a JSON key of a message may hold.

    message is the full name of the message its value (or each element, or each map value)
    must match, or None when its contents are not checked (scalars, enums, well-known types).
    is_map marks a map field, whose own keys are data, not field names.
    """

    message: str | None = None
    is_map: bool = False


@dataclass(frozen=True, slots=True)
class BodyRoute:
    """BodyRoute is one HTTP binding, whose query string and JSON body are checked.

    method is the HTTP method, template the google.api.http path template, rpc the gRPC
    method it reaches, request the request message (whose fields the query string may name),
    body the check of the whole JSON body (the request message for `body: "*"`, else the
    named field's type), or None when the binding takes no body.
    """

    method: str
    template: str
    rpc: str
    request: str
    body: FieldCheck | None


@dataclass(frozen=True, slots=True)
class RequestFields:
    """RequestFields is the whole table: checked routes and each message's accepted keys."""

    routes: tuple[BodyRoute, ...]
    messages: Mapping[str, Mapping[str, FieldCheck]]


def load(path: Path) -> descriptor_pb2.FileDescriptorSet:
    """load reads a descriptor set built with --include_imports (google.api.http included)."""
    return descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())


def _index(files: descriptor_pb2.FileDescriptorSet) -> dict[str, descriptor_pb2.DescriptorProto]:
    """_index maps every message's full name (nested ones too) to its descriptor."""
    found: dict[str, descriptor_pb2.DescriptorProto] = {}

    def visit(prefix: str, messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
        for message in messages:
            name = f"{prefix}{message.name}"
            found[name] = message
            visit(f"{name}.", message.nested_type)

    for file in files.file:
        visit(f"{file.package}." if file.package else "", file.message_type)
    return found


def _check(
    field: descriptor_pb2.FieldDescriptorProto, index: Mapping[str, descriptor_pb2.DescriptorProto]
) -> FieldCheck:
    """_check is how a field's JSON value is checked: which message, and whether it is a map."""
    if field.type != descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE:
        return FieldCheck()
    name = field.type_name.lstrip(".")
    if name.startswith(OPAQUE_PACKAGE):
        return FieldCheck()
    nested = index[name]
    if not nested.options.map_entry:
        return FieldCheck(message=name)
    value = next(f for f in nested.field if f.number == 2)
    return FieldCheck(message=_check(value, index).message, is_map=True)


def _accepted(
    name: str,
    index: Mapping[str, descriptor_pb2.DescriptorProto],
    into: dict[str, dict[str, FieldCheck]],
) -> None:
    """_accepted adds the keys of message `name` and of every message reachable from it."""
    if name in into:
        return
    keys: dict[str, FieldCheck] = {}
    into[name] = keys  # before recursing, so a message that contains itself ends
    for field in index[name].field:
        check = _check(field, index)
        # Proto3 JSON accepts the lowerCamel json_name and the field's own name alike.
        for key in {field.name, field.json_name or field.name}:
            keys[key] = check
        if check.message:
            _accepted(check.message, index, into)


def _bindings(rule: Any) -> Iterable[Any]:
    """_bindings are an HttpRule and its additional bindings."""
    yield rule
    yield from rule.additional_bindings


def request_fields(
    files: descriptor_pb2.FileDescriptorSet, services: Iterable[str]
) -> RequestFields:
    """request_fields is the table of the HTTP routes of `services` and their accepted keys."""
    wanted = set(services)
    index = _index(files)
    routes: list[BodyRoute] = []
    messages: dict[str, dict[str, FieldCheck]] = {}
    for file in files.file:
        for service in file.service:
            full = f"{file.package}.{service.name}" if file.package else service.name
            if full not in wanted:
                continue
            for method in service.method:
                request = method.input_type.lstrip(".")
                rule = method.options.Extensions[annotations_pb2.http]
                _accepted(request, index, messages)
                for binding in _bindings(rule):
                    verb = binding.WhichOneof("pattern")
                    if verb not in HTTP_METHODS:
                        continue  # a custom verb: not one of ours
                    body: FieldCheck | None = None
                    if binding.body == "*":
                        body = FieldCheck(message=request)
                    elif binding.body:
                        field = next(f for f in index[request].field if f.name == binding.body)
                        body = _check(field, index)
                    if body and body.message:
                        _accepted(body.message, index, messages)
                    routes.append(
                        BodyRoute(
                            method=verb.upper(),
                            template=getattr(binding, verb),
                            rpc=f"/{full}/{method.name}",
                            request=request,
                            body=body,
                        )
                    )
    # The most literal template first, so `/v1/campaigns/{id}:stop` wins over `/{id}`.
    routes.sort(key=lambda r: (-len(_VARIABLE.sub("", r.template)), r.template, r.method))
    return RequestFields(routes=tuple(routes), messages=messages)


def path_pattern(template: str) -> str:
    """path_pattern is the Lua pattern that matches a path template's paths (query excluded).

    Each variable is a capture, in the order of path_variables: `{name}` and `{name=*}` one
    segment, `{name=**}` any rest.
    """
    pattern = []
    position = 0
    for variable in _VARIABLE.finditer(template):
        pattern.append(_LUA_MAGIC.sub(r"%\1", template[position : variable.start()]))
        pattern.append("(.+)" if "**" in (variable.group(2) or "") else "([^/]+)")
        position = variable.end()
    pattern.append(_LUA_MAGIC.sub(r"%\1", template[position:]))
    return "^" + "".join(pattern) + "$"


def path_variables(template: str) -> list[str]:
    """path_variables are the field paths a template's variables bind, in order."""
    return [variable.group(1) for variable in _VARIABLE.finditer(template)]


def to_lua(value: object) -> str:
    """to_lua writes a value made of dicts, lists, strings, numbers and booleans as Lua."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = "".join(
            chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else f"\\{b:03d}"
            for b in value.encode()
        )
        return f'"{escaped}"'
    if isinstance(value, Mapping):
        items = ", ".join(f"[{to_lua(str(k))}] = {to_lua(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as Lua")


def _check_table(check: FieldCheck) -> dict[str, object]:
    """_check_table is a FieldCheck as the Lua filter reads it (absent keys mean no check)."""
    table: dict[str, object] = {}
    if check.message:
        table["message"] = check.message
    if check.is_map:
        table["map"] = True
    return table


def lua_table(fields: RequestFields) -> str:
    """lua_table is the Lua expression of the table the strict JSON filter checks against."""
    routes = [
        {
            "method": r.method,
            "pattern": path_pattern(r.template),
            "variables": path_variables(r.template),
            "rpc": r.rpc,
            "request": r.request,
            **({"body": _check_table(r.body)} if r.body else {}),
        }
        for r in fields.routes
    ]
    messages = {
        name: {key: _check_table(check) for key, check in sorted(keys.items())}
        for name, keys in sorted(fields.messages.items())
    }
    return to_lua({"routes": routes, "messages": messages})
