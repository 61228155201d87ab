"""Suppressions read back from templates, checked, and turned into cfripper filter files.

The generator writes each suppression once under ``Metadata.cfn-delivery.suppressions``
(see :mod:`generator.core.suppress`), next to checkov's and cfn-lint's native forms.
Everything here works from the template file alone, so it covers every template in
``templates/`` whoever generated it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..core.suppress import METADATA_KEY

MIN_REASON = 20
TOOLS = ("checkov", "cfn-lint", "cfripper", "least-privilege", "guard")


@dataclass(frozen=True)
class Entry:
    template: str
    logical_id: str
    reason: str
    checkov: tuple = ()
    cfn_lint: tuple = ()
    cfripper: tuple = ()
    least_privilege: tuple = ()
    guard: tuple = ()

    def rules(self) -> str:
        parts = []
        for tool, ids in (("checkov", self.checkov), ("cfn-lint", self.cfn_lint), ("cfripper", self.cfripper),
                          ("least-privilege", self.least_privilege), ("guard", self.guard)):
            if ids:
                parts.append(f"{tool} {', '.join(ids)}")
        return "; ".join(parts)


def _metadata(resource) -> dict:
    metadata = resource.get("Metadata") if isinstance(resource, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def entries(name: str, template: dict) -> list:
    """Every declared suppression of ``template`` (``name`` is how messages call the template)."""
    found = []
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        for item in (_metadata(resource).get(METADATA_KEY) or {}).get("suppressions", []) or []:
            item = item if isinstance(item, dict) else {}
            found.append(Entry(
                name, logical_id, str(item.get("reason") or "").strip(),
                tuple(item.get("checkov") or ()), tuple(item.get("cfn-lint") or ()), tuple(item.get("cfripper") or ()),
                tuple(item.get("least-privilege") or ()), tuple(item.get("guard") or ()),
            ))
    return found


def problems(name: str, template: dict) -> list:
    """One line per suppression without a reason, or a native skip no declaration explains."""
    found = []
    for entry in entries(name, template):
        where = f"{name}: resource {entry.logical_id}"
        if len(entry.reason) < MIN_REASON:
            found.append(f"{where}: suppression of {entry.rules() or 'no rule'} has no reason a reviewer can "
                         f"accept ({MIN_REASON}+ characters); give Suppression(reason=...) in the generator")
        if not (entry.checkov or entry.cfn_lint or entry.cfripper or entry.least_privilege or entry.guard):
            found.append(f"{where}: suppression names no rule; list the checkov/cfn_lint/cfripper/least_privilege/"
                         f"guard ids it covers")
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        metadata = _metadata(resource)
        declared = [e for e in entries(name, template) if e.logical_id == logical_id]
        explained_checkov = {rule for e in declared for rule in e.checkov}
        explained_cfn_lint = {rule for e in declared for rule in e.cfn_lint}
        explained_guard = {rule for e in declared for rule in e.guard}
        for skip in (metadata.get("checkov") or {}).get("skip", []) or []:
            rule = skip.get("id") if isinstance(skip, dict) else skip
            if rule not in explained_checkov:
                found.append(f"{name}: resource {logical_id}: checkov skip {rule} is not declared with a reason; "
                             f"use generator.core.suppress.suppress(resource, Suppression(...))")
            elif not (isinstance(skip, dict) and len(str(skip.get("comment") or "").strip()) >= MIN_REASON):
                found.append(f"{name}: resource {logical_id}: checkov skip {rule} has no comment; "
                             f"use generator.core.suppress.suppress(resource, Suppression(...))")
        ignored = ((metadata.get("cfn-lint") or {}).get("config") or {}).get("ignore_checks", []) or []
        for rule in ignored:
            if rule not in explained_cfn_lint:
                found.append(f"{name}: resource {logical_id}: cfn-lint ignore {rule} is not declared with a reason; "
                             f"use generator.core.suppress.suppress(resource, Suppression(...))")
        guard_rules = (metadata.get("guard") or {}).get("SuppressedRules", []) or []
        for rule in guard_rules:
            if rule not in explained_guard:
                found.append(f"{name}: resource {logical_id}: Guard suppression {rule} is not declared with a reason; "
                             f"use generator.core.suppress.suppress(resource, Suppression(guard=...))")
        for rule in sorted(explained_guard - set(guard_rules)):
            found.append(f"{name}: resource {logical_id}: declared Guard suppression {rule} is missing from "
                         f"Metadata.guard.SuppressedRules; regenerate with `make templates`")
        for rule in sorted(explained_checkov - {(s.get("id") if isinstance(s, dict) else s)
                                               for s in (metadata.get("checkov") or {}).get("skip", []) or []}):
            found.append(f"{name}: resource {logical_id}: declared checkov suppression {rule} is missing from "
                         f"Metadata.checkov.skip; regenerate with `make templates`")
        for rule in sorted(explained_cfn_lint - set(ignored)):
            found.append(f"{name}: resource {logical_id}: declared cfn-lint suppression {rule} is missing from "
                         f"Metadata.cfn-lint.config.ignore_checks; regenerate with `make templates`")
    return found


def cfripper_filters_source(name: str, template: dict) -> str:
    """A cfripper rules-filters module allowing exactly the declared (resource, rule) pairs."""
    lines = [
        f"# Generated by generator.lint.suppressions from {name}. Do not edit: declare suppressions",
        "# in the generator with generator.core.suppress.Suppression(reason, cfripper=(...)).",
        "from cfripper.config.filter import Filter",
        "from cfripper.model.enums import RuleMode",
        "",
        "FILTERS = [",
    ]
    for entry in entries(name, template):
        if not entry.cfripper:
            continue
        lines += [
            "    Filter(",
            f"        reason={json.dumps(entry.reason)},",
            "        rule_mode=RuleMode.ALLOWED,",
            f"        eval={{'eq': [{{'ref': 'logical_id'}}, {json.dumps(entry.logical_id)}]}},",
            f"        rules={{{', '.join(json.dumps(rule) for rule in entry.cfripper)}}},",
            "    ),",
        ]
    lines.append("]")
    return "\n".join(lines) + "\n"


def write_cfripper_filters(name: str, template: dict, folder: Path) -> Path:
    """Write ``folder/filters.py`` for one template (a folder per template scopes the filters to it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.py"):
        stale.unlink()
    path = folder / "filters.py"
    path.write_text(cfripper_filters_source(name, template), encoding="utf-8")
    return path
