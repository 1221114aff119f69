"""Reporters: golden files per format, schema validation, escaping, GitHub limits.

Regenerate the goldens after an intended change with
`HELM_GUARD_UPDATE_GOLDEN=1 pytest tests/test_report.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from helm_guard.finding import ERROR, WARNING, Finding
from helm_guard.report import (
    FORMATS,
    CheckSummary,
    default_format,
    github,
    render,
    sarif,
    summary_md,
    text,
)
from helm_guard.rules import RuleMeta

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "report"
UPDATE = os.environ.get("HELM_GUARD_UPDATE_GOLDEN") == "1"
EXT = {"text": "txt", "json": "json", "sarif": "sarif", "github": "github"}


def _doc(what: str, bad: str, good: str) -> str:
    return (
        f"## What it does\n{what}\n\n## Why is this bad?\nA shop could read another shop's "
        f"data.\n\n## Example\n```jsonc\n{bad}\n```\n\nUse instead:\n```jsonc\n{good}\n```"
    )


RULES = (
    RuleMeta(
        "HG201",
        "worker-name-prefix",
        WARNING,
        "Worker names start with the shop slug",
        _doc(
            "Checks that a Worker's name starts with its shop's slug.",
            '"name": "shop"',
            '"name": "acme-shop"',
        ),
    ),
    RuleMeta(
        "HG403",
        "cross-shop-binding",
        ERROR,
        "A binding points at another shop's resource",
        _doc(
            "Checks that every D1, KV and R2 binding names a resource of the same shop.",
            '"database_id": "<globex id>"',
            '"database_id": "<acme id>"',
        ),
    ),
    RuleMeta(
        "HG410",
        "env-inherits-binding",
        ERROR,
        "An environment inherits a shop binding",
        _doc(
            "Checks that environments redeclare bindings instead of inheriting them.",
            '"env": {"staging": {}}',
            '"env": {"staging": {"d1_databases": []}}',
        ),
    ),
    RuleMeta(
        "HG501",
        "shop-unregistered",
        WARNING,
        "A shop in the fleet file has no config",
        _doc(
            "Checks that every registered shop has a wrangler config.",
            '"shops": ["acme", "ghost"]',
            '"shops": ["acme"]',
        ),
    ),
)

SUMMARY = CheckSummary(files=12, targets=20, shops=10, tool_version="9.9.9-test", rules=RULES)

FINDINGS = (
    Finding(
        "HG410",
        ERROR,
        "shops/acme/wrangler.jsonc",
        12,
        3,
        15,
        4,
        "$.env.staging",
        "env.staging inherits d1_databases from the top level; redeclare them",
        "acme",
    ),
    Finding(
        "HG403",
        ERROR,
        "shops/acme/wrangler.jsonc",
        7,
        5,
        7,
        41,
        "$.d1_databases[0].database_id",
        "database_id belongs to shop globex, not acme: 100% cross-shop, fix it",
        "acme",
    ),
    Finding(
        "HG201",
        WARNING,
        "shops/acme/wrangler.jsonc",
        2,
        11,
        2,
        25,
        "$.name",
        "Worker name 'shop' does not start with 'acme-'",
        "acme",
    ),
    Finding(
        "HG403",
        ERROR,
        "shops/zürich/wrangler.jsonc",
        9,
        7,
        9,
        45,
        "$.kv_namespaces[0].id",
        "KV namespace „cache“ belongs to shop bern\r\nsee the fleet registry | owners",
        "zürich",
    ),
    Finding(
        "HG501",
        WARNING,
        "fleet.jsonc",
        4,
        23,
        4,
        30,
        "$.shops[3]",
        "shop 'ghost' is registered but has no wrangler config",
    ),
    Finding(
        "HG403",
        ERROR,
        "fleet.jsonc",
        1,
        1,
        1,
        2,
        "$",
        "fleet-wide: 2 shops share one R2 bucket, 'assets'",
    ),
)

OUTPUT_SCHEMA = json.loads((ROOT / "schemas" / "helm-check-output.schema.json").read_text())
SARIF_SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "sarif-2.1.0-subset.schema.json").read_text()
)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
    assert path.exists(), f"missing golden {path}; run with HELM_GUARD_UPDATE_GOLDEN=1"
    assert actual == path.read_bytes().decode("utf-8")


def validate_json_output(out: str) -> dict:
    doc = json.loads(out)
    jsonschema.Draft202012Validator(OUTPUT_SCHEMA).validate(doc)
    return doc


def validate_sarif(out: str) -> dict:
    log = json.loads(out)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    # What GitHub code scanning adds to the schema.
    (run,) = log["runs"]
    assert len(run["results"]) <= sarif.MAX_RESULTS
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "\\" not in uri and "://" not in uri
        assert physical["region"]["startLine"] >= 1
        assert result["partialFingerprints"]
    for rule in rules:
        assert "helpUri" not in rule and rule["help"]["text"] and rule["help"]["markdown"]
    return log


# --- golden files -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden_findings(fmt):
    check_golden(f"findings.{EXT[fmt]}", render(fmt, FINDINGS, SUMMARY))


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden_clean(fmt):
    check_golden(f"clean.{EXT[fmt]}", render(fmt, [], SUMMARY))


def test_golden_job_summary():
    out = summary_md.render_job_summary(
        summary_md.BLOCKED,
        ["2 findings with severity error", "shop acme would bind a database of globex"],
        ["acme", "zürich"],
        [("acme", "DB: acme-main → globex-main"), ("zürich", "CACHE: new id | was shared")],
        FINDINGS,
        ["fleet halted by @ops at 2026-09-01T10:00Z: incident 42"],
    )
    check_golden("job-summary.md", out)


def test_golden_job_summary_clean():
    out = summary_md.render_job_summary(summary_md.PROCEED, [], ["acme"], [], [], [])
    check_golden("job-summary-clean.md", out)


# --- the dispatcher -----------------------------------------------------------------------


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown report format"):
        render("xml", FINDINGS, SUMMARY)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({"GITHUB_ACTIONS": "true"}, "github"), ({}, "text"), ({"GITHUB_ACTIONS": "false"}, "text")],
)
def test_default_format(environ, expected):
    assert default_format(environ) == expected


def test_formats_are_imported_lazily():
    code = (
        "import sys; from helm_guard.report import render, CheckSummary;"
        "render('text', [], CheckSummary(0, 0, 0, 'v', []));"
        "print(sorted(m for m in sys.modules if m.startswith('helm_guard.report.')))"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['helm_guard.report.text']"


@pytest.mark.parametrize("fmt", FORMATS)
def test_reports_do_not_depend_on_input_order(fmt):
    assert render(fmt, FINDINGS[::-1], SUMMARY) == render(fmt, FINDINGS, SUMMARY)


# --- text ---------------------------------------------------------------------------------


def test_text_lines_and_summary():
    lines = render("text", FINDINGS, SUMMARY).splitlines()
    assert len(lines) == len(FINDINGS) + 1
    assert lines[0] == "fleet.jsonc:1:1: HG403 fleet-wide: 2 shops share one R2 bucket, 'assets'"
    assert lines[-1] == (
        "helm-guard: 4 errors, 2 warnings in 3 files (12 files, 20 targets, 10 shops checked)"
    )
    assert "\x1b" not in "\n".join(lines)


def test_text_singular_summary():
    one = CheckSummary(1, 1, 1, "v", RULES)
    assert render("text", [FINDINGS[2]], one).splitlines()[-1] == (
        "helm-guard: 0 errors, 1 warning in 1 file (1 file, 1 target, 1 shop checked)"
    )
    assert render("text", [], one) == "helm-guard: no findings (1 file, 1 target, 1 shop checked)\n"


def test_text_keeps_one_line_per_finding():
    line = text.format_finding(FINDINGS[3])
    assert "\n" not in line and "\r" not in line
    assert line.endswith("see the fleet registry | owners [zürich]")


# --- json ---------------------------------------------------------------------------------


def test_json_matches_schema():
    doc = validate_json_output(render("json", FINDINGS, SUMMARY))
    assert doc["summary"] == {"files": 12, "targets": 20, "shops": 10, "errors": 4, "warnings": 2}
    assert [f["line"] for f in doc["findings"]] == [1, 4, 2, 7, 12, 9]
    validate_json_output(render("json", [], SUMMARY))


def test_json_unknown_rule_and_schema_rejects_garbage():
    odd = FINDINGS[0]._replace(rule="HG999")
    doc = validate_json_output(render("json", [odd], SUMMARY))
    assert doc["findings"][0]["name"] == "HG999"
    doc["findings"][0]["line"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(OUTPUT_SCHEMA).validate(doc)


def test_json_output_schema_is_valid_2020_12():
    jsonschema.Draft202012Validator.check_schema(OUTPUT_SCHEMA)


# --- sarif --------------------------------------------------------------------------------


def test_sarif_matches_schema_and_github_rules():
    log = validate_sarif(render("sarif", FINDINGS, SUMMARY))
    (run,) = log["runs"]
    assert log["version"] == "2.1.0"
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("helm-guard", "9.9.9-test")
    assert [r["id"] for r in driver["rules"]] == [r.id for r in RULES]
    assert driver["rules"][1]["help"]["markdown"] == RULES[1].doc
    assert driver["rules"][1]["fullDescription"]["text"].startswith("Checks that every D1")
    levels = [r["level"] for r in run["results"]]
    assert levels == sorted(levels)  # "error" < "warning": errors first
    (multi,) = [r for r in run["results"] if r["ruleId"] == "HG410"]
    region = multi["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 12, "startColumn": 3, "endLine": 15, "endColumn": 4}
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert "shops/z%C3%BCrich/wrangler.jsonc" in uris
    assert "properties" not in run
    validate_sarif(render("sarif", [], SUMMARY))


def test_sarif_fingerprint_survives_moves_not_changes():
    f = FINDINGS[1]
    moved = f._replace(line=f.line + 3, end_line=f.end_line + 3, col=1)
    assert sarif.fingerprint(moved) == sarif.fingerprint(f)
    assert sarif.fingerprint(f._replace(message=f.message + "!")) != sarif.fingerprint(f)
    assert sarif.fingerprint(f._replace(json_path="$.x")) != sarif.fingerprint(f)
    assert sarif.fingerprint(f._replace(path="x/wrangler.jsonc")) != sarif.fingerprint(f)


def test_sarif_clamps_positions_and_adds_unknown_rules():
    odd = Finding("HG001", ERROR, "./shops/a b/wrangler.jsonc", 0, 0, 0, 0, "$", "cannot parse")
    log = validate_sarif(json.dumps(sarif.document([odd], SUMMARY)))
    (result,) = log["runs"][0]["results"]
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "shops/a%20b/wrangler.jsonc"
    assert physical["region"] == {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}
    assert log["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "HG001"


def test_sarif_truncates_errors_first():
    many = [FINDINGS[2]._replace(line=i + 1, end_line=i + 1) for i in range(3)]  # warnings
    many += [FINDINGS[1]._replace(line=i + 1, end_line=i + 1) for i in range(3)]  # errors
    log = validate_sarif(json.dumps(sarif.document(many, SUMMARY, max_results=4)))
    (run,) = log["runs"]
    assert [r["level"] for r in run["results"]] == ["error"] * 3 + ["warning"]
    assert run["properties"] == {"truncated": True, "totalResults": 6, "droppedResults": 2}
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("2 results of 6 dropped")


def test_sarif_respects_github_result_limit():
    n = sarif.MAX_RESULTS + 7
    many = [FINDINGS[1]._replace(line=i + 1, end_line=i + 1) for i in range(n)]
    run = sarif.document(many, SUMMARY)["runs"][0]
    assert len(run["results"]) == sarif.MAX_RESULTS
    assert run["properties"]["droppedResults"] == 7


# --- github -------------------------------------------------------------------------------


def test_escaping_matches_actions_core():
    assert github.escape_data("100%\r\nnext: a,b") == "100%25%0D%0Anext: a,b"
    assert github.escape_property("100%\r\nnext: a,b") == "100%25%0D%0Anext%3A a%2Cb"
    assert github.escape_data("%0A") == "%250A"  # % first, so escapes are not re-read
    assert github.escape_property("zürich") == "zürich"


def test_annotation_columns_only_on_single_line_spans():
    single = github.annotation(FINDINGS[1], "cross-shop-binding")
    assert single == (
        "::error file=shops/acme/wrangler.jsonc,line=7,endLine=7,col=5,endColumn=41,"
        "title=HG403 cross-shop-binding::database_id belongs to shop globex, not acme: "
        "100%25 cross-shop, fix it [acme]"
    )
    multi = github.annotation(FINDINGS[0], "env-inherits-binding")
    assert "col=" not in multi and "endColumn=" not in multi
    assert multi.startswith("::error file=shops/acme/wrangler.jsonc,line=12,endLine=15,title=")


def test_annotation_escapes_message_and_properties():
    out = github.annotation(FINDINGS[3], None)
    assert out.startswith("::error file=shops/zürich/wrangler.jsonc,line=9,")
    assert out.endswith(
        "::KV namespace „cache“ belongs to shop bern%0D%0Asee the fleet registry | owners [zürich]"
    )
    weird = FINDINGS[4]._replace(path="a,b:c%.jsonc")
    assert "file=a%2Cb%3Ac%25.jsonc," in github.annotation(weird, "x")
    assert github.annotation(weird, "x").startswith("::warning ")


def _annotations(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("::")]


def test_github_errors_first_and_summary_last():
    lines = render("github", FINDINGS, SUMMARY).splitlines()
    kinds = [line.split(" ", 1)[0] for line in lines[:-1]]
    assert kinds == ["::error"] * 4 + ["::warning"] * 2
    assert not lines[-1].startswith("::") and lines[-1].startswith("helm-guard: 4 errors")


@pytest.mark.parametrize(
    ("errors", "warnings", "hidden"),
    [(10, 10, 0), (11, 0, 1), (3, 25, 15), (60, 60, 100)],
)
def test_github_notice_counts_what_github_will_not_show(errors, warnings, hidden):
    findings = [FINDINGS[1]._replace(line=i + 1, end_line=i + 1) for i in range(errors)]
    findings += [FINDINGS[2]._replace(line=i + 1, end_line=i + 1) for i in range(warnings)]
    out = render("github", findings, SUMMARY)
    annotations = _annotations(out)
    notices = [a for a in annotations if a.startswith("::notice::")]
    assert len(annotations) - len(notices) == errors + warnings  # all are emitted anyway
    if hidden:
        (notice,) = notices
        assert notice.startswith(f"::notice::{hidden} of {errors + warnings} findings")
    else:
        assert not notices
    assert not out.splitlines()[-1].startswith("::")


def test_github_every_line_is_one_command():
    out = render("github", FINDINGS, SUMMARY)
    assert len(out.splitlines()) == len(FINDINGS) + 1
    for line in _annotations(out):
        assert re.fullmatch(r"::(error|warning|notice)( [^:]*)?::[^\r\n]*", line), line


# --- job summary --------------------------------------------------------------------------

LIMIT = 1_000_000


def _big_findings(n: int) -> list[Finding]:
    return [
        Finding(
            "HG403",
            ERROR if i % 3 else WARNING,
            f"shops/shop-{i % 10_000:05d}/wrangler.jsonc",
            i % 400 + 1,
            5,
            i % 400 + 1,
            41,
            "$.d1_databases[0].database_id",
            f"database_id of shop-{i:05d} belongs to another shop | see\nregistry",
            f"shop-{i % 10_000:05d}",
        )
        for i in range(n)
    ]


def test_job_summary_fits_github_limit_at_fleet_scale():
    shops = [f"shop-{i:05d}" for i in range(10_000)]
    rebinds = [(s, f"DB: {s}-old → {s}-new") for s in shops]
    findings = _big_findings(50_000)
    reasons = [f"finding {i}" for i in range(5_000)]
    halts = [f"shop-{i:05d} halted" for i in range(2_000)]
    out = summary_md.render_job_summary(
        summary_md.BLOCKED, reasons, shops, rebinds, findings, halts
    )
    assert len(out.encode("utf-8")) <= LIMIT
    assert out.startswith("## ⛔ BLOCKED\n")
    assert "<details><summary>10000 shops</summary>" in out
    assert "- shop-09999\n" in out  # 10,000 short names fit their share
    assert re.search(r"… and [\d,]+ more findings: see the SARIF or JSON report", out)
    assert re.search(r"… and [\d,]+ more rebinds", out)
    for heading in (
        "### Why the deploy is blocked",
        "### Halts in force",
        "### Affected shops",
        "### Rebinds",
        "### Findings",
    ):
        assert heading in out
    rows = [line for line in out.splitlines() if line.startswith("| HG403 |")]
    assert len(rows) > 1000  # the budget is used, not wasted
    assert all(line.count(" | ") == 3 for line in rows)  # `|` in messages is escaped


def test_job_summary_cuts_long_shop_lists():
    shops = [f"shop-{i:06d}" for i in range(100_000)]
    out = summary_md.render_job_summary(summary_md.PROCEED, [], shops, [], [], [])
    assert len(out.encode("utf-8")) <= LIMIT
    match = re.search(r"- … and ([\d,]+) more\n\n</details>\n", out)
    assert match
    listed = out.count("\n- shop-")
    assert listed + int(match.group(1).replace(",", "")) == len(shops)


@pytest.mark.parametrize("limit", [summary_md.MIN_LIMIT, 10_000, 65_536, LIMIT])
def test_job_summary_never_exceeds_limit(limit):
    huge = "x|\n" * 400_000
    findings = _big_findings(3_000) + [FINDINGS[0]._replace(message=huge)]
    out = summary_md.render_job_summary(
        summary_md.BLOCKED,
        [huge] * 3,
        [huge] * 50,
        [(huge, huge)] * 30,
        findings,
        [huge],
        limit_bytes=limit,
    )
    assert len(out.encode("utf-8")) <= limit
    assert out.startswith("## ⛔ BLOCKED\n")


def test_job_summary_small_lists_are_open_and_escaped():
    out = summary_md.render_job_summary(
        summary_md.PROCEED, [], [f"s{i}" for i in range(20)], [], [FINDINGS[3]], []
    )
    assert out.startswith("## ✅ DEPLOY MAY PROCEED\n")
    assert "<details>" not in out and "- s19\n" in out
    assert "belongs to shop bern<br>see the fleet registry \\| owners" in out
    assert "No halts in force." in out and "No rebinds." in out


def test_md_escape_defuses_markup():
    assert summary_md.md_escape("![x](http://a) <img> `c` *b* a|b\nc") == (
        "\\!\\[x\\](http://a) \\<img\\> \\`c\\` \\*b\\* a\\|b<br>c"
    )


def test_job_summary_rejects_unknown_verdict():
    with pytest.raises(ValueError, match="unknown verdict"):
        summary_md.render_job_summary("maybe", [], [], [], [], [])
