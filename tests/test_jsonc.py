"""helm_guard.jsonc: wrangler's JSONC (jsonc-parser, allowTrailingComma) with positions.

Expected codes and line:col come from jsonc-parser 3.3.1 itself (the `ERRORS` table was checked
against it); `test_against_jsonc_parser` re-checks 5,000 mutated inputs with jsonc-parser itself
(pinned in tests/node; `HELM_GUARD_JSONC_PARSER` may name another directory holding
`node_modules/jsonc-parser`).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import json5
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helm_guard.jsonc import (
    _RAPID,
    Document,
    Duplicate,
    ParseError,
    Span,
    _Decline,
    _fast_value,
    _rapid_can_read,
    _stdlib_value,
    format_json_path,
    parse_file,
    parse_text,
)
from helm_guard.jsonc_tree import parse_tree

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus" / "real-world" / "files"


def json5_loads(text: str) -> Any:
    """json5.loads, with escaped surrogate pairs joined as JSON (and jsonc-parser) join them."""

    def fix(v: Any) -> Any:
        if isinstance(v, str):
            return v.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {fix(k): fix(x) for k, x in v.items()}
        return v

    return fix(json5.loads(text))


def loc(doc: Document) -> tuple[str, int, int]:
    assert doc.error is not None, f"expected an error, got {doc.value!r}"
    return doc.error.code, doc.error.line, doc.error.col


# --- accepted ----------------------------------------------------------------------------------

WRANGLER = """\
// helm shop
{
  "$schema": "node_modules/wrangler/config-schema.json",
  "name": "helm-acme", /* inline */
  "vars": {
    "URL": "https://acme.example.com/a//b", // `//` inside a string
    "NOTE": "free /* over $50 */ shipping",
    "TRICKY": "a,]}\\" // not a comment",
  },
  /*
   * block comment
   */
  "d1_databases": [
    { "binding": "DB", "database_name": "helm-acme-db", "database_id": "1111" },
  ],
}
// trailing comment
"""

WRANGLER_VALUE = {
    "$schema": "node_modules/wrangler/config-schema.json",
    "name": "helm-acme",
    "vars": {
        "URL": "https://acme.example.com/a//b",
        "NOTE": "free /* over $50 */ shipping",
        "TRICKY": 'a,]}" // not a comment',
    },
    "d1_databases": [{"binding": "DB", "database_name": "helm-acme-db", "database_id": "1111"}],
}


def test_accepts_comments_and_trailing_commas() -> None:
    doc = parse_text(WRANGLER, "wrangler.jsonc")
    assert doc.error is None
    assert doc.value == WRANGLER_VALUE
    assert doc.duplicates == ()
    assert doc.path == "wrangler.jsonc"
    assert doc.text == WRANGLER


@pytest.mark.parametrize(
    "text, value",
    [
        ("[1,]", [1]),
        ('{"a":1,}', {"a": 1}),
        ('{"a":[1,2,],}', {"a": [1, 2]}),
        ("[1 /* c */ ,]", [1]),
        ('{"a":1,\n//x\n}', {"a": 1}),
        ('{"a": 1, }  /* c */ ', {"a": 1}),
        ("[1,\t]", [1]),
        ("[1E-2, -0, 0.5e+3, 1e400]", [0.01, 0, 500.0, float("inf")]),
        ('"\\ud83d\\ude00 \\u00e9\\/"', "\U0001f600 é/"),
        ('"\x7f\u2028"', "\x7f\u2028"),
        ("/**/ true /***/", True),
        ("null // end", None),
        ("[" + "9" * 5000 + "]", [float("inf")]),  # beyond Python's int digit limit: a double
    ],
)
def test_accepts(text: str, value: object) -> None:
    doc = parse_text(text)
    assert doc.error is None
    assert doc.value == value


def test_bom_is_stripped_and_not_counted() -> None:
    doc = parse_text(b'\xef\xbb\xbf{"a": 1}')
    assert doc.value == {"a": 1}
    assert doc.text == '{"a": 1}'
    assert doc.span(("a",)) == Span(1, 7, 1, 8)
    assert parse_text('\ufeff{"a": 1}').value == {"a": 1}
    assert loc(parse_text(b'\xef\xbb\xbf{"a" 1}')) == ("ColonExpected", 1, 6)
    assert loc(parse_text("\ufeff\ufeff{}")) == ("InvalidSymbol", 1, 1)  # only one BOM goes


# --- rejected: (text, code, line, col) as jsonc-parser reports them ----------------------------

ERRORS = [
    # JSON5-only syntax
    ("{'a': 1}", "InvalidSymbol", 1, 2),
    ("{a: 1}", "InvalidSymbol", 1, 2),
    ('{"a": 0x10}', "InvalidSymbol", 1, 8),
    ('{"a": NaN}', "InvalidSymbol", 1, 7),
    ('{"a": Infinity}', "InvalidSymbol", 1, 7),
    ('{"a": -Infinity}', "InvalidSymbol", 1, 7),
    ('{"a": +1}', "InvalidSymbol", 1, 7),
    ('{"a": .5}', "InvalidSymbol", 1, 7),
    ('{"a": 5.}', "UnexpectedEndOfNumber", 1, 7),
    ('{"a": 1e}', "UnexpectedEndOfNumber", 1, 7),
    ('{"a": 1e+}', "UnexpectedEndOfNumber", 1, 7),
    ('{"a": "x\\\ny"}', "InvalidEscapeCharacter", 1, 7),  # line continuation
    ('{"a": "\\\'"}', "InvalidEscapeCharacter", 1, 7),
    ("[01]", "CommaExpected", 1, 3),
    ("[1.5.3]", "InvalidSymbol", 1, 5),
    ("[-]", "InvalidSymbol", 1, 2),
    # commas without a value, even with allowTrailingComma
    ("[,]", "ValueExpected", 1, 2),
    ("{,}", "ValueExpected", 1, 2),
    ("[1,,2]", "ValueExpected", 1, 4),
    ("[1,,]", "ValueExpected", 1, 4),
    ('{"a":1,,}', "PropertyNameExpected", 1, 8),
    ("[ /* c */ , ]", "ValueExpected", 1, 11),
    ("[ // c\n , ]", "ValueExpected", 2, 2),
    ('{"a":1,/*x*/,}', "PropertyNameExpected", 1, 13),
    # nothing there
    ("", "ValueExpected", 1, 1),
    ("   ", "ValueExpected", 1, 4),
    ("// only\n/* comments */\n", "ValueExpected", 3, 1),
    # comments and strings
    ('{"a": 1 /* x', "UnexpectedEndOfComment", 1, 9),
    ("/", "InvalidSymbol", 1, 1),
    ('{"a": "abc', "UnexpectedEndOfString", 1, 7),
    ('{"a": "ab\nc"}', "UnexpectedEndOfString", 1, 7),
    ('{"a": "a\tb"}', "InvalidCharacter", 1, 7),
    ('{"a": "\\x"}', "InvalidEscapeCharacter", 1, 7),
    ('{"a": "\\u12"}', "InvalidUnicode", 1, 7),
    ('{"a": "\\u+123"}', "InvalidUnicode", 1, 7),
    ('{"a":1 "b\\x":2}', "InvalidEscapeCharacter", 1, 8),  # scan errors come first
    # structure
    ('{"a": 1} {}', "EndOfFileExpected", 1, 10),
    ("{} // ok\n[]", "EndOfFileExpected", 2, 1),
    ("[1] x", "InvalidSymbol", 1, 5),
    ('{"a": 1 "b": 2}', "CommaExpected", 1, 9),
    ("[1 2]", "CommaExpected", 1, 4),
    ('{"a" 1}', "ColonExpected", 1, 6),
    ('{"a": 1', "CloseBraceExpected", 1, 8),
    ("[1, 2", "CloseBracketExpected", 1, 6),
    ('{"a": }', "ValueExpected", 1, 7),
    ("{1: 2}", "PropertyNameExpected", 1, 2),
    ('{"a": tru}', "InvalidSymbol", 1, 7),
    ('{"a": true1}', "InvalidSymbol", 1, 7),
    # whitespace is space, tab, CR, LF only; lines end at \n, \r\n and \r
    ("{\f}", "InvalidSymbol", 1, 2),
    ("[\xa0]", "InvalidSymbol", 1, 2),
    ('{"a": \x00}', "InvalidSymbol", 1, 7),
    ('{\r\n"a": 1\r\n"b": 2}', "CommaExpected", 3, 1),
    ('{\r"a": 1\r"b": 2}', "CommaExpected", 3, 1),
    ('{"\U0001f600": 1 2}', "CommaExpected", 1, 9),  # columns count code points
]


@pytest.mark.parametrize("text, code, line, col", ERRORS)
def test_rejects_like_jsonc_parser(text: str, code: str, line: int, col: int) -> None:
    doc = parse_text(text)
    assert loc(doc) == (code, line, col)
    assert doc.value is None
    assert doc.duplicates == ()
    assert doc.error is not None and doc.error.message.startswith(code + ": ")
    for engine in (_fast_value, _stdlib_value):  # the fast path must never accept these
        with pytest.raises(_Decline):
            engine(text.removeprefix("\ufeff"))


def test_error_messages_say_what_was_expected() -> None:
    error = parse_text('{\n  "a": 1\n  "b": 2\n}').error
    assert error == ParseError(
        "CommaExpected",
        "CommaExpected: expected ',' or '}' after property value, found '\"b\"'",
        3,
        3,
        3,
        6,
    )
    error = parse_text('{\n  "a": [1,\n').error
    assert error is not None and error.code == "ValueExpected"
    error = parse_text('{\n  "a": [1\n').error
    assert error is not None and error.code == "CloseBracketExpected"
    assert "opened at line 2, column 8" in error.message
    error = parse_text("{'a': 1}").error
    assert error is not None and "double quotes" in error.message
    error = parse_text("").error
    assert error is not None and "empty" in error.message


@pytest.mark.parametrize(
    "data, name",
    [
        (b"\xff\xfe{\x00}\x00", "UTF-16 LE"),
        (b"\xfe\xff\x00{\x00}", "UTF-16 BE"),
        (b"\xff\xfe\x00\x00{\x00\x00\x00", "UTF-32 LE"),
        (b"\x00\x00\xfe\xff\x00\x00\x00{", "UTF-32 BE"),
    ],
)
def test_rejects_utf16_and_utf32(data: bytes, name: str) -> None:
    doc = parse_text(data)
    assert loc(doc) == ("InvalidEncoding", 1, 1)
    assert doc.error is not None
    assert f"file starts with a {name} byte order mark; wrangler reads UTF-8 only" in (
        doc.error.message
    )
    assert doc.text == "" and doc.value is None


def test_rejects_invalid_utf8_at_the_first_bad_byte() -> None:
    doc = parse_text(b'{\n  "\xc3\xa9": "\xff",\n}')
    assert loc(doc) == ("InvalidEncoding", 2, 9)
    assert doc.error is not None and "0xff" in doc.error.message
    assert loc(parse_text(b"\xef\xbb\xbf[\xc3]")) == ("InvalidEncoding", 1, 2)  # after the BOM
    assert loc(parse_text(b'"\xed\xa0\x80"')) == ("InvalidEncoding", 1, 2)  # encoded surrogate


# --- duplicate keys: last wins, every one reported ---------------------------------------------

TWO_PRODS = """\
{
  "name": "helm-acme",
  "env": {
    "prod": {
      "name": "helm-acme-prod",
      "d1_databases": [{ "binding": "DB", "database_id": "aaaa" }],
      "vars": { "A": "1", "A": "2" },
    },
    "prod": {
      "vars": { "SHOP": "acme" },
    },
  },
  "name": "helm-acme-2",
}
"""


def test_duplicates_last_wins_at_any_depth() -> None:
    doc = parse_text(TWO_PRODS)
    assert doc.error is None
    # the second env.prod replaces the first wholesale, like wrangler
    assert doc.value == {
        "name": "helm-acme-2",
        "env": {"prod": {"vars": {"SHOP": "acme"}}},
    }
    assert doc.duplicates == (
        Duplicate(("env", "prod", "vars", "A"), Span(7, 27, 7, 30), Span(7, 17, 7, 20)),
        Duplicate(("env", "prod"), Span(9, 5, 9, 11), Span(4, 5, 4, 11)),
        Duplicate(("name",), Span(13, 3, 13, 9), Span(2, 3, 2, 9)),
    )


def test_duplicates_inside_arrays_and_repeated_three_times() -> None:
    doc = parse_text('[{"a": 1}, {"b": 1, "b": 2, "b": 3}]')
    assert doc.value == [{"a": 1}, {"b": 3}]
    assert [d.path for d in doc.duplicates] == [(1, "b"), (1, "b")]
    assert {d.first for d in doc.duplicates} == {Span(1, 13, 1, 16)}  # both point at the first
    assert doc.span((1, "b")) == Span(1, 34, 1, 35)


def test_spans_inside_duplicated_keys_follow_the_last_occurrence() -> None:
    doc = parse_text(TWO_PRODS)
    assert doc.span(("env", "prod")) == Span(9, 13, 11, 6)
    assert doc.key_span(("env", "prod")) == Span(9, 5, 9, 11)
    assert doc.span(("env", "prod", "vars", "SHOP")) == Span(10, 25, 10, 31)
    assert doc.key_span(("env", "prod", "vars", "SHOP")) == Span(10, 17, 10, 23)
    # `name` only lived in the replaced block: the nearest existing ancestor is the new env.prod
    assert doc.span(("env", "prod", "name")) == Span(9, 13, 11, 6)
    assert doc.span(("name",)) == Span(13, 11, 13, 24)


# --- spans ---------------------------------------------------------------------------------------


def test_span_of_nested_paths() -> None:
    doc = parse_text(WRANGLER)
    assert doc.span(()) == Span(2, 1, 16, 2)
    assert doc.key_span(()) == Span(2, 1, 16, 2)
    assert doc.span(("name",)) == Span(4, 11, 4, 22)
    assert doc.key_span(("name",)) == Span(4, 3, 4, 9)
    assert doc.span(("d1_databases", 0, "database_id")) == Span(14, 72, 14, 78)
    assert doc.key_span(("d1_databases", 0, "database_id")) == Span(14, 57, 14, 70)
    assert doc.span(("d1_databases", 0)) == Span(14, 5, 14, 80)
    assert doc.key_span(("d1_databases", 0)) == Span(14, 5, 14, 80)  # items have no key
    assert doc.span(("d1_databases",)) == Span(13, 19, 15, 4)
    # missing paths fall back to the nearest existing ancestor
    assert doc.span(("d1_databases", 0, "preview_database_id")) == Span(14, 5, 14, 80)
    assert doc.span(("d1_databases", 3, "x")) == Span(13, 19, 15, 4)
    assert doc.span(("name", "x")) == Span(4, 11, 4, 22)
    assert doc.span(("d1_databases", "0")) == Span(13, 19, 15, 4)  # wrong part type
    assert doc.key_span(("vars", "missing")) == Span(5, 3, 5, 9)


def test_span_with_crlf_and_a_span_cache() -> None:
    doc = parse_text('{\r\n  "a": {\r\n    "b": [1, 2]\r\n  }\r\n}\r\n')
    assert doc.span(("a", "b", 1)) == Span(3, 14, 3, 15)
    assert doc.span(("a",)) == Span(2, 8, 4, 4)
    assert doc.span(("a", "b", 1)) == Span(3, 14, 3, 15)


def test_span_of_an_error_or_scalar_document() -> None:
    assert parse_text("[1,,]").span(("x",)) == Span(1, 1, 1, 1)
    assert parse_text(b"\xff\xfe").span(()) == Span(1, 1, 1, 1)
    assert parse_text("  42 ").span(()) == Span(1, 3, 1, 5)


# --- paths, files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts, expected",
    [
        ((), "$"),
        (
            ("env", "acme", "d1_databases", 0, "database_id"),
            "$.env.acme.d1_databases[0].database_id",
        ),
        (("a.b",), '$["a.b"]'),
        (("$schema", "x y", 'q"t', "é", "_ok1"), '$["$schema"]["x y"]["q\\"t"]["é"]._ok1'),
        (("",), '$[""]'),
        (("1a", 2), '$["1a"][2]'),
    ],
)
def test_format_json_path(parts: tuple[str | int, ...], expected: str) -> None:
    assert format_json_path(parts) == expected


def test_parse_file(tmp_path: Path) -> None:
    config = tmp_path / "wrangler.jsonc"
    config.write_bytes(b"\xef\xbb\xbf" + WRANGLER.encode())
    doc = parse_file(config)
    assert doc.value == WRANGLER_VALUE
    assert doc.path == str(config)
    assert parse_file(str(config)).value == WRANGLER_VALUE
    with pytest.raises(FileNotFoundError):
        parse_file(tmp_path / "missing.jsonc")
    with pytest.raises(IsADirectoryError):
        parse_file(tmp_path)


# --- sizes ---------------------------------------------------------------------------------------


def depth(value: Any) -> int:
    n = 0
    while isinstance(value, list | dict) and value:
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
        n += 1
    return n + isinstance(value, list | dict)


def test_deep_nesting_parses_iteratively() -> None:
    doc = parse_text("[" * 10_000 + "]" * 10_000)
    assert doc.error is None and depth(doc.value) == 10_000
    doc = parse_text('{"a":' * 10_000 + "1" + "}" * 10_000)
    assert doc.error is None and depth(doc.value) == 10_000
    assert doc.span(("a",) * 10_000) == Span(1, 50_001, 1, 50_002)
    assert loc(parse_text("[" * 10_000)) == ("CloseBracketExpected", 1, 10_001)
    assert loc(parse_text("[" * 10_000 + "]" * 9_999 + "}")) == ("CommaExpected", 1, 20_000)


def test_twenty_megabytes() -> None:
    shop = WRANGLER.split("\n", 1)[1].rstrip().rsplit("}", 1)[0] + "}"
    shops = [f'"shop-{i}": {shop}' for i in range(20_000_000 // len(shop))]
    text = "{\n" + ",\n".join(shops) + "\n}\n"
    assert len(text) >= 19_000_000
    doc = parse_text(text)  # fast path
    assert doc.error is None and len(doc.value) == len(shops)  # type: ignore[arg-type]
    # an error at the very end, in few but long tokens, goes through the positional parser
    long = "[" + ",\n".join(['"' + "x" * 1000 + '"'] * 20_000) + ",,]"
    assert loc(parse_text(long)) == ("ValueExpected", 20_000, 1004)
    assert loc(parse_text('"' + "x" * 20_000_000)) == ("UnexpectedEndOfString", 1, 1)
    assert loc(parse_text("/*" + "*" * 20_000_000)) == ("UnexpectedEndOfComment", 1, 1)


# --- the fast path against the positional parser and json5 --------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)
comment_text = st.text(alphabet="ab */\"',]}{[\\\t", max_size=10)
gap = st.lists(
    st.sampled_from([" ", "\t", "\n", "\r\n", "\r"])
    | comment_text.map(lambda t: "/*" + t.replace("*/", "* /") + "*/")
    | comment_text.map(lambda t: "//" + t + "\n"),
    max_size=3,
).map("".join)


BOOLEANS: st.SearchStrategy[bool] = st.booleans()


@st.composite
def jsonc_documents(draw: st.DrawFn) -> tuple[str, object]:
    """A random JSON value written as JSONC: random gaps, comments and trailing commas."""
    value = draw(json_values)
    ascii_only = draw(BOOLEANS)

    def write(v: object) -> str:
        g = draw(gap)
        if isinstance(v, list | dict):
            items = (
                [write(x) for x in v]
                if isinstance(v, list)
                else [
                    json.dumps(k, ensure_ascii=ascii_only) + draw(gap) + ":" + write(x)
                    for k, x in v.items()
                ]
            )
            trailing = "," + draw(gap) if draw(BOOLEANS) and items else ""
            body = ",".join(draw(gap) + item + draw(gap) for item in items)
            o, c = ("[", "]") if isinstance(v, list) else ("{", "}")
            return g + o + body + trailing + draw(gap) + c + draw(gap)
        return g + json.dumps(v, ensure_ascii=ascii_only) + draw(gap)

    return write(value), value


def offset(text: str, line: int, col: int) -> int:
    starts = [0] + [m.end() for m in re.finditer(r"\r\n?|\n", text)]
    return starts[line - 1] + col - 1


_HIGH = r"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(rf"{_HIGH}(?!\\u[dD][c-fC-F])|(?<!{_HIGH})\\u[dD][c-fC-F]")


def rapid_refuses_valid(text: str) -> bool:
    """The valid texts RapidJSON declines (the positional parser then reads them): a number
    beyond double range, an escaped lone surrogate, nesting deeper than 1,000."""
    return (bool(re.search(r"[eE]\+?[0-9]{3}", text)) or bool(_LONE_SURROGATE.search(text))
            or text.count("[") + text.count("{") > 1000)


def test_rapidjson_guard_sends_its_blind_spots_to_the_stdlib_path() -> None:
    """RapidJSON reads these differently from jsonc-parser; `_rapid_can_read` keeps them away
    from it, and the answer is jsonc-parser's."""
    assert _RAPID is not None, "python-rapidjson is a dependency: pip install -e '.[test]'"
    blind = {
        "[1]\x00junk": None,  # RapidJSON stops at the NUL and returns [1]
        "[1, // c\r 2\n]": [1, 2],  # RapidJSON reads the comment on to the LF: [1]
        "[NaN]": None,  # a number to RapidJSON
        '{"a": -Infinity}': None,
    }
    for text, wrangler_value in blind.items():
        assert _RAPID(text) != wrangler_value  # type: ignore[operator]
        assert not _rapid_can_read(text)
        doc = parse_text(text)
        assert doc.value == wrangler_value and (doc.error is None) == (wrangler_value is not None)
    assert _rapid_can_read('{\r\n  "a": 1 // CRLF is fine\r\n}')
    assert _LONE_SURROGATE.search('"\\ud83d"') and not _LONE_SURROGATE.search('"\\ud83d\\ude00"')


