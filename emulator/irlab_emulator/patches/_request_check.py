"""An operation's input checked against its botocore input shape, the way an
AWS service's front end checks it: required members, unknown members, value
types, enum values, length, range and pattern constraints
(``request_validation`` turns the findings into each service's error).

Parameters arrive as ``_request_wire`` decodes them: member names of the
model, JSON values as sent, text-carried values (query strings, headers, XML)
already converted to the member's type or a :class:`Bad` holding the text that
would not convert.

Constraints are the model's: ``min``/``max`` are the length of a string (in
UTF-16 code units, as the services' Java front ends count), list, map or blob,
and the range of a number; ``pattern`` must match the whole value (as Java's
``String.matches`` does - AWS answers ``Value 'https://...' at 'stackName'
failed to satisfy constraint: Member must satisfy regular expression pattern:
[a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*`` for a value whose prefix alone
would match); ``enum`` lists the accepted strings. Patterns are Java regular
expressions: ``\\p{L}``-style classes, ``\\x{...}``, ``\\z`` and named groups
are translated; a pattern Python still cannot read is not checked (a false
refusal would be worse than a missed one).
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

log = logging.getLogger("irlab_emulator.request_validation")


class Bad:
    """A text-carried value that does not convert to its member's type."""

    def __init__(self, text: str, expected: str):
        self.text = text
        self.expected = expected

    def __repr__(self) -> str:
        return f"Bad({self.text!r}, {self.expected})"


class Unread:
    """A streamed payload the check did not read: present, not judged."""


UNREAD = Unread()


@dataclass
class Violation:
    """One finding. ``path`` holds member names and 0-based list indices
    (``("Tags", 0, "Key")``); ``wire`` the names the protocol sent them under."""

    kind: str  # "unknown" | "missing" | "type" | "constraint"
    path: tuple[Any, ...]
    wire: tuple[str, ...]
    value: Any = None
    constraints: list[str] = field(default_factory=list)
    aggregate: str | None = None  # "Member" | "Map keys" | "Map value" for element constraints
    expected: str | None = None  # the type a "type" violation wanted
    allowed: list[str] = field(default_factory=list)  # the members an "unknown" one could have been
    sensitive: bool = False
    newer_model_excusable: bool = False  # an unknown member or enum value a newer model may have


# --------------------------------------------------------------------------
# Java regular expressions


