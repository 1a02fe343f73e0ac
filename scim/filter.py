"""SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2): parse, print and evaluate.

Plain functions over dicts; nothing here imports Flask.

The AST (frozen dataclasses, so parsed filters can be compared and cached):
- ``AttrPath(urn, attr, sub)``: ``[urn:]attr[.sub]`` as written (names keep their case).
- ``Compare(path, op, value)``: ``op`` is lower-case, one of eq ne co sw ew gt ge lt le;
  ``value`` is str, bool, int, float or None (``null``).
- ``Present(path)``: ``attr pr``.
- ``And(left, right)``, ``Or(left, right)``, ``Not(expr)``.
- ``ValuePath(path, filter)``: ``emails[type eq "work"]``; paths inside ``filter`` are
  relative to the multi-valued attribute (``AttrPath(None, "type", None)``).
- ``PatchPath(path, filter, sub)``: a PATCH ``path`` (RFC 7644 §3.5.2 PATH grammar), e.g.
  ``emails[type eq "work"].value`` → ``PatchPath(AttrPath(None, "emails", None), <filter>,
  "value")``.

Choices the RFC leaves open:
- Parsing is liberal where IdPs are sloppy: keywords are case-insensitive, any run of
  whitespace separates tokens, and an unquoted value that is not true/false/null or a number
  is a string (``userName eq john@example.com``). ``not`` must be followed by ``(``.
- A path that names no attribute behaves like an attribute without a value. Against a missing
  value ``ne`` is true and every other operator false; ``eq null`` means "not present".
- ``co``/``sw``/``ew`` on a boolean, number or binary attribute raise InvalidFilter, like the
  ``gt``/``ge``/``lt``/``le`` cases RFC 7644 §3.4.2.2 names.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Union

from scim.attributes import CORE_GROUP, CORE_USER, ENTERPRISE_USER, Attribute, ResourceType
from scim.errors import InvalidFilter, InvalidPath


@dataclass(frozen=True)
class AttrPath:
    urn: str | None
    attr: str
    sub: str | None = None


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: str | bool | int | float | None


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class ValuePath:
    path: AttrPath
    filter: Expr


Expr = Union[Compare, Present, And, Or, Not, ValuePath]  # noqa: UP007


@dataclass(frozen=True)
class PatchPath:
    path: AttrPath
    filter: Expr | None = None
    sub: str | None = None


# --- limits -----------------------------------------------------------------------------------

MAX_LENGTH = 4096  # characters in one filter or path
MAX_DEPTH = 50  # nested groups: "(...)", "not (...)" and "[...]"
# "and"/"or" in one filter. Chains nest in the tree, and the dataclasses compare and hash
# recursively: 500 chained "a pr or" fit in MAX_LENGTH and overflow the stack in "==".
MAX_OPERATORS = 100

# The schema URNs that may stand alone as a path ("the whole extension"); callers that know a
# resource type pass its ``schema_ids`` instead.
DEFAULT_URNS = (CORE_USER, CORE_GROUP, ENTERPRISE_USER)

_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
_RESERVED = frozenset({"and", "or", "not"})
_TEXT_OPS = ("co", "sw", "ew")

# RFC 7644 §3.4.2.2 (Figure 1): ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT /
# ALPHA; "$ref" is the one name outside that rule (RFC 7643 §2.3.7).
_NAME = r"(?:[A-Za-z][A-Za-z0-9_-]*|\$ref)"
_NAME_RE = re.compile(_NAME)
_ATTR_RE = re.compile(rf"({_NAME})(?:\.({_NAME}))?")
_URN_RE = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9._:+%-]*", re.IGNORECASE)
# RFC 7159 §6 number, the JSON form RFC 7644 §3.4.2.2 takes compValue from.
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_TOKEN_RE = re.compile(r'\s*(?:([()\[\]])|("(?:[^"\\]|\\.)*")|([^\s()\[\]"]+)|("))', re.DOTALL)


# --- tokens and paths -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "(" ")" "[" "]" "string" "word" "end"
    text: str
    pos: int  # 0-based offset into the filter text


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into brackets, JSON strings and words (anything else up to a space)."""
    tokens, pos = [], 0
    while True:
        match = _TOKEN_RE.match(text, pos)
        if match is None:  # only trailing whitespace is left
            tokens.append(_Token("end", "", len(text)))
            return tokens
        bracket, string, word, stray = match.groups()
        start = match.start(match.lastindex)
        if stray:
            raise InvalidFilter(f"Unterminated string at position {start + 1}.")
        kind = bracket or ("string" if string else "word")
        tokens.append(_Token(kind, match.group(match.lastindex), start))
        pos = match.end()