def assert_paths_agree(text: str) -> Document:
    """The fast path and the positional parser agree on acceptance and value."""
    doc = parse_text(text)
    tree = parse_tree(doc.text)
    assert doc.text == text.removeprefix("\ufeff")
    for engine in (_fast_value, _stdlib_value):  # RapidJSON (when it can read it), stdlib
        try:
            fast: object = engine(doc.text)
        except _Decline:
            assert tree.error is not None or tree.duplicates or (
                engine is _fast_value and rapid_refuses_valid(doc.text)
            ), f"{engine.__name__} declined valid {text!r}"
        else:
            assert tree.error is None and not tree.duplicates, (engine.__name__, text)
            assert fast == tree.value, (engine.__name__, text)
    assert (doc.error is None) == (tree.error is None)
    assert doc.value == tree.value
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jsonc_documents())
def test_generated_jsonc_round_trips(case: tuple[str, object]) -> None:
    text, value = case
    doc = assert_paths_agree(text)
    assert doc.error is None, doc.error
    assert doc.value == value
    assert doc.value == json5_loads(text)
    # every span covers exactly the text of its value (spans are checked one level down)
    children: list[tuple[str | int, ...]] = [()]
    if isinstance(value, dict):
        children += [(k,) for k in value]
    elif isinstance(value, list):
        children += [(i,) for i in range(len(value))]
    for parts in children:
        span = doc.span(parts)
        sliced = text[offset(text, span.line, span.col) : offset(text, span.end_line, span.end_col)]
        assert parse_text(sliced).value == (value[parts[0]] if parts else value)  # type: ignore[index]


