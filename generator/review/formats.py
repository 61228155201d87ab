"""The diff as terminal text (coloured on a TTY unless NO_COLOR is set), Markdown or JSON."""
from __future__ import annotations

import json
import os

from . import risks
from .values import show, shorten

MARKS = {"add": "+", "remove": "-", "modify": "~", "value": "~"}
COLOURS = {"add": "32", "remove": "31", "modify": "33", "value": "33"}
NOTE_LIMIT = 300
LOUD = (risks.DATA_LOSS, risks.IAM_BROADENING, risks.NETWORK_EXPOSURE, risks.RETENTION_REDUCED,
        risks.OUTPUT, risks.EXPORT_IN_USE, risks.RENAME)


def use_colour(stream) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def replacement_text(value) -> str:
    return {True: "yes", False: "no"}.get(value, str(value))


# -- JSON --------------------------------------------------------------------------

def _values(change):
    return [{"path": v.path, "old": v.old, "new": v.new} for v in change.values]


def as_data(diffs, base: str, target: str) -> dict:
    from .diff import flags_of

    return {
        "base": base,
        "target": target,
        "stacks": [{"stack": d.stack, "status": d.status} for d in diffs],
        "resources": [
            {"stack": c.stack, "logical_id": c.logical_id, "type": c.type, "change": c.change,
             "replacement": c.replacement, "properties": c.properties, "risks": c.risks,
             "notes": c.notes, "values": _values(c)}
            for d in diffs for c in d.resources
        ],
        **{
            section: [
                {"stack": c.stack, "section": c.section, "name": c.name, "change": c.change,
                 "properties": c.properties, "risks": c.risks, "notes": c.notes, "values": _values(c)}
                for d in diffs for c in getattr(d, section)
            ]
            for section in ("parameters", "outputs", "other")
        },
        "risks": flags_of(diffs),
    }


def as_json(diffs, base, target) -> str:
    return json.dumps(as_data(diffs, base, target), indent=2) + "\n"


# -- summary -----------------------------------------------------------------------

def summary(diffs) -> str:
    from .diff import flags_of

    resources = [c for d in diffs for c in d.resources]
    if not any(d.changed for d in diffs):
        return f"No changes in {len(diffs)} stack{'s' if len(diffs) != 1 else ''}."
    counts = {k: sum(1 for c in resources if c.change == k) for k in ("add", "modify", "remove")}
    replaced = sum(1 for c in resources if c.replacement is True)
    maybe = sum(1 for c in resources if c.replacement == "conditional")
    others = sum(len(d.parameters) + len(d.outputs) + len(d.other) for d in diffs)
    text = (f"{len(resources)} resource change{'s' if len(resources) != 1 else ''} "
            f"({counts['add']} added, {counts['modify']} modified, {counts['remove']} removed), "
            f"{replaced} replacement{'s' if replaced != 1 else ''}")
    if maybe:
        text += f" (+{maybe} conditional)"
    if others:
        text += f", {others} parameter/output/section change{'s' if others != 1 else ''}"
    flags = flags_of(diffs)
    text += f"; risks: {', '.join(flags)}" if flags else "; no risk flags"
    return text + "."


# -- text --------------------------------------------------------------------------

