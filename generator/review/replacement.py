"""Does a property change replace the resource? Decided from the CloudFormation resource
schemas shipped inside cfn-lint: ``createOnlyProperties`` (changing one replaces) and
``conditionalCreateOnlyProperties`` (changing one may replace, depending on the change).

A few conditionally create-only properties replace on every real change of their value (the
resource documentation says "Update requires: Replacement"; the schema is conditional because an
equivalent spelling of the same value is no change): :data:`ALWAYS_REPLACES` treats those as
create-only. Any other conditional property is reported ``conditional`` with the reason that the
kind of change decides, not "depends on resolved values" (which is kept for references)."""
from __future__ import annotations

import functools
import re

from .values import is_intrinsic, same

SCHEMA_REGION = "us-east-1"

TRUE, FALSE, CONDITIONAL = True, False, "conditional"

_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
#: (type, pointer) of conditionally create-only properties whose every value change replaces,
#: with the documentation page that says "Update requires: Replacement".
ALWAYS_REPLACES = {
    ("AWS::DynamoDB::Table", ("KeySchema",)): _DOCS + "aws-resource-dynamodb-table.html#cfn-dynamodb-table-keyschema",
    ("AWS::DynamoDB::GlobalTable", ("KeySchema",)): _DOCS + "aws-resource-dynamodb-globaltable.html#cfn-dynamodb-globaltable-keyschema",
    ("AWS::DynamoDB::GlobalTable", ("LocalSecondaryIndexes",)):
        _DOCS + "aws-resource-dynamodb-globaltable.html#cfn-dynamodb-globaltable-localsecondaryindexes",
}


@functools.lru_cache(maxsize=None)
def create_only(rtype: str) -> tuple:
    """(createOnly pointers, conditionalCreateOnly pointers), each a tuple of segment tuples."""
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, rtype).schema
    except Exception:  # unknown or custom type (Custom::X, a module): no schema, nothing known
        return (), ()

    def pointers(key):
        out = []
        for pointer in schema.get(key, ()):
            parts = pointer.strip("/").split("/")
            if parts and parts[0] == "properties":
                out.append(tuple(parts[1:]))
        return tuple(out)

    return pointers("createOnlyProperties"), pointers("conditionalCreateOnlyProperties")


def path_segments(path: str) -> tuple:
    """``"A.B[2].C"`` -> ``("A", "B", "2", "C")``; ``[Sid=x]`` selectors stay one segment."""
    return tuple(s for s in re.split(r"\.|(?=\[)", path) if s)


def _value_at(value, segments):
    for segment in segments:
        if isinstance(value, dict) and not is_intrinsic(value):
            value = value.get(segment)
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return None
    return value


def _prefix(pointer: tuple, segments: tuple) -> bool:
    if len(pointer) > len(segments):
        return False
    for want, have in zip(pointer, segments):
        have = have.strip("[]")
        if want != "*" and want != have:
            return False
    return True


# -- how certain is a difference? ----------------------------------------------------

_SUB_VAR = re.compile(r"\$\{(!?)([^}]*)\}")


def _tokens(value):
    """The value as literal text and opaque references, or None when it is not a string-like value."""
    if isinstance(value, (str, int, float, bool)) and not isinstance(value, dict):
        return [("lit", str(value))]
    if not is_intrinsic(value):
        return None
    (name, inner), = value.items()
    if name == "Ref":
        return [("var", f"Ref {inner}")]
    if name == "Fn::GetAtt":
        return [("var", f"GetAtt {inner if isinstance(inner, str) else '.'.join(map(str, inner))}")]
    if name == "Fn::Sub":
        text, variables = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1] or {})
        if not isinstance(text, str):
            return None
        out, pos = [], 0
        for match in _SUB_VAR.finditer(text):
            out.append(("lit", text[pos:match.start()]))
            if match.group(1):
                out.append(("lit", "${" + match.group(2) + "}"))
            elif match.group(2) in variables:
                sub = _tokens(variables[match.group(2)])
                if sub is None:
                    return None
                out.extend(sub)
            else:
                out.append(("var", f"Ref {match.group(2)}"))
            pos = match.end()
        out.append(("lit", text[pos:]))
        return _merge(out)
    if name == "Fn::Join" and isinstance(inner, list) and len(inner) == 2 and isinstance(inner[1], list):
        out = []
        for i, part in enumerate(inner[1]):
            sub = _tokens(part)
            if sub is None:
                return None
            if i:
                out.append(("lit", str(inner[0])))
            out.extend(sub)
        return _merge(out)
    return None


def _merge(tokens):
    out = []
    for kind, text in tokens:
        if kind == "lit" and out and out[-1][0] == "lit":
            out[-1] = ("lit", out[-1][1] + text)
        elif not (kind == "lit" and text == ""):
            out.append((kind, text))
    return out


def certainty(old, new):
    """TRUE when ``old`` and ``new`` differ whatever the parameters and other stacks hold;
    CONDITIONAL when the difference may vanish once references are resolved."""
    if same(old, new):
        return FALSE
    if old is None or new is None:
        return TRUE
    told, tnew = _tokens(old), _tokens(new)
    if told is not None and tnew is not None:
        refs_old = [t for t in told if t[0] == "var"]
        refs_new = [t for t in tnew if t[0] == "var"]
        return TRUE if refs_old == refs_new else CONDITIONAL
    if isinstance(old, dict) and isinstance(new, dict) and not is_intrinsic(old) and not is_intrinsic(new):
        if set(old) != set(new):
            return TRUE
        found = [certainty(old[k], new[k]) for k in old]
        return TRUE if TRUE in found else CONDITIONAL
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return TRUE
        found = [certainty(a, b) for a, b in zip(old, new)]
        return TRUE if TRUE in found else CONDITIONAL
    return CONDITIONAL


def decide(rtype: str, old_props: dict, new_props: dict, changed_paths) -> tuple:
    """(replacement, reasons) for the property paths that changed."""
    strict, conditional = create_only(rtype)
    verdicts = []
    for pointers, kind in ((strict, "create-only"), (conditional, "conditionally create-only")):
        for pointer in pointers:
            hit = False
            for path in changed_paths:
                segments = path_segments(path)
                if _prefix(pointer, segments):
                    hit = True
                elif _prefix(segments, pointer):
                    before = _value_at(old_props, [p for p in pointer if p != "*"])
                    after = _value_at(new_props, [p for p in pointer if p != "*"])
                    hit = "*" in pointer or not same(before, after)
                if hit:
                    break
            if not hit:
                continue
            name = "/".join(pointer)
            sure = certainty(_value_at(old_props, pointer), _value_at(new_props, pointer)) \
                if "*" not in pointer else TRUE
            sure = TRUE if sure is FALSE else sure
            if kind == "create-only":
                how, why = sure, ""
            elif (rtype, pointer) in ALWAYS_REPLACES:
                how, why = sure, f"; every change of it replaces ({ALWAYS_REPLACES[(rtype, pointer)]})"
            else:
                how, why = CONDITIONAL, "; the kind of change decides" if sure is TRUE else ""
            verdicts.append((how, sure, name, kind, why))
    if any(v[0] is TRUE for v in verdicts):  # (how, sure, name, kind, why)
        result = TRUE
    elif verdicts:
        result = CONDITIONAL
    else:
        result = FALSE
    reasons = [f"{name} is {kind}{why}" + ("" if sure is TRUE else " (depends on resolved values)")
               for how, sure, name, kind, why in verdicts]
    return result, reasons
