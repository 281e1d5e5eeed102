"""CloudWatch Logs filter patterns (FilterLogEvents), as documented in
"Filter pattern syntax for metric filters, subscription filters, filter log
events, and Live Tail":

* ``""`` (or only blanks) matches every event;
* terms: ``ERROR Exception`` - every term must occur in the message;
  ``"BAD REQUEST"`` / ``"abc-123"`` - a quoted term (needed for spaces and
  characters other than letters and digits) is matched as written;
  ``?ERROR ?WARN`` - any of the ``?`` terms; ``-Exiting`` - events containing
  the term are left out.  Matching is case sensitive (substring of the message);
* JSON: ``{ $.kind = "sns" }``, ``{ $.severity >= 5 }``, ``&&``, ``||``,
  parentheses, ``=``/``!=`` with ``*`` wildcards in strings, numeric
  comparisons, ``IS NULL``, ``IS TRUE``/``IS FALSE``, ``NOT EXISTS``;
  selectors ``$.a.b``, ``$.a[0]``, ``$.a[*]``; a message that is not a JSON
  object does not match;
* regular expressions: ``%...%`` (Python's ``re``; the documented subset);
* space-delimited patterns (``[a, b, ...]``) are not evaluated: they are
  refused with ``InvalidParameterException`` instead of matching everything
  as moto did with any pattern it could not read.

:func:`compile_pattern` returns ``message -> bool`` or raises
:class:`PatternError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[str], bool]


class PatternError(ValueError):
    pass


def compile_pattern(pattern: str | None) -> Matcher:
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        return _JsonPattern(text).matcher()
    if text.startswith("["):
        raise PatternError("the stand-in does not evaluate space-delimited filter patterns ([...])")
    if len(text) >= 2 and text.startswith("%") and text.endswith("%"):
        try:
            regex = re.compile(text[1:-1])
        except re.error as exc:
            raise PatternError(f"invalid regular expression in filter pattern: {exc}") from exc
        return lambda message: regex.search(message) is not None
    return _terms(text)


# --------------------------------------------------------------------------
# terms


def _terms(text: str) -> Matcher:
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        kind = None
        if text[i] in "?-":
            kind = text[i]
            i += 1
        if i < len(text) and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise PatternError(f"unbalanced quotes in filter pattern: {text}")
            term = text[i + 1 : end]
            i = end + 1
        else:
            start = i
            while i < len(text) and not text[i].isspace():
                if text[i] == '"':
                    raise PatternError(f"a quote inside a term of the filter pattern: {text}")
                i += 1
            term = text[start:i]
        if not term:
            raise PatternError(f"empty term in filter pattern: {text}")
        {"?": optional, "-": excluded, None: required}[kind].append(term)

    def matches(message: str) -> bool:
        if any(term not in message for term in required):
            return False
        if any(term in message for term in excluded):
            return False
        return not optional or any(term in message for term in optional)

    return matches


# --------------------------------------------------------------------------
# JSON


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) | (?P<and>&&) | (?P<or>\|\|)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<selector>\$(?:\.[^\s.\[\]()=!<>&|]+|\[(?:\d+|\*)\])*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<word>[^\s()=!<>&|"]+)
    )""",
    re.VERBOSE,
)

_MISSING = object()


