"""Which AWS operation a raw HTTP request calls, and its parameters named as
the operation's botocore input shape names them (``request_validation``
checks them).

The operation is found the way moto finds it: the service from the SigV4
credential scope's signing name (``.../us-east-1/states/aws4_request``), then
the operation from the ``X-Amz-Target`` header (JSON protocols), the ``Action``
parameter (query and EC2 protocols) or the method and path (REST protocols,
through moto's own router). A signing name several models share (``s3`` and
``s3control``) is told apart the same way; what stays ambiguous is not
checked.

The parameters are deserialized per botocore's protocol, generically from the
model:

* ``query`` / ``ec2``: the form body and query string, ``Name.member.N`` lists
  (``Name.N`` when flattened, the member's ``locationName`` replacing the
  name), ``Name.entry.N.key``/``.value`` maps, nested ``A.B`` structures; EC2
  lists are ``QueryName.N`` with the ``queryName`` or the capitalized
  ``locationName``. Text becomes the member's type (integer, boolean, double),
  or :class:`~._request_check.Bad` when it does not convert. Keys no member
  claims are unknown parameters (``Action``, ``Version`` and SigV2/SigV4
  parameters excepted).
* ``json``: the JSON body as sent (types checked against the shape).
* ``rest-json`` / ``rest-xml``: ``uri`` labels, ``querystring``, ``header`` and
  ``headers`` (prefix) members, and the body: the ``payload`` member (a
  structure read from JSON or XML; a blob or string only counted as present)
  or the body members. Headers and query parameters no member claims are
  HTTP's business, not the operation's, and are ignored; unknown members of
  a JSON or XML body are not.

Whatever cannot be read (a body that is not JSON, a protocol the model does
not list for the service, a CBOR body) is left to the service rather than
refused: a false refusal would break valid AWS traffic.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from botocore.model import OperationModel, Shape

from . import _sdk_models
from ._request_check import UNREAD, Bad

_index_lock = threading.Lock()

# Query-protocol parameters that are the protocol's, not the operation's.
_QUERY_RESERVED = {
    "Action",
    "Version",
    "AWSAccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "Timestamp",
    "Expires",
    "SecurityToken",
}


@dataclass
class ServiceInfo:
    name: str  # the Boto3 client name
    protocols: list[str]
    target_prefix: str | None


@functools.lru_cache(maxsize=1)
def _signing_index() -> dict[str, list[ServiceInfo]]:
    """SigV4 signing name (``signingName``, else ``endpointPrefix``) -> the models."""
    loader = _sdk_models._loader
    out: dict[str, list[ServiceInfo]] = {}
    decoder = json.JSONDecoder()
    for name in loader.list_available_services("service-2"):
        meta = None
        version = loader.determine_latest_version(name, "service-2")
        for root in loader.search_paths:
            for filename, opener in (("service-2.json", open), ("service-2.json.gz", gzip.open)):
                path = os.path.join(root, name, version, filename)
                if not os.path.isfile(path):
                    continue
                with opener(path, "rb") as f:  # type: ignore[operator]
                    head = f.read(16384).decode("utf-8", "replace")
                at = head.find('"metadata"')
                if at >= 0:
                    try:
                        meta, _ = decoder.raw_decode(head, head.index("{", at))
                    except ValueError:
                        meta = None
                break
            if meta is not None:
                break
        if meta is None:
            try:
                meta = loader.load_service_model(name, "service-2")["metadata"]
            except Exception:  # noqa: BLE001 - a model we cannot read is a service we do not check
                continue
        signing = str(meta.get("signingName") or meta.get("endpointPrefix") or name).lower()
        protocols = list(meta.get("protocols") or [meta.get("protocol")])
        out.setdefault(signing, []).append(ServiceInfo(name, [p for p in protocols if p], meta.get("targetPrefix")))
    return out


def services_for(signing_name: str) -> list[ServiceInfo]:
    with _index_lock:
        index = _signing_index()
    found = index.get(signing_name.lower())
    if found:
        return found
    from moto.moto_server.werkzeug_app import SIGNING_ALIASES

    return index.get(SIGNING_ALIASES.get(signing_name.lower(), ""), [])


@dataclass
class Route:
    service: str  # Boto3 client name
    protocol: str  # json | query | ec2 | rest-json | rest-xml
    operation: OperationModel
    uri_params: dict[str, str] = field(default_factory=dict)


def _header(environ: dict[str, Any], name: str) -> str | None:
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return environ.get(key)
    return environ.get(f"HTTP_{key}")


@functools.lru_cache(maxsize=64)
def _rest_router(service: str, protocol: str) -> Any:
    from moto.core.routing import get_router_class
    from moto.core.utils import get_service_model

    router_class = get_router_class(service, protocol)
    return None if router_class is None else router_class(get_service_model(service))


def _rest_match(service: str, protocol: str, environ: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    from moto.core.request import Request
    from werkzeug.exceptions import HTTPException

    router = _rest_router(service, protocol)
    if router is None:
        return None
    probe = dict(environ)
    probe["wsgi.input"] = io.BytesIO(b"")
    probe["CONTENT_LENGTH"] = "0"
    probe.pop("wsgi.input_terminated", None)
    try:
        operation, params = router.match(Request(probe))
    except (HTTPException, NotImplementedError, LookupError, ValueError):
        return None
    return operation.name, dict(params)


def _operation(service: str, name: str) -> OperationModel | None:
    model = _sdk_models.service_model(service)
    if model is None or name not in model.operation_names:
        return None
    return model.operation_model(name)


def route(environ: dict[str, Any], signing_name: str, query_values: dict[str, list[str]] | None) -> Route | None:
    """The operation the request calls (None: not known, or not one). ``query_values``:
    the form body and query string of a query-protocol request, when it is one."""
    candidates = services_for(signing_name)
    if not candidates:
        return None
    target = _header(environ, "X-Amz-Target")
    content_type = (_header(environ, "Content-Type") or "").lower()
    if (_header(environ, "smithy-protocol") or "").lower() == "rpc-v2-cbor" or "cbor" in content_type:
        return None
    found: list[Route] = []
    if target:
        prefix, _, op_name = target.rpartition(".")
        short = prefix.rsplit(".", 1)[-1]  # a Smithy client may send the shape name alone (CloudTrail_20131101)
        for info in candidates:
            if "json" in info.protocols and info.target_prefix and info.target_prefix.rsplit(".", 1)[-1] == short:
                op = _operation(info.name, op_name)
                if op is not None:
                    found.append(Route(info.name, "json", op))
    elif query_values is not None and "Action" in query_values:
        action = query_values["Action"][0]
        for info in candidates:
            protocol = "ec2" if "ec2" in info.protocols else "query" if "query" in info.protocols else None
            if protocol is None:
                continue
            op = _operation(info.name, action)
            if op is not None:
                found.append(Route(info.name, protocol, op))
    else:
        for info in candidates:
            protocol = next((p for p in info.protocols if p in ("rest-json", "rest-xml")), None)
            if protocol is None:
                continue
            matched = _rest_match(info.name, protocol, environ)
            if matched is None:
                continue
            op = _operation(info.name, matched[0])
            if op is not None:
                found.append(Route(info.name, protocol, op, matched[1]))
    if len(found) > 1:  # several models answer to the name (lambda, lambda-core, ...): the one moto serves
        found = [r for r in found if r.service == signing_name] or [r for r in found if r.service in _moto_backends()]
    return found[0] if len(found) == 1 else None


@functools.lru_cache(maxsize=1)
def _moto_backends() -> frozenset[str]:
    from moto.backend_index import backend_url_patterns

    return frozenset(name for name, _ in backend_url_patterns)


# --------------------------------------------------------------------------
# text-carried scalars


def scalar_from_text(shape: Shape, text: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        stripped = text.strip()
        if stripped.lstrip("+-").isdigit():
            return int(stripped)
        return Bad(text, kind)
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return Bad(text, kind)
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return Bad(text, kind)
    return text  # string, timestamp (any form a service reads), blob (base64 or raw)


# --------------------------------------------------------------------------
# query and EC2


def query_wire_name(protocol: str, shape: Shape, member_name: str) -> str:
    """A member's name on the wire of the query (``locationName``) or EC2
    (``queryName``, else the capitalized ``locationName``) protocol."""
    ser = shape.serialization
    if protocol == "ec2":
        if "queryName" in ser:
            return str(ser["queryName"])
        if "name" in ser:
            name = str(ser["name"])
            return name[:1].upper() + name[1:]
        return member_name
    return str(ser.get("locationNameForQueryCompatibility") or ser.get("name") or member_name)


@dataclass
class Decoded:
    params: dict[str, Any]
    unknown: list[tuple[str, list[str]]] = field(default_factory=list)  # (wire name, the names it could have been)


class _QueryDecoder:
    def __init__(self, protocol: str, flat: dict[str, str]):
        self.protocol = protocol
        self.flat = flat
        self.consumed: set[str] = set()

    def _present(self, prefix: str) -> bool:
        dotted = prefix + "."
        return prefix in self.flat or any(k.startswith(dotted) for k in self.flat)

    def _indices(self, prefix: str) -> list[int]:
        dotted = prefix + "."
        out = set()
        for key in self.flat:
            if key.startswith(dotted):
                head = key[len(dotted) :].split(".", 1)[0]
                if head.isdigit():
                    out.add(int(head))
        return sorted(out)

    def value(self, shape: Shape, prefix: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            if prefix and not self._present(prefix):
                return None
            out: dict[str, Any] = {}
            for name, member in shape.members.items():  # type: ignore[attr-defined]
                wire = query_wire_name(self.protocol, member, name)
                value = self.value(member, f"{prefix}.{wire}" if prefix else wire)
                if value is not None:
                    out[name] = value
            return out
        if kind == "list":
            member = shape.member  # type: ignore[attr-defined]
            if self.protocol == "ec2":
                item_prefix = prefix
            else:
                if self.flat.get(prefix) == "":
                    self.consumed.add(prefix)
                    return []
                if shape.serialization.get("flattened"):
                    location = member.serialization.get("name")
                    item_prefix = ".".join(prefix.split(".")[:-1] + [location]) if location else prefix
                else:
                    item_prefix = f"{prefix}.{member.serialization.get('name', 'member')}"
            indices = self._indices(item_prefix)
            if not indices:
                return None
            return [self.value(member, f"{item_prefix}.{i}") for i in indices]
        if kind == "map":
            key_shape, value_shape = shape.key, shape.value  # type: ignore[attr-defined]
            base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
            key_name = key_shape.serialization.get("name", "key")
            value_name = value_shape.serialization.get("name", "value")
            indices = self._indices(base)
            if not indices:
                return None
            out_map: dict[Any, Any] = {}
            for i in indices:
                k = self.value(key_shape, f"{base}.{i}.{key_name}")
                v = self.value(value_shape, f"{base}.{i}.{value_name}")
                if k is not None:
                    out_map[k if not isinstance(k, Bad) else k.text] = v
            return out_map
        if prefix not in self.flat:
            return None
        self.consumed.add(prefix)
        return scalar_from_text(shape, self.flat[prefix])


def decode_query(route: Route, values: dict[str, list[str]]) -> Decoded:
    flat = {
        k: v[-1]
        for k, v in values.items()
        if k not in _QUERY_RESERVED and not k.lower().startswith("x-amz-")
    }
    shape = route.operation.input_shape
    if shape is None:
        return Decoded({}, [(k, []) for k in flat])
    decoder = _QueryDecoder(route.protocol, flat)
    params = decoder.value(shape, "") or {}
    allowed = [query_wire_name(route.protocol, m, n) for n, m in shape.members.items()]  # type: ignore[attr-defined]
    unknown: dict[str, list[str]] = {}
    for key in flat:
        if key not in decoder.consumed:
            # a name no member has is named alone ("Item" for Item.1.ToPort, as EC2 does)
            head = key.split(".", 1)[0]
            unknown.setdefault(key if head in allowed else head, allowed)
    return Decoded(params, list(unknown.items()))


# --------------------------------------------------------------------------
# JSON


def decode_json(route: Route, body: bytes) -> Decoded | None:
    if not body.strip():
        return Decoded({})
    try:
        params = json.loads(body)
    except ValueError:
        return None
    if not isinstance(params, dict):
        return None
    return Decoded(params)


# --------------------------------------------------------------------------
# REST


def _xml_children(node: ElementTree.Element) -> dict[str, list[ElementTree.Element]]:
    out: dict[str, list[ElementTree.Element]] = {}
    for child in node:
        tag = child.tag.split("}", 1)[-1] if isinstance(child.tag, str) else ""
        out.setdefault(tag, []).append(child)
    return out


def _xml_member_name(shape: Shape, name: str) -> str:
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        inner = shape.member.serialization.get("name")  # type: ignore[attr-defined]
        if inner:
            return str(inner)
    return str(shape.serialization.get("name", name))


def _xml_value(shape: Shape, nodes: list[ElementTree.Element], unknown: list[tuple[str, list[str]]], where: str) -> Any:
    kind = shape.type_name
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]
        if shape.serialization.get("flattened"):
            items = nodes
        else:
            inner = str(member.serialization.get("name", "member"))
            items = []
            for node in nodes:
                for tag, children in _xml_children(node).items():
                    if tag == inner:
                        items.extend(children)
                    else:
                        unknown.append((f"{where}.{tag}", [inner]))
        return [_xml_value(member, [item], unknown, where) for item in items]
    node = nodes[0]
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        by_xml = {}
        for name, member in members.items():
            if member.serialization.get("location") or member.serialization.get("xmlAttribute"):
                continue
            by_xml[_xml_member_name(member, name)] = (name, member)
        out: dict[str, Any] = {}
        for tag, children in _xml_children(node).items():
            if tag not in by_xml:
                unknown.append((f"{where}.{tag}" if where else tag, list(by_xml)))
                continue
            name, member = by_xml[tag]
            out[name] = _xml_value(member, children, unknown, f"{where}.{tag}" if where else tag)
        return out
    if kind == "map":
        key_shape, value_shape = shape.key, shape.value  # type: ignore[attr-defined]
        key_name = key_shape.serialization.get("name", "key")
        value_name = value_shape.serialization.get("name", "value")
        entries = nodes if shape.serialization.get("flattened") else [e for n in nodes for e in n]
        result: dict[Any, Any] = {}
        for entry in entries:
            children = _xml_children(entry)
            k = children.get(key_name)
            v = children.get(value_name)
            if k:
                result[k[0].text or ""] = _xml_value(value_shape, v, unknown, where) if v else None
        return result
    return scalar_from_text(shape, node.text or "")


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError:
        return None


def decode_rest(route: Route, environ: dict[str, Any], query: dict[str, list[str]], body: bytes | None) -> Decoded | None:
    """``body`` is None when it was not read (the operation has no structure in it)."""
    shape = route.operation.input_shape
    if shape is None:
        return Decoded({})
    params: dict[str, Any] = {}
    unknown: list[tuple[str, list[str]]] = []
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        ser = member.serialization
        location = ser.get("location")
        wire = str(ser.get("name", name))
        if location == "uri":
            if wire in route.uri_params:
                params[name] = scalar_from_text(member, route.uri_params[wire])
        elif location == "querystring":
            if member.type_name == "map":
                continue  # the rest of the query string: nothing to check
            if wire in query:
                if member.type_name == "list":
                    params[name] = [scalar_from_text(member.member, v) for v in query[wire]]  # type: ignore[attr-defined]
                else:
                    params[name] = scalar_from_text(member, query[wire][-1])
        elif location == "header":
            text = _header(environ, wire)
            if text is not None:
                if member.type_name == "list":
                    params[name] = [scalar_from_text(member.member, v.strip()) for v in text.split(",")]  # type: ignore[attr-defined]
                else:
                    params[name] = scalar_from_text(member, text)
        elif location == "headers":
            prefix = "HTTP_" + wire.upper().replace("-", "_")
            found = {k[len(prefix) :].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        elif location in (None, ""):
            body_members[name] = member
    payload = shape.serialization.get("payload")
    if payload and payload in body_members and not rest_reads_body(route):
        params[payload] = UNREAD  # a stream (an object's bytes, a policy): present, not judged
    if body is None or not body_members:
        return Decoded(params, unknown)
    if payload:
        member = body_members.get(payload)
        if member is None:
            return Decoded(params, unknown)
        if member.type_name != "structure" or getattr(member, "is_document_type", False):
            if body:
                params[payload] = body
            return Decoded(params, unknown)
        if not body.strip():
            return Decoded(params, unknown)
        if route.protocol == "rest-xml":
            try:
                root = ElementTree.fromstring(body)
            except ElementTree.ParseError:
                return None
            params[payload] = _xml_value(member, [root], unknown, "")
        else:
            value = _json_body(body)
            if value is None:
                return None
            params[payload] = value
        return Decoded(params, unknown)
    if route.protocol == "rest-xml":
        if not body.strip():
            return Decoded(params, unknown)
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return None
        values = _xml_value(shape, [root], unknown, "")
        params.update({k: v for k, v in values.items() if k in body_members})
        return Decoded(params, unknown)
    value = _json_body(body)
    if not isinstance(value, dict):
        return None
    json_names = {str(m.serialization.get("name", n)): n for n, m in body_members.items()}
    for key, item in value.items():
        if key in json_names:
            params[json_names[key]] = item
        else:
            unknown.append((key, list(json_names)))
    return Decoded(params, unknown)


def rest_reads_body(route: Route) -> bool:
    """Whether the operation carries a structure (not a stream) in its body."""
    shape = route.operation.input_shape
    if shape is None:
        return False
    payload = shape.serialization.get("payload")
    members = shape.members  # type: ignore[attr-defined]
    if payload:
        member = members.get(payload)
        return member is not None and member.type_name == "structure" and not getattr(member, "is_document_type", False)
    return any(not m.serialization.get("location") for m in members.values())
