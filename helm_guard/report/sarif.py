"""SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`).

GitHub's rules shape this output: every result has a region (startLine >= 1, GH1003); rule
help lives in `help.text`/`help.markdown` because GitHub ignores `helpUri`; at most 25,000
results per run are accepted, so the rest are dropped (errors kept first) and the drop is
recorded in `run.properties` and as a tool execution notification. `partialFingerprints`
hashes rule, path, JSON path and message (not the line), so an alert survives edits that
move the offending value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from helm_guard.finding import WARNING, Finding
from helm_guard.report import CheckSummary, by_severity, plural
from helm_guard.rules import RuleMeta

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/helm-guard/helm-guard"
MAX_RESULTS = 25_000  # GitHub code scanning: results per run
FINGERPRINT_KEY = "helmGuardFinding/v1"

_SECTION = re.compile(r"^## What it does\s*\n(.*?)(?=^## |^Use instead:|\Z)", re.M | re.S)


def _level(severity: str) -> str:
    return "warning" if severity == WARNING else "error"


def _what_it_does(rule: RuleMeta) -> str:
    match = _SECTION.search(rule.doc)
    text = match.group(1).strip() if match else ""
    return text or rule.summary


def _descriptor(rule: RuleMeta) -> dict[str, Any]:
    doc = rule.doc or rule.summary
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _what_it_does(rule)},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": _level(rule.severity)},
        "properties": {"tags": ["helm-guard", rule.severity]},
    }


def _unknown_rule(rule_id: str, severity: str) -> RuleMeta:
    """Metadata for a rule a finding names but the registry does not (keeps ruleIndex valid)."""
    summary = f"helm-guard finding {rule_id}"
    return RuleMeta(rule_id, rule_id, severity, summary, summary)


def fingerprint(f: Finding) -> str:
    """Stable across runs and line moves: sha256 of rule, path, JSON path and message."""
    key = "\0".join((f.rule, f.path, f.json_path, f.message))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def artifact_uri(path: str) -> str:
    """A relative URI reference for a fleet-relative POSIX path (percent-encoded)."""
    posix = path.replace("\\", "/")
    while posix.startswith("./"):
        posix = posix[2:]
    return quote(posix.lstrip("/"), safe="/")


def region(f: Finding) -> dict[str, int]:
    """The finding's span, clamped to what SARIF and GitHub accept (lines/columns >= 1)."""
    start_line = max(1, f.line)
    start_col = max(1, f.col)
    end_line = max(start_line, f.end_line)
    end_col = max(1, f.end_col)
    if end_line == start_line:
        end_col = max(start_col, end_col)
    return {
        "startLine": start_line,
        "startColumn": start_col,
        "endLine": end_line,
        "endColumn": end_col,
    }


def _result(f: Finding, index: int) -> dict[str, Any]:
    return {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": _level(f.severity),
        "message": {"text": f.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(f.path), "uriBaseId": "%SRCROOT%"},
                    "region": region(f),
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f)},
        "properties": {"jsonPath": f.json_path, "shop": f.shop},
    }


def document(
    findings: Sequence[Finding], summary: CheckSummary, *, max_results: int = MAX_RESULTS
) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict."""
    rules = list(summary.rules)
    index = {r.id: i for i, r in enumerate(rules)}
    ordered = by_severity(findings)
    for f in ordered:
        if f.rule not in index:
            index[f.rule] = len(rules)
            rules.append(_unknown_rule(f.rule, f.severity))
    kept, dropped = ordered[:max_results], len(ordered) - min(len(ordered), max_results)

    invocation: dict[str, Any] = {"executionSuccessful": True}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "helm-guard",
                "version": summary.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": [_descriptor(r) for r in rules],
            }
        },
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule]) for f in kept],
    }
    if dropped:
        note = (
            f"{plural(dropped, 'result')} of {len(ordered)} dropped: GitHub code scanning "
            f"accepts at most {max_results} results per run (errors were kept first); "
            "run `helm-guard check --format json` for every finding"
        )
        invocation["toolExecutionNotifications"] = [{"level": "warning", "message": {"text": note}}]
        run["properties"] = {
            "truncated": True,
            "totalResults": len(ordered),
            "droppedResults": dropped,
        }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(findings: Sequence[Finding], summary: CheckSummary) -> str:
    return json.dumps(document(findings, summary), indent=2, ensure_ascii=False) + "\n"