class _JsonPattern:
    def __init__(self, text: str):
        if not text.endswith("}"):
            raise PatternError(f"a JSON filter pattern must end with }}: {text}")
        self.text = text
        self.tokens = self._tokenize(text[1:-1])
        self.pos = 0

    @staticmethod
    def _tokenize(body: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        body = body.rstrip()
        while pos < len(body):
            match = _TOKEN.match(body, pos)
            if not match or match.end() == pos:
                raise PatternError(f"cannot read the JSON filter pattern at: {body[pos:]!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            pos = match.end()
        return tokens

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self, kind: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (kind and token[0] != kind):
            raise PatternError(f"unexpected {'end' if token is None else token[1]!r} in filter pattern {self.text}")
        self.pos += 1
        return token

    def matcher(self) -> Matcher:
        expression = self._or()
        if self._peek() is not None:
            raise PatternError(f"unexpected {self._peek()[1]!r} in filter pattern {self.text}")  # type: ignore[index]

        def matches(message: str) -> bool:
            try:
                document = json.loads(message)
            except ValueError:
                return False
            return isinstance(document, dict) and expression(document)

        return matches

    def _or(self) -> Callable[[Any], bool]:
        parts = [self._and()]
        while self._peek() and self._peek()[0] == "or":  # type: ignore[index]
            self._next()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda doc: any(p(doc) for p in parts))

    def _and(self) -> Callable[[Any], bool]:
        parts = [self._primary()]
        while self._peek() and self._peek()[0] == "and":  # type: ignore[index]
            self._next()
            parts.append(self._primary())
        return parts[0] if len(parts) == 1 else (lambda doc: all(p(doc) for p in parts))

    def _primary(self) -> Callable[[Any], bool]:
        token = self._peek()
        if token and token[0] == "lparen":
            self._next()
            inner = self._or()
            self._next("rparen")
            return inner
        return self._comparison()

    def _comparison(self) -> Callable[[Any], bool]:
        selector = _selector(self._next("selector")[1])
        token = self._next()
        if token[0] == "word" and token[1].upper() in ("IS", "NOT"):
            first = token[1].upper()
            second = self._next("word")[1].upper()
            if first == "IS" and second == "NULL":
                return lambda doc: any(v is None for v in selector(doc))
            if first == "IS" and second in ("TRUE", "FALSE"):
                wanted = second == "TRUE"
                return lambda doc: any(v is wanted for v in selector(doc))
            if first == "NOT" and second == "EXISTS":
                return lambda doc: not selector(doc)
            raise PatternError(f"unknown condition {first} {second} in filter pattern {self.text}")
        if token[0] != "op":
            raise PatternError(f"expected a comparison after the selector in filter pattern {self.text}")
        op = token[1]
        kind, raw = self._next()
        if kind == "string":
            value: Any = json.loads(raw)
            quoted = True
        elif kind == "word":
            value, quoted = raw, False
        else:
            raise PatternError(f"expected a value after {op} in filter pattern {self.text}")
        number = _number(value) if not quoted else None
        if op in ("<", "<=", ">", ">="):
            if number is None:
                raise PatternError(f"{op} needs a number in filter pattern {self.text}")
            compare = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}[op]
            return lambda doc: any(
                isinstance(v, (int, float)) and not isinstance(v, bool) and compare(float(v), number) for v in selector(doc)
            )

        def equal(v: Any) -> bool:
            if number is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v) == number
            if isinstance(v, str):
                return _wildcard(str(value), v)
            if isinstance(v, bool) or v is None:
                return False
            if isinstance(v, (int, float)):
                return _wildcard(str(value), json.dumps(v))
            return False

        if op == "=":
            return lambda doc: any(equal(v) for v in selector(doc))
        return lambda doc: bool(selector(doc)) and not any(equal(v) for v in selector(doc))


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _wildcard(pattern: str, value: str) -> bool:
    if "*" not in pattern:
        return pattern == value
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, re.DOTALL) is not None


_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]")


def _selector(text: str) -> Callable[[Any], list[Any]]:
    steps: list[tuple[str, str]] = []
    for match in _STEP.finditer(text, 1):
        if match.group(1) is not None:
            steps.append(("*", "") if match.group(1) == "*" else ("key", match.group(1)))
        else:
            steps.append(("*", "") if match.group(2) == "*" else ("index", match.group(2)))

    def select(document: Any) -> list[Any]:
        values = [document]
        for kind, arg in steps:
            nxt: list[Any] = []
            for value in values:
                if kind == "key" and isinstance(value, dict) and arg in value:
                    nxt.append(value[arg])
                elif kind == "index" and isinstance(value, list) and int(arg) < len(value):
                    nxt.append(value[int(arg)])
                elif kind == "*" and isinstance(value, list):
                    nxt.extend(value)
                elif kind == "*" and isinstance(value, dict):
                    nxt.extend(value.values())
            values = nxt
        return values

    return select
