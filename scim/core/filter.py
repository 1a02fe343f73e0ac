"""SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2): parse and print them.
Evaluation lives in ``scim.core.evaluate``.

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
import re
from dataclasses import dataclass
from typing import Union

from scim.core.attributes import CORE_GROUP, CORE_USER, ENTERPRISE_USER
from scim.core.errors import InvalidFilter, InvalidPath


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
        assert match.lastindex is not None  # every alternative of _TOKEN_RE is a group
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
            value = json.loads(token.text)
            # RFC 7493 §2.1: no unpaired surrogates ("\ud800"). A PATCH filter's value can be
            # stored (emails[type eq "..."].value seeds a new element), and could not be sent.
            value.encode("utf-8")
        except json.JSONDecodeError as exc:
            raise InvalidFilter(f"Invalid string at position {token.pos + 1}: {exc.msg}.") from None
        except UnicodeEncodeError:
            raise InvalidFilter(f"Invalid string at position {token.pos + 1}.") from None
        if "\x00" in value:
            # Nothing stored holds U+0000 (scim.http refuses it) and PostgreSQL cannot take it.
            raise InvalidFilter(f"A NUL character in the value at position {token.pos + 1}.")
        return value
    lowered = token.text.lower()
    if "\x00" in token.text:
        raise InvalidFilter(f"A NUL character in the value at position {token.pos + 1}.")
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


def chain(expr: And | Or) -> list[Expr]:
    """Return the operands of a left-nested and/or chain, walking it without recursion."""
    kind, operands = type(expr), []
    node: Expr = expr
    while isinstance(node, kind):
        operands.append(node.right)
        node = node.left
    operands.append(node)
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
    first, *rest = chain(expr)
    word, wrap = (" and ", (And, Or)) if isinstance(expr, And) else (" or ", (Or,))
    parts = [f"({to_string(first)})" if isinstance(first, Or) else to_string(first)]
    parts += [f"({to_string(e)})" if isinstance(e, wrap) else to_string(e) for e in rest]
    return word.join(parts)


def attribute_paths(expr: Expr) -> list[AttrPath]:
    """Return every attribute path ``expr`` names (value paths give their outer path)."""
    if isinstance(expr, (And, Or)):
        return [p for e in chain(expr) for p in attribute_paths(e)]
    if isinstance(expr, Not):
        return attribute_paths(expr.expr)
    return [expr.path]