def _split_path(text: str, known_urns: tuple[str, ...]) -> AttrPath | None:
    """Split ``[urn:]attr[.sub]`` into an AttrPath, or return None if it is not one."""
    urn = None
    if text[:4].lower() == "urn:":
        if any(text.lower() == u.lower() for u in known_urns):
            return AttrPath(text, "")  # a bare schema URN: the whole extension
        # RFC 7644 §3.10: the attribute follows the schema URN after its last colon.
        urn, _, text = text.rpartition(":")
        if not _URN_RE.fullmatch(urn):
            return None
    match = _ATTR_RE.fullmatch(text)
    return AttrPath(urn, match[1], match[2]) if match else None


def _path_text(path: AttrPath) -> str:
    text = ":".join(p for p in (path.urn, path.attr) if p)
    return f"{text}.{path.sub}" if path.sub else text


def _literal(token: _Token) -> str | bool | int | float | None:
    """Return the compValue a token spells (RFC 7644 §3.4.2.2), or raise InvalidFilter."""
    if token.kind == "string":
        try:
            return json.loads(token.text)
        except json.JSONDecodeError as exc:
            raise InvalidFilter(f"Invalid string at position {token.pos + 1}: {exc.msg}.") from None
    lowered = token.text.lower()
    if token.kind != "word" or lowered in _RESERVED:
        raise InvalidFilter(f"Expected a value at position {token.pos + 1}.")
    # RFC 7644 §3.4.2.2: false / null / true are case-insensitive keywords.
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    number = _NUMBER_RE.fullmatch(token.text)
    if number:
        return float(token.text) if number[1] or number[2] else int(token.text)
    # Not RFC syntax: IdPs send unquoted values (userName eq john@example.com, bare GUIDs).
    return token.text


# --- the parser -------------------------------------------------------------------------------


