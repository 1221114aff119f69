"""Machine-readable JSON, described by `schemas/helm-check-output.schema.json`.

```
{"version": 1,
 "tool": {"name": "helm-guard", "version": "0.1.0"},
 "summary": {"files": 12, "targets": 20, "shops": 10, "errors": 3, "warnings": 1},
 "findings": [{"rule": "HG403", "name": "cross-shop-binding", "severity": "error",
               "path": "shops/acme/wrangler.jsonc", "line": 7, "column": 5,
               "end_line": 7, "end_column": 41, "json_path": "$.d1_databases[0].database_id",
               "message": "...", "shop": "acme"}]}
```
Findings are in reading order (path, line, column). `column`/`end_column` are 1-based and
`end_column` is exclusive; `name` is the rule's kebab-case name (the rule ID when the rule is
not in the registry); `shop` is null for findings that belong to no shop. `version` changes only
when a field is removed or changes meaning.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from helm_guard.finding import Finding
from helm_guard.report import CheckSummary, by_position, counts, rule_index

FORMAT_VERSION = 1


def document(findings: Sequence[Finding], summary: CheckSummary) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    rules = rule_index(summary)
    errors, warnings = counts(findings)
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": "helm-guard", "version": summary.tool_version},
        "summary": {
            "files": summary.files,
            "targets": summary.targets,
            "shops": summary.shops,
            "errors": errors,
            "warnings": warnings,
        },
        "findings": [
            {
                "rule": f.rule,
                "name": rules[f.rule].name if f.rule in rules else f.rule,
                "severity": f.severity,
                "path": f.path,
                "line": f.line,
                "column": f.col,
                "end_line": f.end_line,
                "end_column": f.end_col,
                "json_path": f.json_path,
                "message": f.message,
                "shop": f.shop,
            }
            for f in by_position(findings)
        ],
    }


def render(findings: Sequence[Finding], summary: CheckSummary) -> str:
    return json.dumps(document(findings, summary), indent=2, ensure_ascii=False) + "\n"
