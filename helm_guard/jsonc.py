"""Read `wrangler.jsonc` exactly as wrangler 4 does, with positions for findings.

Wrangler reads a config with Microsoft's jsonc-parser, `parse(text, errors,
{allowTrailingComma: true})`, and fails on the first error (see shared notes, wrangler.md §2):
`//` and `/* */` comments, trailing commas and a UTF-8 BOM are fine; JSON5 (single quotes,
unquoted keys, hex, NaN/Infinity, `+1`, `.5`, `5.`), `[,]`, `{,}`, `[1,,2]`, an empty file and
UTF-16/32 are not. Duplicate keys are allowed and the last one wins at any depth, so a second
`env.prod` block silently replaces the first: we keep wrangler's value *and* report every
duplicate.

Two parsers, one answer:

1. **Fast path** (`_fast_value`). Normally RapidJSON (the `python-rapidjson` C extension, ~13 µs
   for a 2.7 KB config) with comments and trailing commas allowed and a `start_object`/
   `end_object` pair that raises on a duplicate key. Its grammar is jsonc-parser's except in
   four places, so a text containing any of them goes to the stdlib path instead: a NUL (RapidJSON
   stops reading there), a lone `\\r` (it ends `//` comments at `\\n` only), and `NaN` /
   `Infinity` (it accepts them as numbers). Anything else it refuses (`1e400`, a lone surrogate
   escape, nesting deeper than 1,000) declines.
   The **stdlib path** (`_stdlib_value`, ~35 µs; also the whole fast path if RapidJSON is not
   importable): one `re.sub` pass of a possessive-quantifier regex that skips strings and other
   "keep" runs whole and only calls back for comments (blanked to a space) and trailing commas
   (blanked); then `json.loads` with `object_pairs_hook` (raises on a duplicate key) and
   `parse_constant` (raises on NaN/Infinity). Python's `json` grammar is jsonc-parser's minus
   comments and trailing commas; a trailing comma is only blanked after a value (so `[,]` and
   `{,}` are declined), and an unterminated string or comment declines at once.
   Neither gives errors or positions: any failure, duplicate or doubt makes the fast path
   *decline*, and it never accepts what jsonc-parser rejects (tests/test_jsonc.py drives both
   engines through the same rejections, generated and mutated documents, and jsonc-parser
   itself).
2. **Positional parser** (`helm_guard.jsonc_tree`, ~4x slower): an iterative port of
   jsonc-parser that yields its exact first error code and offset, every duplicate key with its
   path, and a tree of offsets. It runs when the fast path declines, and lazily (cached on the
   `Document`) the first time `span()`/`key_span()` is asked.

Positions are 1-based lines (ended by `\\n`, `\\r\\n` or `\\r`, as jsonc-parser counts) and
columns in code points of the text after the BOM. Encoding is checked first, as wrangler's
`removeBOMAndValidate` does: UTF-16/32 byte order marks are `InvalidEncoding`; so is invalid
UTF-8 (wrangler would decode it to U+FFFD; we refuse it instead, at the first bad byte).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import NamedTuple, TypeAlias

from helm_guard.jsonc_tree import LineIndex, TreeResult, parse_tree

try:
    import rapidjson
except ImportError:  # pragma: no cover - a declared dependency; the stdlib path is as correct
    rapidjson = None  # type: ignore[assignment]

PathPart: TypeAlias = str | int
JsonPath: TypeAlias = tuple[PathPart, ...]

__all__ = [
    "Document",
    "Duplicate",
    "JsonPath",
    "ParseError",
    "PathPart",
    "Span",
    "format_json_path",
    "parse_file",
    "parse_text",
]


class Span(NamedTuple):
    """1-based start and end; `end_col` is the column just after the last character."""

    line: int
    col: int
    end_line: int
    end_col: int


class ParseError(NamedTuple):
    """The first error, as jsonc-parser names it (`CommaExpected`, ...) or `InvalidEncoding`."""

    code: str
    message: str
    line: int
    col: int
    end_line: int
    end_col: int


class Duplicate(NamedTuple):
    """A key that occurs again in the same object; `span` is the later key, `first` the first."""

    path: JsonPath
    span: Span
    first: Span


_START = Span(1, 1, 1, 1)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def format_json_path(parts: JsonPath) -> str:
    """`("env", "acme", "d1_databases", 0)` -> `$.env.acme.d1_databases[0]`; `()` -> `$`."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.fullmatch(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out)


