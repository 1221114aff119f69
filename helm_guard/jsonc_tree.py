"""Positional JSONC parser: jsonc-parser's `parse` re-done in Python, with offsets.

`helm_guard.jsonc` parses on a fast path (strip comments, `json.loads`) and comes here when that
path declines (any error, a duplicate key, deep nesting) or when a position is asked for. This
module is the authority on *what* is wrong and *where*: it follows Microsoft's jsonc-parser 3.x
(`parse(text, errors, {allowTrailingComma: true})`, the call wrangler 4 makes) token by token and
stops at the first error, which is the one wrangler reports.

Why over 400 lines: it is one port of one state machine (jsonc-parser's scanner and parser),
kept in one piece so it can be read side by side with the original.

What it mirrors, from jsonc-parser's scanner and parser:

* whitespace is space and tab only; line breaks are `\\n`, `\\r\\n` and `\\r`; anything else
  outside a string or comment (`\\f`, NBSP, a second BOM, `'`, `NaN`, `+1`, `.5`) is read as a
  word of "unknown" characters and reported as `InvalidSymbol`;
* a scan error (`UnexpectedEndOfString`, `InvalidCharacter`, `InvalidEscapeCharacter`,
  `InvalidUnicode`, `UnexpectedEndOfNumber`, `UnexpectedEndOfComment`) is reported when its token
  is scanned, before the parser looks at the token; within one token the *last* scan error wins;
* errors sit at the start of the offending token (a string with a bad escape is reported at its
  opening quote), or at the end of the text for `EOF`;
* a comma with no value before it (`[,]`, `{,}`, `[1,,2]`) is `ValueExpected` /
  `PropertyNameExpected`, even though trailing commas are allowed.

The parser is iterative (an explicit stack), so 10,000 nested `[` parse like any other file. It
builds the value (duplicate keys: the last one wins, at any depth, like jsonc-parser), a list of
duplicate keys, and a light tree of offsets (`Node`) for `Document.span()`. Offsets count code
points of the text (jsonc-parser counts UTF-16 units: they differ only after astral characters).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import NamedTuple, NoReturn, TypeAlias

Key: TypeAlias = str | int
# A value's offsets: (start, end, kids); kids is a dict of members (the last occurrence of each
# key: key start, key end, value) for an object, a list of items for an array, None for a scalar.
# Plain tuples: cheap to build, and the cyclic GC stops tracking the scalar ones.
Node: TypeAlias = "tuple[int, int, dict[str, Member] | list[Node] | None]"
Member: TypeAlias = "tuple[int, int, Node]"


class RawError(NamedTuple):
    code: str
    message: str
    start: int
    end: int


class RawDuplicate(NamedTuple):
    path: tuple[Key, ...]
    key_start: int
    key_end: int
    first_start: int
    first_end: int


class TreeResult(NamedTuple):
    value: object
    root: Node | None
    error: RawError | None
    duplicates: tuple[RawDuplicate, ...]


class LineIndex:
    """Offset -> 1-based (line, column); lines end at `\\n`, `\\r\\n` or `\\r` like jsonc-parser."""

    __slots__ = ("_starts", "_len")

    def __init__(self, text: str) -> None:
        self._starts = [0]
        self._starts.extend(m.end() for m in _LINE_BREAK.finditer(text))
        self._len = len(text)

    def position(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, self._len))
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


_LINE_BREAK = re.compile(r"\r\n?|\n")

# One token per match: leading trivia (whitespace and *closed* comments), then the token. The
# token alternatives accept only what jsonc-parser scans without error; anything else lands in
# the last group and is re-scanned by `_scan_slow`, which emulates jsonc-parser exactly.
_TOKEN = re.compile(
    r"""
    (?:[ \t\r\n]++|//[^\r\n]*+|/\*[^*]*+(?:\*++[^*/][^*]*+)*+\*++/)*+
    (?:
        ([{}\[\]:,])                                                    # 1 punctuation
      | ("(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*+")     # 2 string
      | (-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?(?:[eE][-+]?[0-9]++)?)(?![.eE])  # 3 number
      | (true|false|null)(?![^ \t\r\n{}\[\]":,/])                       # 4 keyword
      | (\Z)                                                            # 5 end of text
      | (.)                                                             # 6 anything else
    )""",
    re.VERBOSE | re.DOTALL,
)
_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]*+')
_WORD = re.compile(r'[^ \t\r\n{}\[\]":,/]*+')
_DIGITS = re.compile(r"[0-9]*+")
_HEX4 = re.compile(r"[0-9a-fA-F]{0,4}")
_KEYWORDS: dict[str, object] = {"true": True, "false": False, "null": None}

# Token kinds (punctuation tokens use their own character as kind).
STR, NUM, LIT, EOF = "s", "n", "l", ""
Token: TypeAlias = tuple[str, int, int, object]  # kind, start, end, value


class _Stop(Exception):
    """The first error: parsing ends here."""

    def __init__(self, code: str, start: int, end: int, detail: str) -> None:
        super().__init__(code)
        self.error = RawError(code, f"{code}: {detail}", start, end)


def _number(raw: str) -> int | float:
    if "." in raw or "e" in raw or "E" in raw:
        return float(raw)
    try:
        return int(raw)
    except ValueError:  # more than sys.get_int_max_str_digits() digits: a double, as in JS
        return float(raw)


def _tokens(text: str) -> Iterator[Token]:
    """jsonc-parser's `scanNext` minus trivia; raises `_Stop` on a scan error or unknown word."""
    match = _TOKEN.match
    pos = 0
    while True:
        m = match(text, pos)
        assert m is not None  # the last two alternatives match anywhere
        group = m.lastindex
        pos = m.end()
        if group == 1:
            yield m.group(1), pos - 1, pos, None
        elif group == 2:
            raw = m.group(2)
            value = scanstring(raw, 1)[0] if "\\" in raw else raw[1:-1]
            yield STR, m.start(2), pos, value
        elif group == 3:
            yield NUM, m.start(3), pos, _number(m.group(3))
        elif group == 4:
            yield LIT, m.start(4), pos, _KEYWORDS[m.group(4)]
        elif group == 5:
            while True:
                yield EOF, pos, pos, None
        else:
            token = _scan_slow(text, m.start(6))
            pos = token[2]
            yield token


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """End of `pattern` (one that may match empty) at `pos`."""
    m = pattern.match(text, pos)
    return m.end() if m else pos


def _scan_slow(text: str, start: int) -> Token:
    """Scan one token at `start` as jsonc-parser does; raise `_Stop` for its scan errors."""
    n = len(text)
    ch = text[start]
    if ch == '"':
        pos, error = start + 1, ""
        while True:
            pos = _skip(_STRING_RUN, text, pos)
            if pos >= n:
                error = "UnexpectedEndOfString"
                break
            ch = text[pos]
            if ch == '"':
                pos += 1
                break
            if ch == "\\":
                pos += 1
                if pos >= n:
                    error = "UnexpectedEndOfString"
                    break
                escaped = text[pos]
                pos += 1
                if escaped == "u":
                    hex_end = _skip(_HEX4, text, pos)
                    if hex_end - pos < 4:
                        error = "InvalidUnicode"
                    pos = hex_end
                elif escaped not in '"\\/bfnrt':
                    error = "InvalidEscapeCharacter"
            elif ch in "\r\n":
                error = "UnexpectedEndOfString"
                break
            else:  # another control character: jsonc-parser notes it and reads on
                error = "InvalidCharacter"
                pos += 1
        if error:
            raise _Stop(error, start, pos, _SCAN_DETAIL[error])
        return STR, start, pos, scanstring(text[start:pos], 1)[0]
    if ch == "/":
        if text.startswith("/*", start):  # closed comments never get here
            raise _Stop("UnexpectedEndOfComment", start, n, _SCAN_DETAIL["UnexpectedEndOfComment"])
        raise _Stop("InvalidSymbol", start, start + 1, _symbol_detail("/"))
    if ch == "-" or "0" <= ch <= "9":
        pos = start + 1 if ch == "-" else start
        if pos >= n or not "0" <= text[pos] <= "9":
            raise _Stop("InvalidSymbol", start, pos, _symbol_detail("-", text[pos : pos + 8]))
        pos = pos + 1 if text[pos] == "0" else _skip(_DIGITS, text, pos + 1)
        bad_exponent = False
        if pos < n and text[pos] == ".":
            pos += 1
            if pos < n and "0" <= text[pos] <= "9":
                pos = _skip(_DIGITS, text, pos)
            else:
                raise _Stop(
                    "UnexpectedEndOfNumber", start, pos, _SCAN_DETAIL["UnexpectedEndOfNumber"]
                )
        end = pos
        if pos < n and text[pos] in "eE":
            pos += 1
            if pos < n and text[pos] in "+-":
                pos += 1
            if pos < n and "0" <= text[pos] <= "9":
                end = pos = _skip(_DIGITS, text, pos)
            else:
                bad_exponent = True
        if bad_exponent:
            raise _Stop("UnexpectedEndOfNumber", start, pos, _SCAN_DETAIL["UnexpectedEndOfNumber"])
        return NUM, start, end, _number(text[start:end])
    end = _skip(_WORD, text, start)
    word = text[start:end]
    if word in _KEYWORDS:
        return LIT, start, end, _KEYWORDS[word]
    raise _Stop("InvalidSymbol", start, end, _symbol_detail(word))


_SCAN_DETAIL = {
    "UnexpectedEndOfString": "string is not closed; a string must end with '\"' on the same line",
    "InvalidCharacter": "control character in a string; write it as an escape like \\t or \\n",
    "InvalidEscapeCharacter": 'invalid escape in a string; allowed: \\" \\\\ \\/ \\b \\f \\n \\r '
    "\\t \\uXXXX",
    "InvalidUnicode": "'\\u' in a string must be followed by 4 hex digits",
    "UnexpectedEndOfNumber": "number is incomplete; expected a digit",
    "UnexpectedEndOfComment": "block comment is not closed with '*/'",
}


def _symbol_detail(word: str, after: str = "") -> str:
    shown = word if len(word) <= 24 else word[:21] + "..."
    hint = "expected a string in double quotes, a number, true, false, null, '{' or '['"
    if word.startswith("\ufeff"):
        hint = "a byte order mark (U+FEFF) may only open the file"
    elif word.startswith("'"):
        hint = "strings and keys need double quotes"
    elif word in ("NaN", "Infinity") or after == "Infinity":
        hint = "NaN and Infinity are not JSON numbers"
    elif word == "-":
        hint = "'-' must be followed by a digit"
    elif word[:1] in "+.":
        hint = "a JSON number starts with '-' or a digit"
    elif word[:1].isalpha() or word[:1] in "_$":
        hint += " (property names need double quotes)"
    return f"unexpected {shown!r}; {hint}"


def _found(text: str, token: Token) -> str:
    if token[0] == EOF:
        return "the end of the file"
    shown = text[token[1] : token[2]]
    return repr(shown if len(shown) <= 30 else shown[:27] + "...")


class _Frame:
    """An open object (`members`, `obj`) or array (`items`, `arr`) on the parser's stack."""

    __slots__ = (
        "is_object",
        "start",
        "path_key",
        "needs_comma",
        "obj",
        "members",
        "arr",
        "items",
        "key",
        "key_start",
        "key_end",
        "firsts",
    )

    def __init__(self, is_object: bool, start: int, path_key: Key) -> None:
        self.is_object = is_object
        self.start = start
        self.path_key = path_key  # this container's key or index in its parent
        self.needs_comma = False
        self.obj: dict[str, object] = {}
        self.members: dict[str, Member] = {}
        self.arr: list[object] = []
        self.items: list[Node] = []
        self.key = ""  # the current member's key and its offsets
        self.key_start = self.key_end = 0
        self.firsts: dict[str, tuple[int, int]] | None = None  # first offsets of duplicated keys


def parse_tree(text: str) -> TreeResult:
    """Parse `text` like jsonc-parser; the first error ends it (value and root are then None)."""
    duplicates: list[RawDuplicate] = []
    try:
        value, root = _parse(text, duplicates)
    except _Stop as stop:
        return TreeResult(None, None, stop.error, tuple(duplicates))
    return TreeResult(value, root, None, tuple(duplicates))


def _parse(text: str, duplicates: list[RawDuplicate]) -> tuple[object, Node]:
    tokens = _tokens(text)
    tok = next(tokens)
    if tok[0] == EOF:
        raise _Stop("ValueExpected", tok[1], tok[1], "the file is empty or holds only comments")
    stack: list[_Frame] = []
    done_value: object = None
    done_node: Node | None
    while True:
        # --- a value is expected at `tok` (jsonc-parser's parseValue)
        kind = tok[0]
        if kind == "{" or kind == "[":
            path_key: Key = ""
            if stack:
                parent = stack[-1]
                path_key = parent.key if parent.is_object else len(parent.arr)
            stack.append(_Frame(kind == "{", tok[1], path_key))
            tok = next(tokens)
            done_node = None
        elif kind == STR or kind == NUM or kind == LIT:
            done_value, done_node = tok[3], (tok[1], tok[2], None)
            tok = next(tokens)
        else:
            where = "a JSON value"
            if stack:
                where = f'a value for "{stack[-1].key}"' if stack[-1].is_object else "a value"
            raise _Stop(
                "ValueExpected", tok[1], tok[2], f"expected {where}, found {_found(text, tok)}"
            )
        # --- loop heads of the open containers (jsonc-parser's parseObject / parseArray)
        while True:
            if done_node is not None:  # a value is complete: attach it to its container
                if not stack:
                    if tok[0] != EOF:
                        raise _Stop(
                            "EndOfFileExpected",
                            tok[1],
                            tok[2],
                            f"expected the end of the file after the top-level value, "
                            f"found {_found(text, tok)}",
                        )
                    return done_value, done_node
                frame = stack[-1]
                if frame.is_object:
                    frame.obj[frame.key] = done_value
                    frame.members[frame.key] = (frame.key_start, frame.key_end, done_node)
                else:
                    frame.arr.append(done_value)
                    frame.items.append(done_node)
                done_node = None
            frame = stack[-1]
            close = "}" if frame.is_object else "]"
            kind = tok[0]
            if kind == EOF:
                _unclosed(text, frame)
            if kind == ",":
                if not frame.needs_comma:
                    what = "a property" if frame.is_object else "a value"
                    raise _Stop("ValueExpected", tok[1], tok[2], f"expected {what} before ','")
                tok = next(tokens)
                kind = tok[0]
            elif frame.needs_comma and kind != close:
                what = "property value" if frame.is_object else "array element"
                raise _Stop(
                    "CommaExpected",
                    tok[1],
                    tok[2],
                    f"expected ',' or '{close}' after {what}, found {_found(text, tok)}",
                )
            if kind == close:  # end of container (possibly after a trailing comma)
                stack.pop()
                if frame.is_object:
                    done_value, done_node = frame.obj, (frame.start, tok[2], frame.members)
                else:
                    done_value, done_node = frame.arr, (frame.start, tok[2], frame.items)
                tok = next(tokens)
                continue
            if frame.is_object:  # jsonc-parser's parseProperty
                if kind != STR:
                    raise _Stop(
                        "PropertyNameExpected",
                        tok[1],
                        tok[2],
                        f"expected a property name in double quotes, found {_found(text, tok)}",
                    )
                key = str(tok[3])
                if key in frame.obj:
                    if frame.firsts is None:
                        frame.firsts = {}
                    first = frame.firsts.setdefault(key, frame.members[key][:2])
                    path = tuple(f.path_key for f in stack[1:]) + (key,)
                    duplicates.append(RawDuplicate(path, tok[1], tok[2], first[0], first[1]))
                frame.key, frame.key_start, frame.key_end = key, tok[1], tok[2]
                tok = next(tokens)
                if tok[0] != ":":
                    raise _Stop(
                        "ColonExpected",
                        tok[1],
                        tok[2],
                        f"expected ':' after property name \"{key}\", found {_found(text, tok)}",
                    )
                tok = next(tokens)
            frame.needs_comma = True
            break


def _unclosed(text: str, frame: _Frame) -> NoReturn:
    code, close = ("CloseBraceExpected", "}") if frame.is_object else ("CloseBracketExpected", "]")
    line, col = LineIndex(text).position(frame.start)
    what = "object" if frame.is_object else "array"
    detail = f"expected '{close}' to close the {what} opened at line {line}, column {col}"
    raise _Stop(code, len(text), len(text), detail)
