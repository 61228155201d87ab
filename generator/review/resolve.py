"""Substitute known parameter values into a template, so that a diff against a deployed
stack also sees what a parameter-value change does to resources (a new ``ProjectName`` renames
every bucket: a replacement the templates alone do not show).

Only ``Ref`` to a parameter and ``${Param}`` inside ``Fn::Sub`` are resolved; pseudo
parameters, resource references, imports and NoEcho parameters stay as they are (a secret is
never printed).
"""
from __future__ import annotations

import re

_SUB_VAR = re.compile(r"\$\{(!?)([^}]*)\}")
_LIST_TYPES = ("CommaDelimitedList",)


def _is_list_type(ptype: str) -> bool:
    return ptype in _LIST_TYPES or (ptype.startswith("List<") and ptype.endswith(">"))


def _sub_text(text: str, known: dict, local) -> object:
    def replace(match):
        if match.group(1) or match.group(2) in local or match.group(2) not in known:
            return match.group(0)
        return str(known[match.group(2)])

    out = _SUB_VAR.sub(replace, text)
    if any(not m.group(1) for m in _SUB_VAR.finditer(out)):
        return None, out  # still has references: stays a Sub
    return _SUB_VAR.sub(lambda m: "${" + m.group(2) + "}", out), None


def resolve(template: dict, values: dict) -> dict:
    """A copy of ``template`` with the parameter ``values`` substituted outside ``Parameters``."""
    declared = template.get("Parameters") or {}
    known = {k: v for k, v in (values or {}).items()
             if k in declared and str(v) != "****" and str(declared[k].get("NoEcho", "")).lower() != "true"}

    def walk(value):
        if isinstance(value, dict):
            if len(value) == 1:
                (name, inner), = value.items()
                if name == "Ref" and isinstance(inner, str) and inner in known:
                    text = str(known[inner])
                    if _is_list_type(str(declared[inner].get("Type", "String"))):
                        return [item.strip() for item in text.split(",")] if text else []
                    return text
                if name == "Fn::Sub" and isinstance(inner, str):
                    plain, sub = _sub_text(inner, known, ())
                    return plain if sub is None else {"Fn::Sub": sub}
                if name == "Fn::Sub" and isinstance(inner, list) and len(inner) == 2 and isinstance(inner[0], str) \
                        and isinstance(inner[1], dict):
                    mapping = {k: walk(v) for k, v in inner[1].items()}
                    plain, sub = _sub_text(inner[0], known, mapping)
                    return plain if sub is None else {"Fn::Sub": [sub, mapping]}
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return {k: (v if k == "Parameters" else walk(v)) for k, v in template.items()}