class Document:
    """One parsed file: wrangler's `value` or the first `error`, duplicates, and positions."""

    __slots__ = ("path", "text", "value", "error", "duplicates", "_tree", "_lines")

    def __init__(
        self,
        path: str,
        text: str,
        value: object | None,
        error: ParseError | None,
        duplicates: tuple[Duplicate, ...] = (),
        tree: TreeResult | None = None,
        lines: LineIndex | None = None,
    ) -> None:
        self.path = path
        self.text = text
        self.value = value
        self.error = error
        self.duplicates = duplicates
        self._tree = tree
        self._lines = lines

    def __repr__(self) -> str:
        state = f"error={self.error.code}" if self.error else f"duplicates={len(self.duplicates)}"
        return f"<Document {self.path!r} {state}>"

    def span(self, parts: JsonPath) -> Span:
        """Span of the value at `parts` (last duplicate wins), else of its nearest ancestor."""
        return self._locate(parts, key=False)

    def key_span(self, parts: JsonPath) -> Span:
        """Span of the key of the member at `parts`; an array item or the root: its value."""
        return self._locate(parts, key=True)

    def _locate(self, parts: JsonPath, *, key: bool) -> Span:
        if self.error is not None:
            return _START
        if self._tree is None:
            self._tree = parse_tree(self.text)
        node = self._tree.root
        if node is None:  # unreachable: the fast path accepted this text
            return _START
        start, end, kids = node
        for part in parts:
            if isinstance(kids, dict) and isinstance(part, str) and part in kids:
                key_start, key_end, node = kids[part]
                start, end = (key_start, key_end) if key else node[:2]
            elif isinstance(kids, list) and isinstance(part, int) and 0 <= part < len(kids):
                node = kids[part]
                start, end = node[:2]
            else:
                break
            kids = node[2]
        return self._span(start, end)

    def _span(self, start: int, end: int) -> Span:
        if self._lines is None:
            self._lines = LineIndex(self.text)
        return Span(*self._lines.position(start), *self._lines.position(end))


# --- fast path -------------------------------------------------------------------------------

_COMMENT = r"//[^\r\n]*+|/\*[^*]*+(?:\*++[^*/][^*]*+)*+\*++/"  # ends at the first */
_COMMENTS = rf"(?:{_COMMENT})(?:[ \t\r\n]*+(?:{_COMMENT}))*+"  # a run, spaces between
_BEFORE_CLOSE = rf"[ \t\r\n]*+(?:(?:{_COMMENT})[ \t\r\n]*+)*+[}}\]]"  # what follows a trailing ','
_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
# group 1: a run to keep as is: plain runs, whole strings, slashes that start no comment and commas
# that are not trailing (unrolled: `plain (special plain)*`, all possessive, no backtracking).
# Then what ends the run: 2 a run of comments, 3 a trailing comma right after the end of a value
# (`"`, `]`, `}`, a digit, true/false's `e`, null's `l`), 4 anything else: an unterminated
# string or comment, or a trailing comma after no value (`[,]`, `{"a":,}`, `[1,,]`) or after a
# space (rare; declined), or the end of the text.
_STRIP = re.compile(
    rf"""([^"/,]*+(?:(?:{_STRING}|,(?!{_BEFORE_CLOSE})|/(?![/*]))[^"/,]*+)*+)"""
    rf"""(?:({_COMMENTS})|(?<=["\]}}0-9el])(,)|([",/])|\Z)""",
    re.DOTALL,
)


class _Decline(Exception):
    """The fast path cannot vouch for this text; the positional parser decides."""


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Decline("duplicate key")
    return obj


def _constant(name: str) -> object:
    raise _Decline(name)


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


_VALUE_END = frozenset('"]}0123456789el')  # last character of a value (true/false/null end e/l)


def _strip(text: str) -> str:
    """Replace comments and trailing commas by a space; `_Decline` where unsure. The result
    is for `json.loads` only: its offsets are not the original's (positions come from the
    positional parser). A space keeps the tokens on either side of a comment apart (`1/**/2`
    is not `12`)."""
    code = ""  # the latest kept run holding code: what precedes a spaced trailing comma

    def blank(m: re.Match[str]) -> str:
        nonlocal code
        keep = m[1]
        if m.lastindex == 4:
            # a comma after spaces or comments (`[1 ,]`, `[1 /* c */,]`) is a trailing comma
            # when the code before it ends a value; anything else declines
            before = keep.rstrip(" \t\r\n") or code.rstrip(" \t\r\n")
            if m[4] != "," or before[-1:] not in _VALUE_END:
                raise _Decline("unterminated string or comment, or a comma after no value")
            code = ","
        elif keep and not keep.isspace():
            code = keep
        return keep + " "

    return _STRIP.sub(blank, text)


def _stdlib_value(text: str) -> object:
    """The stdlib fast path: strip, then `json.loads` with the duplicate/constant hooks."""
    try:
        return _DECODER.decode(_strip(text))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, > 4300-digit int, deep
        raise _Decline(type(exc).__name__) from None


