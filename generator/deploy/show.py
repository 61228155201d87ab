"""The change set as a table, with data-loss risks marked and counted."""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..stackmodel import is_stateful

RISK = "DATA-LOSS RISK"


@dataclass
class Row:
    action: str
    logical_id: str
    rtype: str
    replacement: str
    scope: str
    properties: str
    risk: bool


def _context(value):
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def changed_properties(change: dict) -> list:
    """Property names from Details; else from the Before/After contexts (IncludePropertyValues)."""
    names = []
    for detail in change.get("Details") or []:
        target = detail.get("Target") or {}
        name = target.get("Name") if target.get("Attribute") == "Properties" else target.get("Attribute")
        if name and name not in names:
            names.append(name)
    if names:
        return names
    before, after = _context(change.get("BeforeContext")), _context(change.get("AfterContext"))
    if not before and not after:
        return []
    bprops, aprops = before.get("Properties") or {}, after.get("Properties") or {}
    names = [k for k in list(aprops) + [k for k in bprops if k not in aprops] if bprops.get(k) != aprops.get(k)]
    for attribute in sorted((set(before) | set(after)) - {"Properties"}):
        if before.get(attribute) != after.get(attribute):
            names.append(attribute)
    return names


def is_risky(change: dict, stateful_ids) -> bool:
    """Replacing or removing a stateful resource (by type, or by logical id from the templates)."""
    stateful = is_stateful(change.get("ResourceType")) or change.get("LogicalResourceId") in stateful_ids
    if not stateful:
        return False
    return change.get("Action") == "Remove" or change.get("Replacement") in ("True", "Conditional")


def rows(change_set: dict, stateful_ids) -> list:
    found = []
    for item in change_set.get("Changes") or []:
        change = item.get("ResourceChange") or {}
        action = change.get("Action", "?")
        replacement = change.get("Replacement") or "-" if action == "Modify" else "-"
        found.append(Row(
            action=action,
            logical_id=change.get("LogicalResourceId", "?"),
            rtype=change.get("ResourceType", "?"),
            replacement=replacement,
            scope=",".join(change.get("Scope") or []) or "-",
            properties=",".join(changed_properties(change)) or "-",
            risk=is_risky(change, stateful_ids),
        ))
    return found


def table(found: list, color: bool = False) -> str:
    header = ("Action", "Logical ID", "Type", "Replacement", "Scope", "Changed properties", "Risk")
    lines = [(r.action, r.logical_id, r.rtype, r.replacement, r.scope, r.properties, RISK if r.risk else "")
             for r in found]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]

    def fmt(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    out = [fmt(header), fmt(tuple("-" * w for w in widths))]
    for line, row in zip(lines, found):
        text = fmt(line)
        if row.risk:
            text = f"\033[1;31m{text}\033[0m" if color else text
        out.append(text)
    out.append(summary(found))
    return "\n".join(out)


def summary(found: list) -> str:
    adds = sum(r.action == "Add" for r in found)
    modifies = sum(r.action == "Modify" for r in found)
    removes = sum(r.action == "Remove" for r in found)
    replacements = sum(r.replacement in ("True", "Conditional") for r in found)
    other = len(found) - adds - modifies - removes
    risks = sum(r.risk for r in found)
    text = (f"{len(found)} change{'s' if len(found) != 1 else ''}: {adds} to add, {modifies} to modify "
            f"({replacements} replacement{'s' if replacements != 1 else ''}), {removes} to remove")
    if other:
        text += f", {other} other"
    text += f"; {risks} data-loss risk{'s' if risks != 1 else ''}"
    if risks:
        text += " (stateful resources replaced or removed: " + ", ".join(r.logical_id for r in found if r.risk) + ")"
    return text