_POSIX = {
    "ASCII": [(0, 0x7F)],
    "Alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "Alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "Lower": [(0x61, 0x7A)],
    "Upper": [(0x41, 0x5A)],
    "Digit": [(0x30, 0x39)],
    "XDigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
    "Punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "Graph": [(0x21, 0x7E)],
    "Print": [(0x20, 0x7E)],
    "Blank": [(0x09, 0x09), (0x20, 0x20)],
    "Cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "Space": [(0x09, 0x0D), (0x20, 0x20)],
    "all": [(0, sys.maxunicode)],
}
_ranges_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _general_categories() -> dict[str, tuple[tuple[int, int], ...]]:
    """Unicode general category (``Lu``) -> its code point ranges, in one pass."""
    out: dict[str, list[tuple[int, int]]] = {}
    current, start = None, 0
    for cp in range(sys.maxunicode + 2):
        cat = None if cp > sys.maxunicode or 0xD800 <= cp <= 0xDFFF else unicodedata.category(chr(cp))
        if cat != current:
            if current is not None:
                out.setdefault(current, []).append((start, cp - 1))
            current, start = cat, cp
    return {k: tuple(v) for k, v in out.items()}


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _category_ranges(name: str) -> tuple[tuple[int, int], ...] | None:
    """Code point ranges of a Java ``\\p{name}`` class (None: unknown)."""
    if name in _POSIX:
        return tuple(_POSIX[name])
    for prefix in ("Is", "In"):
        if name.startswith(prefix) and len(name) > 2:
            name = name[2:]
    if name == "Whitespace":
        return tuple((cp, cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace())
    with _ranges_lock:
        categories = _general_categories()
    if name == "Alphabetic":  # letters, letter numbers and combining marks (lenient)
        wanted = [c for c in categories if c[0] in "LM" or c == "Nl"]
    elif len(name) == 1 and name in "LMNPSZC":
        wanted = [c for c in categories if c[0] == name]
    elif len(name) == 2 and name in categories:
        wanted = [name]
    else:
        return None
    return _merge([r for c in wanted for r in categories[c]])


def _complement(ranges: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    out, nxt = [], 0
    for lo, hi in sorted(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= sys.maxunicode:
        out.append((nxt, sys.maxunicode))
    return out


def _class_text(ranges: Any) -> str:
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


_SHORTHAND = set("wWsSdD")


def java_to_python(pattern: str) -> str | None:
    """The Python ``re`` form of a Java regular expression (None: not translatable)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = False
    after_class_escape = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP":
                if i + 2 < n and pattern[i + 2] == "{":
                    end = pattern.find("}", i + 3)
                    if end < 0:
                        return None
                    name, i_next = pattern[i + 3 : end], end + 1
                else:
                    name, i_next = pattern[i + 2 : i + 3], i + 3
                ranges = _category_ranges(name)
                if ranges is None:
                    return None
                text = _class_text(ranges if nxt == "p" else _complement(ranges))
                out.append(text if in_class else f"[{text}]")
                i = i_next
                after_class_escape = in_class
                class_start = False
                continue
            if nxt == "x" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                if end < 0:
                    return None
                out.append(f"\\U{int(pattern[i + 3 : end], 16):08x}")
                i = end + 1
                after_class_escape = False
                class_start = False
                continue
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if nxt == "z" and not in_class:
                out.append(r"\Z")
                i += 2
                continue
            if nxt == "Z" and not in_class:
                out.append(r"(?=\n?\Z)")
                i += 2
                continue
            if nxt == "u" and re.match(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}", pattern[i : i + 12]):
                high, low = int(pattern[i + 2 : i + 6], 16), int(pattern[i + 8 : i + 12], 16)
                out.append(f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}")  # a UTF-16 pair: one code point
                i += 12
                after_class_escape = False
                class_start = False
                continue
            if nxt in "hHvVRXkKG":
                return None
            out.append(pattern[i : i + 2])
            after_class_escape = in_class and nxt in _SHORTHAND
            class_start = False
            i += 2
            continue
        if in_class:
            if ch == "[" :
                return None  # Java's nested classes and unions
            if ch == "&" and pattern.startswith("&&", i):
                return None  # intersections
            if ch == "]" and not class_start:
                in_class = False
                out.append(ch)
            elif ch == "-" and after_class_escape:
                out.append(r"\-")
            elif ch in "|~":  # literal in a Java class; Python reads doubled ones as future set operators
                out.append("\\" + ch)
            else:
                out.append(ch)
            class_start = class_start and ch == "^"
            after_class_escape = False
            i += 1
            continue
        if ch == "[":
            in_class = True
            class_start = True
            out.append(ch)
            if i + 1 < n and pattern[i + 1] == "^":
                out.append("^")
                i += 1
            i += 1
            continue
        if ch == "(" and pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def compiled(pattern: str) -> re.Pattern[str] | None:
    text = java_to_python(pattern)
    if text is None:
        log.debug("pattern not checked (no Python equivalent): %s", pattern)
        return None
    try:
        return re.compile(text, re.DOTALL if "(?s)" in pattern else 0)
    except re.error as exc:
        log.debug("pattern not checked (%s): %s", exc, pattern)
        return None


# --------------------------------------------------------------------------
# constraints


def _utf16_len(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def _number(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# Limits AWS documents for a shape that botocore's model leaves out: CloudFormation
# takes a TemplateBody of at most 51,200 bytes (larger templates go by TemplateURL
# from S3, up to 1 MB); the model says only ``min: 1``.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
DOCUMENTED_LIMITS: dict[str, dict[str, int]] = {"TemplateBody": {"max": 51200}}


def constraint_texts(shape: Shape) -> list[tuple[str, Callable[[Any], bool]]]:
    """The shape's constraints as AWS words them, each with a test that holds
    for a valid value, in the order AWS lists them for an element
    (``[Member must have length less than or equal to 256, Member must have
    length greater than or equal to 0, Member must satisfy regular expression
    pattern: ...]``)."""
    meta = {**shape.metadata, **DOCUMENTED_LIMITS.get(shape.name, {})}
    kind = shape.type_name
    out: list[tuple[str, Callable[[Any], bool]]] = []
    low, high = meta.get("min"), meta.get("max")
    if kind in ("string", "list", "map", "blob"):
        def size(v: Any) -> int:
            return _utf16_len(v) if isinstance(v, str) and kind == "string" else len(v)

        if high is not None:
            out.append((f"Member must have length less than or equal to {_number(high)}", lambda v: size(v) <= high))
        if low is not None:
            # An empty list or map passes: botocore sends one without complaint
            # (it checks no map's length) and services are not known to refuse it.
            out.append(
                (
                    f"Member must have length greater than or equal to {_number(low)}",
                    lambda v: size(v) >= low or (kind in ("list", "map") and size(v) == 0),
                )
            )
    if kind == "string":
        pattern = meta.get("pattern")
        regex = compiled(pattern) if pattern else None
        if regex is not None:
            out.append((f"Member must satisfy regular expression pattern: {pattern}", lambda v: regex.fullmatch(v) is not None))
        enum = list(getattr(shape, "enum", None) or [])
        if enum:
            out.append((f"Member must satisfy enum value set: [{', '.join(enum)}]", lambda v: v in enum))
    if kind in ("integer", "long", "float", "double", "bigdecimal", "biginteger"):
        def num(v: Any) -> float:
            return float(v)

        if high is not None:
            out.append((f"Member must have value less than or equal to {_number(high)}", lambda v: num(v) <= high))
        if low is not None:
            out.append((f"Member must have value greater than or equal to {_number(low)}", lambda v: num(v) >= low))
    return out


# AWS lists one value's failed constraints pattern first, then length
# ("Value '' at 'stackName' failed to satisfy constraint: Member must satisfy
# regular expression pattern: ...; Value '' at 'stackName' failed to satisfy
# constraint: Member must have length greater than or equal to 1").
def _report_order(text: str) -> int:
    return 0 if "regular expression" in text else 1 if "enum" in text else 2


# --------------------------------------------------------------------------
# the walk


_TYPES = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "float": "Float",
    "double": "Double",
    "boolean": "Boolean",
    "timestamp": "Date",
    "blob": "Blob",
    "list": "List",
    "map": "Map",
    "structure": "Structure",
}


def _type_ok(shape: Shape, value: Any) -> bool:
    kind = shape.type_name
    if isinstance(value, Bad):
        return False
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind in ("float", "double", "bigdecimal"):
        return (isinstance(value, (int, float)) and not isinstance(value, bool)) or value in (
            "NaN",
            "Infinity",
            "-Infinity",
        )
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "timestamp":
        return isinstance(value, (int, float, str)) and not isinstance(value, bool)
    if kind == "blob":
        return isinstance(value, (str, bytes, bytearray))
    if kind == "list":
        return isinstance(value, list)
    if kind in ("map", "structure"):
        return isinstance(value, dict)
    return True


@dataclass
class Walk:
    """One request's walk: ``wire_name(member_shape, member_name)`` gives the
    protocol's name for a member (for EC2's and S3's messages);
    ``check_unknown_keys``: keys no member has are unknown members (JSON bodies;
    the query and XML decoders report theirs themselves)."""

    wire_name: Callable[[Shape, str], str]
    check_unknown_keys: bool
    json_names: bool = False  # dict keys are the members' JSON names (``locationName``)
    top_by_member_name: bool = False  # ... except the input's own, keyed by member name (REST)
    out: list[Violation] = field(default_factory=list)

    def structure(self, shape: Shape, value: dict[str, Any], path: tuple[Any, ...], wire: tuple[str, ...], top: bool) -> None:
        members = shape.members  # type: ignore[attr-defined]
        json_keys = self.json_names and not (top and self.top_by_member_name)
        by_key = {}
        for name, member in members.items():
            key = member.serialization.get("name", name) if json_keys else name
            by_key[key] = (name, member)
        required = [r for r in shape.required_members if r in members]  # type: ignore[attr-defined]
        for name in required:
            member = members[name]
            key = member.serialization.get("name", name) if json_keys else name
            if member.serialization.get("hostLabel") or member.metadata.get("idempotencyToken"):
                continue
            if value.get(key) is None:
                self.out.append(
                    Violation("missing", path + (name,), wire + (self.wire_name(member, name),), None, ["Member must not be null"])
                )
        if self.check_unknown_keys:
            unknown = [k for k in value if k not in by_key]
            for key in unknown:
                self.out.append(
                    Violation(
                        "unknown",
                        path + (key,),
                        wire + (key,),
                        value[key],
                        allowed=list(by_key),
                        newer_model_excusable=True,
                    )
                )
        for key, item in value.items():
            if key not in by_key or item is None:
                continue
            name, member = by_key[key]
            self.value(member, item, path + (name,), wire + (self.wire_name(member, name),))

    def value(self, shape: Shape, value: Any, path: tuple[Any, ...], wire: tuple[str, ...]) -> None:
        kind = shape.type_name
        if getattr(shape, "is_document_type", False) or value is UNREAD:
            return
        sensitive = bool(shape.metadata.get("sensitive"))
        if not _type_ok(shape, value):
            self.out.append(
                Violation(
                    "type",
                    path,
                    wire,
                    value.text if isinstance(value, Bad) else value,
                    expected=_TYPES.get(kind, kind),
                    sensitive=sensitive,
                )
            )
            return
        failed = [text for text, ok in constraint_texts(shape) if not _safe(ok, value)]
        enum_miss = [t for t in failed if "enum value set" in t]
        for text in sorted(failed, key=_report_order):
            self.out.append(
                Violation(
                    "constraint",
                    path,
                    wire,
                    value,
                    [text],
                    sensitive=sensitive,
                    newer_model_excusable=text in enum_miss,
                )
            )
        if kind == "structure":
            self.structure(shape, value, path, wire, top=False)
        elif kind == "list":
            member = shape.member  # type: ignore[attr-defined]
            if member.type_name in ("structure", "list", "map"):
                for i, item in enumerate(value):
                    if item is not None:
                        self.value(member, item, path + (i,), wire + (str(i + 1),))
            else:
                self._elements("Member", member, value, path, wire)
        elif kind == "map":
            self._elements("Map keys", shape.key, list(value), path, wire, whole=value)  # type: ignore[attr-defined]
            val_shape = shape.value  # type: ignore[attr-defined]
            if val_shape.type_name in ("structure", "list", "map"):
                for k, item in value.items():
                    if item is not None:
                        self.value(val_shape, item, path + (k,), wire + (str(k),))
            else:
                self._elements("Map value", val_shape, list(value.values()), path, wire, whole=value)

    def _elements(
        self, aggregate: str, shape: Shape, items: list[Any], path: tuple[Any, ...], wire: tuple[str, ...], whole: Any = None
    ) -> None:
        """Scalar elements: a wrong type is reported at the element, failed
        constraints once for the collection, listing all the element's
        constraints (``Map value must satisfy constraint: [...]``)."""
        texts = constraint_texts(shape)
        failed: list[str] = []
        for i, item in enumerate(items):
            if item is None:
                continue
            if not _type_ok(shape, item):
                self.out.append(
                    Violation(
                        "type",
                        path + (i,),
                        wire + (str(i + 1),),
                        item.text if isinstance(item, Bad) else item,
                        expected=_TYPES.get(shape.type_name, shape.type_name),
                    )
                )
                continue
            failed += [t for t, ok in texts if not _safe(ok, item) and t not in failed]
        if failed:
            self.out.append(
                Violation(
                    "constraint",
                    path,
                    wire,
                    items if whole is None else whole,
                    [t for t, _ in texts],
                    aggregate=aggregate,
                    sensitive=bool(shape.metadata.get("sensitive")),
                    newer_model_excusable=all("enum value set" in t for t in failed),
                )
            )


def _safe(test: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(test(value))
    except (TypeError, ValueError, OverflowError):
        return True  # a value the test cannot read is the type check's business


def check(shape: Shape | None, params: dict[str, Any], walk: Walk) -> list[Violation]:
    """Every violation of ``params`` against the input ``shape``."""
    if shape is None:
        return walk.out
    walk.structure(shape, params, (), (), top=True)
    return walk.out
