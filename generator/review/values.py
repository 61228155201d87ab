"""Template values compared by meaning, and shown the way a reviewer reads them.

``normal(value)`` gives a canonical form in which formatting, key order, ``30`` vs ``"30"``
and the order of lists whose order CloudFormation ignores (policy ``Action``/``Resource``/
``Principal`` values, statements, tags, security-group rules) no longer matter. Every other
list stays ordered: CloudFormation treats ``[a, b]`` and ``[b, a]`` as different values there.
"""
from __future__ import annotations

import json

from ..stackmodel import cfn_string

#: Keys of a policy statement whose list values are sets (``Action: x`` == ``Action: [x]``).
STATEMENT_SET_KEYS = ("Action", "NotAction", "Resource", "NotResource")
#: Property keys whose list value is a set of rules.
RULE_SET_KEYS = ("SecurityGroupIngress", "SecurityGroupEgress")

SHORTEN_AT = 100


def is_intrinsic(value) -> bool:
    """``{"Ref": x}``, ``{"Fn::Sub": ...}``, ``{"Condition": x}``: a function, not a mapping."""
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key == "Ref" or key.startswith("Fn::") or key == "Condition"
    return False


def is_statement(value) -> bool:
    return isinstance(value, dict) and "Effect" in value and not is_intrinsic(value)


def scalar(value) -> str:
    """CloudFormation passes every scalar to the service as a string: ``30`` == ``"30"``
    (the stack model's :func:`generator.stackmodel.cfn_string`, also used for parameter values)."""
    return cfn_string(value)


def key(value) -> str:
    """A sortable, hashable text for a normalised value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _set(values):
    items = values if isinstance(values, list) else [values]
    unique = {key(v): v for v in (normal(i) for i in items)}
    return [unique[k] for k in sorted(unique)]


def normal(value, parent: str = ""):
    """The canonical form of ``value`` (``parent``: the key it sits under)."""
    if parent == "Statement" and isinstance(value, dict) and not is_intrinsic(value):
        return _set([value])
    if isinstance(value, dict):
        if is_intrinsic(value):
            (name, inner), = value.items()
            if name == "Fn::GetAtt" and isinstance(inner, str):
                inner = inner.split(".", 1)
            if name == "Fn::Sub" and isinstance(inner, list) and len(inner) == 2 and not inner[1]:
                inner = inner[0]  # !Sub [text, {}] is !Sub text
            return {name: normal(inner)}
        if is_statement(value):
            out = {}
            for k, v in value.items():
                if k in STATEMENT_SET_KEYS:
                    items = v if isinstance(v, list) else [v]
                    out[k] = _set([normal_scalar_lower(x) for x in items] if k.endswith("Action") else items)
                elif k in ("Principal", "NotPrincipal") and isinstance(v, dict):
                    out[k] = {pk: _set(pv) for pk, pv in v.items()}
                elif k == "Condition" and isinstance(v, dict):
                    out[k] = {op: {ck: _set(cv) for ck, cv in (kv or {}).items()} for op, kv in v.items()}
                else:
                    out[k] = normal(v, k)
            return out
        return {k: normal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if parent in ("Statement", "DependsOn") or parent in RULE_SET_KEYS:
            return _set(value)
        if parent == "Tags" and all(isinstance(t, dict) and "Key" in t for t in value):
            return _set(value)
        return [normal(v) for v in value]
    if parent == "DependsOn" and isinstance(value, str):
        return [value]
    return scalar(value)


def normal_scalar_lower(value):
    """IAM action names are case-insensitive."""
    return value.lower() if isinstance(value, str) else value


def same(old, new, parent: str = "") -> bool:
    return normal(old, parent) == normal(new, parent)


def show(value) -> str:
    """A value as a reviewer reads it: short-form intrinsics, flow YAML-ish, one line."""
    if isinstance(value, dict):
        if is_intrinsic(value):
            (name, inner), = value.items()
            tag = "!" + (name[4:] if name.startswith("Fn::") else name)
            if name == "Fn::GetAtt" and isinstance(inner, list) and all(isinstance(p, str) for p in inner):
                return f"!GetAtt {'.'.join(inner)}"
            if isinstance(inner, str):
                return f"{tag} {_text(inner)}"
            return f"{tag} {show(inner)}"
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return scalar(value)
    return _text(value)


def _text(text: str) -> str:
    plain = text and not any(c in text for c in ":{}[],#'\"\n") and text.strip() == text and text != "*"
    if plain:
        return text
    return "'" + text.replace("'", "''").replace("\n", "\\n") + "'"


def shorten(text: str, limit: int = SHORTEN_AT) -> str:
    """Long values keep their start and end: ``arn:...:role/x``."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head - 1
    return text[:head] + "…" + text[-tail:]