MUTATION_ALPHABET = list("{}[],:\"'\\/*-+.0123456789eE \t\n\rxuntfl") + [
    "\f",
    "\x00",
    "\ufeff",
    "é",
]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    jsonc_documents(),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 2), st.sampled_from(MUTATION_ALPHABET)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_jsonc_never_raises(
    case: tuple[str, object], edits: list[tuple[int, int, str]]
) -> None:
    text = case[0]
    for where, op, char in edits:
        i = where % (len(text) + 1)
        text = (
            text[:i] + char + text[i:],
            text[:i] + text[i + 1 :],
            text[:i] + char + text[i + 1 :],
        )[op]
    doc = assert_paths_agree(text)
    assert isinstance(doc, Document)
    if doc.error is None:
        # json5 accepts a superset of JSONC (U+2028/9 end its line comments: not in the alphabet)
        assert json5_loads(text.removeprefix("\ufeff")) == doc.value
    else:
        assert doc.error.line >= 1 and doc.error.col >= 1


EXAMPLE_CONFIGS = sorted((Path(__file__).resolve().parents[1] / "examples").rglob("*.jsonc"))


WORDS = ["shop", "order", "https://x.example/a//b", "/*", "*/", "//", "caf\u00e9", "\U0001f600",
         "price", "{", "}", "[", "]", ",", ":", "null", "1e9", "\u2028", "tab\there"]