class _Parser:
    """A recursive-descent parser for RFC 7644 §3.4.2.2 Figure 1; depth is bounded."""

    def __init__(self, text: str, known_urns: tuple[str, ...] = DEFAULT_URNS):
        if len(text) > MAX_LENGTH:
            raise InvalidFilter(f"The filter is longer than {MAX_LENGTH} characters.")
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.operators = 0
        self.in_value_path = False
        self.known_urns = known_urns

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def next(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def is_word(self, token: _Token, *words: str) -> bool:
        return token.kind == "word" and token.text.lower() in words

    def fail(self, expected: str, token: _Token) -> InvalidFilter:
        found = "the end" if token.kind == "end" else repr(token.text)
        return InvalidFilter(f"Expected {expected} at position {token.pos + 1}, found {found}.")

    def expect(self, kind: str) -> None:
        if self.peek().kind != kind:
            raise self.fail(repr(kind), self.peek())
        self.next()

    def filter(self) -> Expr:
        """FILTER: or-terms of and-terms of unary terms (precedence not > and > or)."""
        left = self.conjunction()
        while self.is_word(self.peek(), "or"):
            self.operator()
            left = Or(left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.unary()
        while self.is_word(self.peek(), "and"):
            self.operator()
            left = And(left, self.unary())
        return left

    def operator(self) -> None:
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise InvalidFilter(f"The filter uses 'and'/'or' more than {MAX_OPERATORS} times.")
        self.next()

    def unary(self) -> Expr:
        token = self.peek()
        # RFC 7644 §3.4.2.2: *1"not" "(" FILTER ")"; "not" only negates a parenthesised filter.
        if self.is_word(token, "not"):
            self.next()
            if self.peek().kind != "(":
                raise self.fail("'(' after 'not'", self.peek())
            return Not(self.group("(", ")"))
        if token.kind == "(":
            return self.group("(", ")")
        if token.kind != "word" or token.text.lower() in _RESERVED:
            raise self.fail("an attribute path, '(' or 'not'", token)
        return self.attribute_expression()

    def group(self, opening: str, closing: str) -> Expr:
        self.expect(opening)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidFilter(f"The filter nests deeper than {MAX_DEPTH} levels.")
        inner = self.filter()
        self.expect(closing)
        self.depth -= 1
        return inner

    def path(self) -> AttrPath:
        token = self.next()
        path = _split_path(token.text, self.known_urns) if token.kind == "word" else None
        if path is None:
            raise self.fail("an attribute path", token)
        return path

    def value_path(self, path: AttrPath) -> ValuePath:
        """valuePath = attrPath "[" valFilter "]" (RFC 7644 §3.4.2.2)."""
        bracket = self.peek()
        if self.in_value_path:
            raise InvalidFilter(f"Value paths cannot nest (position {bracket.pos + 1}).")
        if path.sub is not None or not path.attr:
            raise InvalidFilter(f"'[' must follow an attribute name (position {bracket.pos + 1}).")
        self.in_value_path = True
        inner = self.group("[", "]")
        self.in_value_path = False
        return ValuePath(path, inner)

    def attribute_expression(self) -> Expr:
        """attrExp = (attrPath SP "pr") / (attrPath SP compareOp SP compValue), or a valuePath."""
        path = self.path()
        if self.peek().kind == "[":
            return self.value_path(path)
        token = self.next()
        op = token.text.lower() if token.kind == "word" else ""
        if op == "pr":
            return Present(path)
        if op not in _OPERATORS:
            raise self.fail("an operator (eq ne co sw ew gt ge lt le pr)", token)
        return Compare(path, op, _literal(self.next()))

    def finish(self) -> None:
        token = self.peek()
        if token.kind != "end":
            raise self.fail("'and', 'or' or the end of the filter", token)


def parse_filter(text: str) -> Expr:
    """Parse a ``filter`` query parameter (RFC 7644 §3.4.2.2) into an expression tree."""
    parser = _Parser(text)
    if parser.peek().kind == "end":
        raise InvalidFilter("The filter is empty.")
    expr = parser.filter()
    parser.finish()
    return expr


def parse_attr_path(text: str, known_urns: tuple[str, ...] = DEFAULT_URNS) -> AttrPath:
    """Parse an ``attributes``/``excludedAttributes``/``sortBy`` name (RFC 7644 §3.10).

    A bare schema URN from ``known_urns`` means the whole schema: ``AttrPath(urn, "")``.
    """
    path = _split_path(text.strip(), known_urns)
    if path is None:
        raise InvalidFilter(f"{text!r} is not an attribute path.")
    return path


def parse_path(text: str, known_urns: tuple[str, ...] = DEFAULT_URNS) -> PatchPath:
    """Parse a PATCH ``path``: PATH = attrPath / valuePath [subAttr] (RFC 7644 §3.5.2)."""
    try:
        parser = _Parser(text, known_urns)
        path = parser.path()
        value_filter, sub = None, None
        if parser.peek().kind == "[":
            value_filter = parser.value_path(path).filter
            token = parser.peek()
            if token.kind == "word":
                # The subAttr after "]" (RFC 7644 §3.5.2): ".value" in emails[...].value.
                if not (token.text.startswith(".") and _NAME_RE.fullmatch(token.text[1:])):
                    raise parser.fail("'.' and a sub-attribute name", token)
                sub = parser.next().text[1:]
        if parser.peek().kind != "end":
            raise parser.fail("the end of the path", parser.peek())
    except InvalidFilter as exc:
        raise InvalidPath(f"Invalid path {text!r}: {exc.detail}") from None
    return PatchPath(path, value_filter, sub)


# --- printing ---------------------------------------------------------------------------------


def _chain(expr: And | Or) -> list[Expr]:
    """Return the operands of a left-nested and/or chain, walking it without recursion."""
    kind, operands = type(expr), []
    while isinstance(expr, kind):
        operands.append(expr.right)
        expr = expr.left
    operands.append(expr)
    return operands[::-1]


def to_string(expr: Expr) -> str:
    """Print ``expr`` as a filter that parses back to an equal tree."""
    if isinstance(expr, Compare):
        value = json.dumps(expr.value, ensure_ascii=False)
        return f"{_path_text(expr.path)} {expr.op} {value}"
    if isinstance(expr, Present):
        return f"{_path_text(expr.path)} pr"
    if isinstance(expr, Not):
        return f"not ({to_string(expr.expr)})"
    if isinstance(expr, ValuePath):
        return f"{_path_text(expr.path)}[{to_string(expr.filter)}]"
    # The parser nests chains to the left; a right operand of the same kind, or an "or" under
    # an "and", needs parentheses to come back the same.
    first, *rest = _chain(expr)
    word, wrap = (" and ", (And, Or)) if isinstance(expr, And) else (" or ", (Or,))
    parts = [f"({to_string(first)})" if isinstance(first, Or) else to_string(first)]
    parts += [f"({to_string(e)})" if isinstance(e, wrap) else to_string(e) for e in rest]
    return word.join(parts)


# --- evaluation -------------------------------------------------------------------------------

# ``schemas`` is no attribute (RFC 7643 §3), but RFC 7644 §3.4.2.2 filters on it in an example.
_SCHEMAS = Attribute("schemas", type="reference", multi_valued=True)

# A lookup turns a path into (the values it reaches, the attribute describing them), or None
# when the path names no attribute.
_Lookup = Callable[[AttrPath], tuple[list, Attribute] | None]


def matches(expr: Expr, resource: dict, rtype: ResourceType) -> bool:
    """Return whether a stored ``resource`` of type ``rtype`` satisfies ``expr``.

    Paths resolve through ``rtype.resolve``; a path that names no attribute behaves like an
    attribute without a value. Raises InvalidFilter for comparisons RFC 7644 §3.4.2.2 rules out.
    """

    def lookup(path: AttrPath) -> tuple[list, Attribute] | None:
        resolved = rtype.resolve(path.urn, path.attr, path.sub)
        if resolved is None:
            if path.urn is None and path.sub is None and path.attr.lower() == "schemas":
                return _as_list(resource.get("schemas")), _SCHEMAS
            return None
        holder = resource if resolved.extension is None else resource.get(resolved.extension)
        if not isinstance(holder, dict):
            return [], resolved.target
        values = _as_list(holder.get(resolved.attribute.name))
        if resolved.sub is not None:
            values = [v.get(resolved.sub.name) for v in values if isinstance(v, dict)]
            values = [x for v in values for x in _as_list(v)]
        return values, resolved.target

    def value_path(expr: ValuePath) -> bool:
        found = lookup(expr.path)
        if found is None:
            return False
        elements, attribute = found
        return any(
            element_matches(expr.filter, e, attribute) for e in elements if isinstance(e, dict)
        )

    return _evaluate(expr, lookup, value_path)


def element_matches(expr: Expr, element: dict, attribute: Attribute) -> bool:
    """Return whether one element of a multi-valued complex ``attribute`` satisfies ``expr``.

    This is the inside of a value path (``emails[type eq "work"]``, RFC 7644 §3.4.2.2 and
    §3.5.2): paths name sub-attributes of ``attribute``.
    """

    def lookup(path: AttrPath) -> tuple[list, Attribute] | None:
        sub = attribute.sub(path.attr) if path.urn is None and path.sub is None else None
        return (_as_list(element.get(sub.name)), sub) if sub else None

    def value_path(expr: ValuePath) -> bool:
        raise InvalidFilter("Value paths cannot nest.")

    return _evaluate(expr, lookup, value_path)


def _evaluate(expr: Expr, lookup: _Lookup, value_path: Callable[[ValuePath], bool]) -> bool:
    if isinstance(expr, And):
        return all(_evaluate(e, lookup, value_path) for e in _chain(expr))
    if isinstance(expr, Or):
        return any(_evaluate(e, lookup, value_path) for e in _chain(expr))
    if isinstance(expr, Not):
        return not _evaluate(expr.expr, lookup, value_path)
    if isinstance(expr, ValuePath):
        return value_path(expr)
    found = lookup(expr.path)
    values, attribute = found if found else ([], None)
    if isinstance(expr, Present):
        # RFC 7644 §3.4.2.2 pr: a non-empty value, or a complex value with a non-empty node.
        return any(_has_value(v) for v in values)
    if attribute is not None and attribute.type == "complex":
        # RFC 7644 §3.4.2.2: "emails co ..." on a multi-valued complex attribute compares the
        # elements' "value"; we extend that to single-valued ones such as manager.
        attribute, values = _value_sub_attribute(expr.path, attribute, values)
    present = [v for v in values if _has_value(v)]
    if expr.value is None:
        # Not in the RFC: "eq null" holds when the attribute is unassigned, which RFC 7643 §2.5
        # treats like null; "ne null" is then the same as "pr".
        if expr.op in ("eq", "ne"):
            return (expr.op == "eq") != bool(present)
        return False
    if not present:
        # An unassigned value is not equal to anything, so "ne" holds (RFC 7643 §2.5 treats
        # unassigned as null); every other comparison fails.
        return expr.op == "ne"
    # RFC 7644 §3.4.2.2: a multi-valued attribute matches if any of its values matches.
    return any(_compare(v, expr.op, expr.value, attribute) for v in present)


def _value_sub_attribute(path: AttrPath, attribute: Attribute, values: list) -> tuple:
    value_attr = attribute.sub("value")
    if value_attr is None:
        raise InvalidFilter(f"{_path_text(path)} is complex: compare one of its sub-attributes.")
    return value_attr, [v.get(value_attr.name) for v in values if isinstance(v, dict)]


def _compare(actual: object, op: str, expected: object, attribute: Attribute) -> bool:
    kind = attribute.type
    if kind in ("boolean", "binary") and op in ("gt", "ge", "lt", "le"):
        # RFC 7644 §3.4.2.2: gt/ge/lt/le on boolean or binary attributes is an invalidFilter.
        raise InvalidFilter(f"{op} cannot compare {kind} attribute {attribute.name}.")
    if op in _TEXT_OPS and kind in ("boolean", "integer", "decimal", "binary"):
        # co/sw/ew are string operators; on other types we answer invalidFilter, not "false".
        raise InvalidFilter(f"{op} needs a string attribute; {attribute.name} is {kind}.")
    if kind in ("boolean", "integer", "decimal") or (kind == "dateTime" and op not in _TEXT_OPS):
        left, right = comparable(actual, attribute), comparable(expected, attribute)
        if kind == "dateTime" and right is None:
            raise InvalidFilter(f"{expected!r} is not a dateTime (RFC 3339) value.")
    else:
        # Text: strings, references, binaries, and co/sw/ew on dateTimes. A bare number or
        # boolean in the filter stands for its JSON text (employeeNumber eq 42).
        text = replace(attribute, type="string") if kind == "dateTime" else attribute
        right = expected if isinstance(expected, str) else json.dumps(expected)
        left, right = comparable(actual, text), comparable(right, text)
    if left is None or right is None:
        return False
    return _OPERATIONS[op](left, right)


def comparable(value: object, attribute: Attribute) -> Any:
    """Return ``value`` in the form filters and sorting compare it, or None if it has none.

    RFC 7644 §3.4.2.2 and §3.4.2.3: strings compare case-insensitively unless the attribute is
    caseExact, dateTimes chronologically, booleans and numbers by value.
    """
    kind = attribute.type
    if kind == "boolean":
        return _as_bool(value)
    if kind in ("integer", "decimal"):
        return _as_number(value)
    if kind == "dateTime":
        return _as_datetime(value)
    if not isinstance(value, str):
        return None
    # Base64 (binary) is case-sensitive whatever the schema says.
    return value if attribute.case_exact or kind == "binary" else value.casefold()


_OPERATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "co": lambda a, b: b in a,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _has_value(value: object) -> bool:
    if isinstance(value, dict):
        return any(_has_value(v) for v in value.values())
    return value is not None and value != "" and value != []


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    # Entra ID sends booleans as strings ("True", "False").
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _as_number(value: object) -> int | float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        return float(value) if not value.lstrip("-").isdigit() else int(value)
    return None


def _as_datetime(value: object) -> datetime | None:
    """Parse an RFC 3339 dateTime (RFC 7643 §2.3.5); a naive value is taken as UTC."""
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
