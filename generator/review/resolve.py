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
    """A copy of ``template`` with the parameter ``values`` substituted outside ``Parameters``
    and ``Conditions``."""
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

    # Conditions stay as written (a new parameter value is not a change of the condition): they are
    # evaluated with the values instead, see absent_resources
    return {k: (v if k in ("Parameters", "Conditions") else walk(v)) for k, v in template.items()}


# -- conditions -----------------------------------------------------------------------

UNKNOWN = None


def _operand(value, known: dict):
    """A condition operand as text (or a list of texts), or UNKNOWN."""
    if isinstance(value, (str, int, float, bool)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, dict) and len(value) == 1:
        (name, inner), = value.items()
        if name == "Ref" and isinstance(inner, str) and inner in known:
            return str(known[inner])
    if isinstance(value, list):
        items = [_operand(v, known) for v in value]
        return UNKNOWN if any(i is UNKNOWN for i in items) else items
    return UNKNOWN


def _truth(expression, conditions: dict, known: dict, seen=()):
    """True / False, or UNKNOWN when it needs a value that is not known (a pseudo parameter,
    a NoEcho parameter, an import)."""
    if isinstance(expression, bool):
        return expression
    if not (isinstance(expression, dict) and len(expression) == 1):
        return UNKNOWN
    (name, arg), = expression.items()
    if name == "Condition" and isinstance(arg, str):
        if arg in seen or arg not in conditions:
            return UNKNOWN
        return _truth(conditions[arg], conditions, known, seen + (arg,))
    if name == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
        left, right = (_operand(a, known) for a in arg)
        return UNKNOWN if left is UNKNOWN or right is UNKNOWN else left == right
    if name == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
        inner = _truth(arg[0], conditions, known, seen)
        return UNKNOWN if inner is UNKNOWN else not inner
    if name in ("Fn::And", "Fn::Or") and isinstance(arg, list):
        found = [_truth(a, conditions, known, seen) for a in arg]
        decisive = name == "Fn::Or"  # Or: one True decides; And: one False decides
        if decisive in found:
            return decisive
        return UNKNOWN if UNKNOWN in found else not decisive
    return UNKNOWN


def known_values(template: dict, values: dict) -> dict:
    declared = template.get("Parameters") or {}
    return {k: v for k, v in (values or {}).items()
            if k in declared and str(v) != "****" and str(declared[k].get("NoEcho", "")).lower() != "true"}


def conditions(template: dict, values: dict) -> dict:
    """Each condition of ``template`` evaluated with the parameter ``values``: True, False or
    UNKNOWN (``None``)."""
    declared = template.get("Conditions") or {}
    if not isinstance(declared, dict):
        return {}
    known = known_values(template, values)
    return {name: _truth(expr, declared, known, (name,)) for name, expr in declared.items()}


def absent_resources(template: dict, values: dict) -> dict:
    """{logical id: condition name} of the resources CloudFormation does not create with these
    parameter ``values``: their ``Condition`` is false."""
    truth = conditions(template, values)
    out = {}
    for lid, resource in (template.get("Resources") or {}).items():
        name = resource.get("Condition") if isinstance(resource, dict) else None
        if isinstance(name, str) and truth.get(name) is False:
            out[lid] = name
    return out


_NO_VALUE = object()


def pick_branches(value, truth: dict):
    """``value`` with every ``Fn::If`` whose condition is decided replaced by its branch, and
    ``Ref AWS::NoValue`` left by that dropping its key or list item. Undecided ones stay."""
    def walk(item):
        if isinstance(item, dict):
            if len(item) == 1:
                (name, inner), = item.items()
                if name == "Ref" and inner == "AWS::NoValue":
                    return _NO_VALUE
                if name == "Fn::If" and isinstance(inner, list) and len(inner) == 3 and isinstance(inner[0], str) \
                        and truth.get(inner[0]) is not UNKNOWN:
                    return walk(inner[1] if truth[inner[0]] else inner[2])
            out = {}
            for k, v in item.items():
                v = walk(v)
                if v is not _NO_VALUE:
                    out[k] = v
            return out
        if isinstance(item, list):
            return [v for v in (walk(i) for i in item) if v is not _NO_VALUE]
        return item

    result = walk(value)
    return None if result is _NO_VALUE else result