def generated_configs(rng: random.Random, count: int) -> list[str]:
    """Wrangler-shaped config texts made here (so the test needs nothing beside the clone):
    the example fleet's files, plus `count` random configs written as plain JSON (the fast
    path's ground) in varied indentation, with nested envs, bindings, numbers and escapes."""
    texts = [p.read_text(encoding="utf-8-sig") for p in EXAMPLE_CONFIGS]

    def scalar() -> object:
        return rng.choice([rng.randint(-10**6, 10**6), rng.random() * 10**rng.randint(-5, 5),
                           True, False, None, "https://x.example/a//b", "caf\u00e9 \u2028",
                           "emoji \U0001f600", "", "a\"b\\c", 0, -0.0, 1e21])

    def target(depth: int) -> dict[str, object]:
        t: dict[str, object] = {
            "name": f"helm-{rng.randint(0, 999)}",
            "compatibility_date": "2026-11-01",
            "vars": {f"V{i}": scalar() for i in range(rng.randint(0, 5))}
            | {"ABOUT": " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 80)))},
            "d1_databases": [{"binding": "DB", "database_name": f"db-{i}",
                              "database_id": f"{rng.getrandbits(128):032x}"}
                             for i in range(rng.randint(0, 2))],
            "r2_buckets": [{"binding": "ASSETS", "bucket_name": f"b-{rng.randint(0, 99)}"}],
            "routes": [{"pattern": f"s{rng.randint(0, 9)}.example", "custom_domain": True}],
        }
        if depth == 0:
            t["env"] = {f"e{i}": target(1) for i in range(rng.randint(0, 3))}
        return t

    for _ in range(count):
        value = target(0)
        texts.append(json.dumps(value, indent=rng.choice([None, 1, 2, "\t"]),
                                ensure_ascii=rng.random() < 0.5))
    return texts


def test_rapidjson_never_accepts_what_the_positional_parser_rejects() -> None:
    """RapidJSON is a different parser: on thousands of mutated real-world and JSONC-heavy
    texts (comments, trailing commas, CR/LF, NUL, NaN, surrogates, odd numbers), whatever the
    fast path accepts, jsonc-parser's port accepts too, with the same value and no duplicate."""
    rng = random.Random(2026)
    seeds = [WRANGLER, TWO_PRODS, '{"a": [1, 2.5e-3, -0, {"b": null}], "c": "x//y/*z*/",}',
             '{\r\n  "s": "\\ud83d\\ude00", // c\r\n  "n": 1E+2,\r\n}']
    seeds += generated_configs(random.Random(11), 40)  # the same with or without ../shared
    if CORPUS.is_dir():
        seeds += [f.read_text(encoding="utf-8-sig") for f in sorted(CORPUS.iterdir())[:40]]
    alphabet = [*MUTATION_ALPHABET, "//", "/*", "*/", ",]", ",}", "NaN", "Infinity", "\r\n",
                "1e400", "\\ud800", '"a": 1,', "true", "null"]
    accepted = 0
    for _ in range(4000):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 4)):
            i = rng.randint(0, len(text))
            text = text[:i] + rng.choice(alphabet) + text[i + rng.randint(0, 2):]
        try:
            value = _fast_value(text)
        except _Decline:
            continue
        accepted += 1
        tree = parse_tree(text)
        assert tree.error is None and not tree.duplicates, text
        assert json.dumps(value) == json.dumps(tree.value), text  # types too: 1 is not 1.0
    assert accepted > 1000  # the mutations left enough valid texts to mean something


