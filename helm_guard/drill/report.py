"""Render a drill report: JSON (schema `schemas/helm-drill-report.schema.json`), Markdown (for
the GitHub job summary) and plain text. Pure functions of a `DrillReport`.

Nothing here prints command output: a report holds only what the drill itself wrote
(expectations, argument lists, exit codes, timings), already redacted by `Record`.
"""

from __future__ import annotations

import json
from typing import Any

from helm_guard import __version__
from helm_guard.drill import TIMING_KEYS, DrillReport, ScenarioResult
from helm_guard.drill.sandbox import BANNER

SCHEMA_ID = "helm-drill-report"
REPORT_VERSION = 1


def scenario_dict(s: ScenarioResult) -> dict[str, Any]:
    return {
        "name": s.name,
        "title": s.title,
        "hypothesis": s.hypothesis,
        "fault": s.fault,
        "verdict": s.verdict,
        "failed_step": s.failed_step,
        "error": s.error,
        "duration_seconds": s.seconds,
        "timings": {k: s.timings.get(k) for k in TIMING_KEYS},
        "expectations": [
            {"step": e.step, "description": e.description, "expected": e.expected,
             "observed": e.observed, "ok": e.ok} for e in s.expectations
        ],
        "steps": [
            {"label": c.label, "argv": list(c.argv), "exit_code": c.exit_code,
             "seconds": c.seconds} for c in s.steps
        ],
    }


def to_dict(r: DrillReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "version": REPORT_VERSION,
        "tool": {"name": "helm-guard", "version": __version__},
        "verdict": "PASS" if r.failed == 0 and r.scenarios else "FAIL",
        "totals": {
            "scenarios": len(r.scenarios),
            "passed": r.passed,
            "failed": r.failed,
            "started": r.started,
            "finished": r.finished,
            "duration_seconds": r.seconds,
        },
        "sandbox": {"note": BANNER, "fleet": r.fleet, "mode": r.sandbox_mode,
                    "kept": r.kept},
        "scenarios": [scenario_dict(s) for s in r.scenarios],
    }


def render_json(r: DrillReport) -> str:
    return json.dumps(to_dict(r), indent=2, ensure_ascii=False) + "\n"


def _cell(text: object) -> str:
    s = "" if text is None else str(text)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def _secs(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s"


def _scenario_md(s: ScenarioResult) -> list[str]:
    icon = "✅" if s.verdict == "PASS" else "❌"
    out = [f"### {icon} `{s.name}`: {s.verdict}: {_cell(s.title)}", "",
           f"- **Hypothesis:** {_cell(s.hypothesis)}",
           f"- **Fault injected:** {_cell(s.fault)}",
           "- **Timings:** " + ", ".join(f"{k} {_secs(s.timings.get(k))}" for k in TIMING_KEYS)
           + f" (scenario {s.seconds:.2f} s)"]
    if s.failed_step:
        out.append(f"- **Failed step:** {_cell(s.failed_step)}")
    if s.error:
        out.append(f"- **Error:** {_cell(s.error)}")
    out += ["", "| | step | expectation | expected | observed |", "|---|---|---|---|---|"]
    for e in s.expectations:
        out.append(f"| {'✅' if e.ok else '❌'} | {_cell(e.step)} | {_cell(e.description)} "
                   f"| {_cell(e.expected)} | {_cell(e.observed)} |")
    out.append("")
    return out


def render_markdown(r: DrillReport) -> str:
    d = to_dict(r)
    t = d["totals"]
    lines = [f"## helm-guard drill: {d['verdict']}", "",
             f"_{_cell(BANNER)}_", "",
             "| scenarios | passed | failed | started | finished | duration |",
             "|---|---|---|---|---|---|",
             f"| {t['scenarios']} | {t['passed']} | {t['failed']} | {t['started']} "
             f"| {t['finished']} | {t['duration_seconds']:.1f} s |", "",
             "| scenario | verdict | detect | block | halt | restore | failed step |",
             "|---|---|---|---|---|---|---|"]
    for s in r.scenarios:
        lines.append(f"| `{s.name}` | {s.verdict} | "
                     + " | ".join(_secs(s.timings.get(k)) for k in TIMING_KEYS)
                     + f" | {_cell(s.failed_step or '')} |")
    lines.append("")
    for s in r.scenarios:
        lines += _scenario_md(s)
    return "\n".join(lines) + "\n"


def _scenario_text(s: ScenarioResult) -> list[str]:
    timings = "  ".join(f"{k} {s.timings[k]:.2f}s" for k in TIMING_KEYS
                        if s.timings.get(k) is not None)
    out = [f"{s.verdict}  {s.name:<22} {s.seconds:6.2f}s  {timings}".rstrip()]
    if s.verdict != "PASS":
        out.append(f"      hypothesis: {s.hypothesis}")
        for e in s.expectations:
            if not e.ok:
                out.append(f"      ✘ [{e.step}] {e.description}")
                out.append(f"          expected: {e.expected}")
                out.append(f"          observed: {e.observed}")
    return out


def render_text(r: DrillReport) -> str:
    d = to_dict(r)
    t = d["totals"]
    lines = [f"helm-guard drill: {d['verdict']}: {t['scenarios']} scenarios, {t['passed']} "
             f"passed, {t['failed']} failed in {t['duration_seconds']:.1f} s "
             f"({t['started']} .. {t['finished']})"]
    for s in r.scenarios:
        lines += _scenario_text(s)
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}


def render(r: DrillReport, fmt: str) -> str:
    return RENDERERS[fmt](r)


def scenario_texts(s: ScenarioResult) -> list[str]:
    """One scenario rendered every way the report can show it (for the secret scan)."""
    return [json.dumps(scenario_dict(s), ensure_ascii=False), "\n".join(_scenario_md(s)),
            "\n".join(_scenario_text(s))]