def as_text(diffs, base: str, target: str, colour: bool = False) -> str:
    def paint(text, code):
        return f"\033[{code}m{text}\033[0m" if colour else text

    lines = [paint(f"Comparing {base} -> {target}", "1")]
    for d in diffs:
        if not d.changed:
            lines.append(f"{d.stack}: no changes")
            continue
        status = {"added": " (new stack)", "removed": " (stack removed)"}.get(d.status, "")
        lines.append(paint(f"{d.stack}{status}", "1"))
        width = max([len(c.logical_id) for c in d.resources] + [10])
        type_width = max([len(c.type) for c in d.resources] + [10])
        for c in d.resources:
            head = f"  {MARKS[c.change]} {c.logical_id:<{width}}  {c.type:<{type_width}}  {c.change:<6}"
            head = paint(head, COLOURS[c.change])
            if c.replacement is True:
                head += "  " + paint("REPLACE", "1;31")
            elif c.replacement == "conditional":
                head += "  " + paint("MAY REPLACE", "31")
            head += _flags(c.risks, paint)
            lines.append(head)
            lines.extend(_details(c, paint))
        for title, entries in (("Parameters", d.parameters), ("Outputs", d.outputs), ("Template sections", d.other)):
            if not entries:
                continue
            lines.append(f"  {title}")
            for c in entries:
                label = c.name if title != "Template sections" else f"{c.section}.{c.name}" if c.name != c.section else c.name
                head = paint(f"  {MARKS[c.change]} {label}  {c.change}", COLOURS[c.change]) + _flags(c.risks, paint)
                lines.append(head)
                lines.extend(_details(c, paint))
    lines.append(summary(diffs))
    return "\n".join(lines) + "\n"


def _flags(flags, paint) -> str:
    if not flags:
        return ""
    return "  " + " ".join(paint(f"[{f}]", "1;31" if f in LOUD else "36") for f in flags)


def _details(change, paint) -> list:
    out = []
    for v in change.values:
        path = v.path or "(value)"
        out.append(f"      {path}: {shorten(show(v.old))} -> {shorten(show(v.new))}")
    for note in change.notes:
        out.append(paint(f"      ! {shorten(note, NOTE_LIMIT)}", "2"))
    return out


# -- Markdown ----------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    text = _cell(text)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_flags(flags) -> str:
    return ", ".join(f"**{f}**" if f in LOUD else f for f in flags)


def as_markdown(diffs, base: str, target: str) -> str:
    lines = [f"### Template changes: {_code(base)} → {_code(target)}", ""]
    if not any(d.changed for d in diffs):
        lines += [summary(diffs), ""]
        return "\n".join(lines)
    lines += ["| Stack | Change | Resource | Type | Replacement | Risks |",
              "|---|---|---|---|---|---|"]
    for d in diffs:
        for c in d.resources:
            rep = {True: "**yes**", False: "no"}.get(c.replacement, "conditional")
            lines.append(f"| {d.stack} | {c.change} | {_code(c.logical_id)} | {_code(c.type)} | {rep} | {_md_flags(c.risks)} |")
        for c in d.parameters + d.outputs + d.other:
            kind = {"Parameters": "parameter", "Outputs": "output"}.get(c.section, c.section)
            lines.append(f"| {d.stack} | {c.change} | {kind} {_code(c.name)} |  |  | {_md_flags(c.risks)} |")
    lines += ["", summary(diffs), "", "<details><summary>Details</summary>", ""]
    for d in diffs:
        if not d.changed:
            continue
        lines.append(f"#### {d.stack}")
        lines.append("")
        for c in d.resources:
            rep = {True: " — **replacement**", "conditional": " — replacement conditional"}.get(c.replacement, "")
            lines.append(f"- {c.change} {_code(c.logical_id)} ({_code(c.type)}){rep}")
            lines.extend(_md_details(c))
        for c in d.parameters + d.outputs + d.other:
            kind = {"Parameters": "parameter", "Outputs": "output"}.get(c.section, c.section)
            lines.append(f"- {c.change} {kind} {_code(c.name)}")
            lines.extend(_md_details(c))
        lines.append("")
    lines += ["</details>", ""]
    return "\n".join(lines)


def _md_details(change) -> list:
    out = []
    for v in change.values:
        out.append(f"  - {_code(v.path or '(value)')}: {_code(shorten(show(v.old)))} → {_code(shorten(show(v.new)))}")
    for note in change.notes:
        out.append(f"  - {_cell(shorten(note, NOTE_LIMIT))}")
    return out


def render(fmt: str, diffs, base: str, target: str, colour: bool = False) -> str:
    if fmt == "json":
        return as_json(diffs, base, target)
    if fmt == "markdown":
        return as_markdown(diffs, base, target)
    return as_text(diffs, base, target, colour)
