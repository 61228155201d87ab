"""What makes one environment different from another: the parameter values (and stack tags)
of ``params/<env-a>/`` and ``params/<env-b>/`` that differ, stack by stack.

A value is the file's, or the template's default when the file leaves it out (marked so):
``generator.stackmodel.effective_parameters``, as deploy sends it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import paramfile, paths, registry, stackmodel, yamlio
from .sources import ReviewError


@dataclass
class Row:
    name: str
    a: str
    b: str


@dataclass
class StackParams:
    stack: str
    only_in: str = ""  # "" (both), or the one environment that deploys it
    rows: list = field(default_factory=list)


def _shown(value) -> str:
    return str(value) if str(value) != "" else '""'


def _values(env: str, stack: str, template: dict):
    data = paramfile.load(paths.param_file(env, stack))
    given = data.get("Parameters") or {}
    effective = stackmodel.effective_parameters(template, given)
    values = {k: _shown(v) + ("" if k in given else " (default)") for k, v in effective.items()}
    values.update({f"Tags.{k}": _shown(v) for k, v in (data.get("Tags") or {}).items()})
    return values


def _template(stack: str) -> dict:
    path = paths.template_file(stack)
    if not path.exists():
        raise ReviewError(f"{paramfile.display(path)}: missing; run `make templates` first")
    return yamlio.load_file(path)


def compare(env_a: str, env_b: str, stacks=()) -> list:
    paths.check_environment(env_a)
    paths.check_environment(env_b)
    in_a = [s.name for s in registry.for_environment(env_a)]
    in_b = [s.name for s in registry.for_environment(env_b)]
    order = [s.name for s in registry.stacks() if s.name in in_a or s.name in in_b]
    if stacks:
        order = [registry.get(s).name for s in stacks if registry.get(s).name in order]
    out = []
    for stack in order:
        if stack in in_a and stack in in_b:  # a stack whose file is still missing somewhere
            have_a, have_b = paths.param_file(env_a, stack).exists(), paths.param_file(env_b, stack).exists()
            if have_a != have_b:
                out.append(StackParams(stack, env_a if have_a else env_b))
                continue
        if stack not in in_b:
            out.append(StackParams(stack, env_a))
            continue
        if stack not in in_a:
            out.append(StackParams(stack, env_b))
            continue
        template = _template(stack)
        a, b = _values(env_a, stack, template), _values(env_b, stack, template)
        names = list(template.get("Parameters") or {}) + sorted(k for k in set(a) | set(b) if k.startswith("Tags."))
        rows = [Row(n, a.get(n, "(unset)"), b.get(n, "(unset)")) for n in names if a.get(n) != b.get(n)]
        out.append(StackParams(stack, "", rows))
    return out


def as_text(result, env_a, env_b) -> str:
    lines = [f"Parameter values that differ: {env_a} vs {env_b}"]
    for s in result:
        if s.only_in:
            lines.append(f"{s.stack}: parameter file only in params/{s.only_in}/")
            continue
        if not s.rows:
            lines.append(f"{s.stack}: same values")
            continue
        lines.append(s.stack)
        wide_name = max(len(r.name) for r in s.rows + [Row(" ", "", "")])
        wide_a = max(len(r.a) for r in s.rows + [Row("", env_a, "")])
        lines.append(f"  {'':<{wide_name}}  {env_a:<{wide_a}}  {env_b}")
        for r in s.rows:
            lines.append(f"  {r.name:<{wide_name}}  {r.a:<{wide_a}}  {r.b}")
    return "\n".join(lines) + "\n"


def as_markdown(result, env_a, env_b) -> str:
    lines = [f"### Parameter values: `{env_a}` vs `{env_b}`", "",
             f"| Stack | Parameter | {env_a} | {env_b} |", "|---|---|---|---|"]
    for s in result:
        if s.only_in:
            lines.append(f"| {s.stack} | *(parameter file only in params/{s.only_in}/)* |  |  |")
        for r in s.rows:
            cells = [c.replace("|", "\\|") for c in (r.name, r.a, r.b)]
            lines.append(f"| {s.stack} | `{cells[0]}` | `{cells[1]}` | `{cells[2]}` |")
    return "\n".join(lines) + "\n"


def as_json(result, env_a, env_b) -> str:
    data = {"a": env_a, "b": env_b, "stacks": [
        {"stack": s.stack, "only_in": s.only_in or None,
         "differences": [{"name": r.name, "a": r.a, "b": r.b} for r in s.rows]}
        for s in result]}
    return json.dumps(data, indent=2) + "\n"
