"""The project's own AWS CloudFormation Guard rules (``generator/lint/guard/*.guard``), run from
Python with ``cfn-guard-rs`` (PyPI; Guard's Rust engine as a Python extension, no binary download).

Every rule file is evaluated against one resource at a time, so a finding names the resource it
is about (``template: RULE (LogicalId)``) and a rule judges each resource on its own. A resource
whose ``Metadata.guard.SuppressedRules`` names a rule is skipped by that rule (the rules filter on
it the way the AWS Guard Rules Registry's do); the generator writes that list from
``generator.core.suppress.Suppression(guard=(...))``.

cfn-guard-rs 0.3.3's non-verbose report is cut to its last 8 KiB when a failure message embeds a
large value (a bucket's properties, a policy document), which leaves unparseable JSON; the verbose
report is complete, so the runner calls the engine's ``run_checks_rs(data, rules, verbose=True)``
and reads each rule's status from it. The version is pinned in setup.py for that reason.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

GUARD_DIR = Path(__file__).resolve().parent / "guard"
RULE_NAME = re.compile(r"^\s*rule\s+([A-Za-z0-9_]+)", re.M)


class GuardSetupError(RuntimeError):
    """cfn-guard-rs is missing, or a rule file does not parse."""


def rule_files(folder: Path = GUARD_DIR) -> list:
    return sorted(Path(folder).glob("*.guard"))


def rule_names(folder: Path = GUARD_DIR) -> list:
    """Every rule name declared in the rule files (what ``Suppression.guard`` may name)."""
    names = []
    for path in rule_files(folder):
        names += RULE_NAME.findall(path.read_text(encoding="utf-8"))
    return sorted(names)


@lru_cache(maxsize=1)
def _engine():
    try:
        from cfn_guard_rs.cfn_guard_rs import run_checks_rs  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        raise GuardSetupError(
            f"cfn-guard-rs is not installed ({err}): install the project with `pip install -e '.[test]'` "
            "(or `make templates`, which builds .venv from setup.py)") from None
    return run_checks_rs


def evaluate(data: dict, rules_text: str, source: str = "rules") -> dict:
    """``{rule name: PASS | FAIL | SKIP}`` for one data document."""
    run_checks_rs = _engine()
    try:
        raw = run_checks_rs(json.dumps(data, default=str), rules_text, True)
    except Exception as err:  # the extension raises its own parse/missing-value errors
        raise GuardSetupError(f"{source}: Guard could not evaluate the rules: {err}") from None
    try:
        report = json.loads(raw)
    except json.JSONDecodeError as err:
        raise GuardSetupError(f"{source}: Guard printed an unreadable report ({err})") from None
    statuses = {}
    for child in report.get("children") or []:
        check = (child.get("container") or {}).get("RuleCheck")
        if check:
            statuses[check["name"]] = check["status"]
    return statuses


def check_template(name: str, template: dict, folder: Path = GUARD_DIR) -> list:
    """One line per (rule, resource) the rules fail: ``"<name>: RULE (LogicalId)"``."""
    files = [(path, path.read_text(encoding="utf-8")) for path in rule_files(folder)]
    if not files:
        raise GuardSetupError(f"no Guard rule files in {folder}")
    findings = []
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        data = {"Resources": {logical_id: resource}}
        for path, text in files:
            for rule, status in sorted(evaluate(data, text, path.name).items()):
                if status == "FAIL":
                    findings.append(f"{name}: {rule} ({logical_id})")
    return findings