if rapidjson is not None:

    class _RapidDecoder(rapidjson.Decoder):
        """Objects arrive as lists of pairs, so a duplicate key is seen (and declined)."""

        def start_object(self) -> list[tuple[str, object]]:
            return []

        def end_object(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
            return _pairs(pairs)

    # Only the parse mode: number_mode=None or NM_NONE makes python-rapidjson 1.25 refuse
    # trailing commas. Its default number mode accepts NaN/Infinity: `_rapid_can_read` below.
    _RAPID: Callable[[str], object] | None = _RapidDecoder(
        parse_mode=rapidjson.PM_COMMENTS | rapidjson.PM_TRAILING_COMMAS)
else:  # pragma: no cover
    _RAPID = None


def _rapid_can_read(text: str) -> bool:
    """False for the texts on which RapidJSON's grammar is not jsonc-parser's: a NUL (it stops
    reading there: `[1]\\0junk` would pass), a lone CR (it ends a `//` comment at LF only, so
    the next line would vanish into the comment), NaN/Infinity (numbers to it, errors to
    jsonc-parser). A false here only sends the text down the stdlib path."""
    return ("\x00" not in text and "NaN" not in text and "Infinity" not in text
            and ("\r" not in text or text.count("\r") == text.count("\r\n")))


def _fast_value(text: str) -> object:
    """wrangler's value for `text`, or raise `_Decline`; never accepts what wrangler rejects."""
    if _RAPID is None or not _rapid_can_read(text):
        return _stdlib_value(text)
    try:
        return _RAPID(text)
    except (ValueError, OverflowError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise _Decline(type(exc).__name__) from None


# --- entry points ----------------------------------------------------------------------------

_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "UTF-32 LE"),
    (b"\xfe\xff", "UTF-16 BE"),
    (b"\xff\xfe", "UTF-16 LE"),
)


def _decode(data: bytes) -> str | ParseError:
    for bom, name in _BOMS:
        if data.startswith(bom):
            message = (
                f"InvalidEncoding: file starts with a {name} byte order mark; "
                "wrangler reads UTF-8 only"
            )
            return ParseError("InvalidEncoding", message, 1, 1, 1, 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8").removeprefix("\ufeff")
        line, col = LineIndex(before).position(len(before))
        message = (
            f"InvalidEncoding: byte 0x{data[exc.start]:02x} is not valid UTF-8 "
            f"({exc.reason}); wrangler reads UTF-8 only"
        )
        return ParseError("InvalidEncoding", message, line, col, line, col + 1)
    return text.removeprefix("\ufeff")


def parse_text(text_or_bytes: str | bytes, path: str = "<string>") -> Document:
    """Parse a config given as text or raw bytes (bytes are checked for encoding first).

    Never raises for bad input: the outcome is in `Document.error` (then `value` is None and
    `duplicates` is empty) or in `value` and `duplicates`.
    """
    if isinstance(text_or_bytes, str):
        text = text_or_bytes.removeprefix("\ufeff")
    else:
        decoded = _decode(bytes(text_or_bytes))
        if isinstance(decoded, ParseError):
            return Document(path, "", None, decoded)
        text = decoded
    try:
        return Document(path, text, _fast_value(text), None)
    except _Decline:
        pass
    tree = parse_tree(text)
    if tree.error is None and not tree.duplicates:  # declined for depth or a huge integer
        return Document(path, text, tree.value, None, (), tree)
    lines = LineIndex(text)
    if tree.error is not None:  # the value is gone, and so are the duplicates found before
        e = tree.error
        error = ParseError(e.code, e.message, *lines.position(e.start), *lines.position(e.end))
        return Document(path, text, None, error, (), tree, lines)
    duplicates = tuple(
        Duplicate(
            d.path,
            Span(*lines.position(d.key_start), *lines.position(d.key_end)),
            Span(*lines.position(d.first_start), *lines.position(d.first_end)),
        )
        for d in tree.duplicates
    )
    return Document(path, text, tree.value, None, duplicates, tree, lines)


def read_bytes(path: str | os.PathLike[str], *, follow: bool = True) -> bytes:
    """The file's bytes, through `os.open`/`os.read` (half the cost of `open().read()` for a
    small file: no buffered reader object); `OSError` propagates (a directory raises
    `IsADirectoryError` at the first read; with `follow=False` a symlink raises `ELOOP`)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        data = os.read(fd, _CHUNK)
        more = os.read(fd, _CHUNK) if data else b""
        if not more:
            return data
        chunks = [data, more]
        while more:
            more = os.read(fd, _CHUNK)
            chunks.append(more)
        return b"".join(chunks)
    finally:
        os.close(fd)


_CHUNK = 1 << 16


def parse_file(path: str | os.PathLike[str]) -> Document:
    """Read and parse one file; `OSError` propagates for the caller to report."""
    return parse_text(read_bytes(path), os.fspath(path))