# --- the real world -----------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} not present")
def test_real_world_corpus() -> None:
    files = sorted(CORPUS.iterdir())
    assert len(files) >= 100
    for path in files:
        doc = parse_file(path)
        assert doc.error is None, (path, doc.error)
        assert doc.value == json5_loads(path.read_bytes().decode("utf-8-sig")), path
        assert parse_tree(doc.text).value == doc.value, path


# --- optional: the real jsonc-parser ----------------------------------------------------------

ORACLE_JS = """
const jp = require(process.argv[1] + '/node_modules/jsonc-parser');
const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(texts.map(t => {
  const errors = [];
  const v = jp.parse(t, errors, { allowTrailingComma: true });
  if (!errors.length) return { value: JSON.stringify(v === undefined ? null : v) };
  const e = errors[0];
  return { code: jp.printParseErrorCode(e.error), offset: Array.from(t.slice(0, e.offset)).length };
})));
"""


JSONC_PARSER_DIR = os.environ.get(
    "HELM_GUARD_JSONC_PARSER", str(Path(__file__).resolve().parent / "node")
)


def test_against_jsonc_parser() -> None:
    """Differential test against Microsoft's jsonc-parser itself (pinned in tests/node)."""
    assert shutil.which("node"), "node is required for the jsonc-parser differential test"
    assert (Path(JSONC_PARSER_DIR) / "node_modules" / "jsonc-parser").is_dir(), (
        "jsonc-parser is not installed: run `npm ci --prefix tests/node`"
    )
    rng = random.Random(7)
    seeds = [WRANGLER, TWO_PRODS, '{"s": "a\\"b\\u00e9\\ud83d\\ude00", "n": [-0, 1.5e-3, 2E+10]}']
    texts = [text for text, *_ in ERRORS]
    for _ in range(5000):
        chars = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            i = rng.randint(0, len(chars) - 1)
            chars[i : i + rng.randint(0, 1)] = [rng.choice(MUTATION_ALPHABET)]
        texts.append("".join(chars).removeprefix("\ufeff"))
    out = subprocess.run(  # noqa: S603 - a fixed argv; an opt-in oracle for developers
        ["node", "-e", ORACLE_JS, JSONC_PARSER_DIR],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for text, want in zip(texts, json.loads(out), strict=True):
        tree = parse_tree(text)
        if "value" in want:
            assert tree.error is None, text
            assert json.loads(want["value"]) == json.loads(
                json.dumps(tree.value).replace("Infinity", "null")
            ), text  # JSON.stringify writes Infinity as null
        else:
            assert tree.error is not None, text
            assert (tree.error.code, tree.error.start) == (want["code"], want["offset"]), text
