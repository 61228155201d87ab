"""Exports of a stack, and which of them an update would break for the stacks that import them.

CloudFormation refuses an update that removes an export, renames it, or changes its value while
another stack imports it (``Export X cannot be deleted as it is in use by Y`` / ``Cannot update
export X as it is in use by Y``), and only after the update has started, so the stack rolls back.
:func:`changed_exports` finds, before any change set, the exports of the deployed stack that the
local template removes, renames or gives another value; :func:`importers` asks ListImports who
uses them. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListImports.html

Export names and values are resolved here with the parameter values and the pseudo parameters
derived from the stack id (``Ref``, ``Fn::Sub``, ``Fn::Join``); a value that refers to a resource
(``Ref``/``Fn::GetAtt``) is compared as written, and :func:`value_resources` names those resources
so that a replacement shown by the change set can be checked too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_SUB_VAR = re.compile(r"\$\{(!?)([^}]*)\}")


@dataclass(frozen=True)
class ExportChange:
    name: str          # the export name as deployed
    output: str        # the output key in the deployed stack
    what: str          # "removed", "renamed to 'x'", "value changes"


def pseudo_parameters(stack: dict) -> dict:
    """``AWS::StackName`` / ``AWS::Region`` / ``AWS::AccountId`` / ``AWS::Partition`` / ``AWS::StackId``
    from a DescribeStacks entry (its StackId is the stack's ARN)."""
    values = {"AWS::StackName": stack.get("StackName", "")}
    arn = str(stack.get("StackId", ""))
    parts = arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn":
        values.update({"AWS::Partition": parts[1], "AWS::Region": parts[3], "AWS::AccountId": parts[4],
                       "AWS::StackId": arn, "AWS::URLSuffix": "amazonaws.com"})
    return values


def resolve(value, known: dict):
    """``value`` with ``Ref``/``Fn::Sub``/``Fn::Join`` of ``known`` names worked out; what cannot be
    worked out (a resource, an import) stays as written (a dict)."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref" and isinstance(arg, str) and arg in known:
            return known[arg]
        if fn == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1]) \
                if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict) else (None, None)
            if isinstance(text, str):
                scope = dict(known)
                scope.update({k: resolve(v, known) for k, v in local.items()})
                unresolved = [m.group(2) for m in _SUB_VAR.finditer(text)
                              if not m.group(1) and not isinstance(scope.get(m.group(2)), str)]
                if not unresolved:
                    return _SUB_VAR.sub(lambda m: "${" + m.group(2) + "}" if m.group(1) else scope[m.group(2)], text)
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            items = [resolve(v, known) for v in arg[1]]
            if isinstance(arg[0], str) and all(isinstance(i, str) for i in items):
                return arg[0].join(items)
        return {fn: resolve(arg, known)}
    if isinstance(value, dict):
        return {k: resolve(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, known) for v in value]
    return value


def _output_present(template: dict, output: dict, values: dict) -> bool:
    name = output.get("Condition") if isinstance(output, dict) else None
    if not isinstance(name, str):
        return True
    from ..review.resolve import conditions

    return conditions(template, values).get(name) is not False  # unknown: assume present


def template_exports(template: dict, values: dict, pseudo: dict) -> dict:
    """``{output key: (export name or its expression, resolved value or expression)}`` of the
    outputs with an ``Export`` that the template creates with these parameter ``values``."""
    known = dict(pseudo)
    known.update({k: str(v) for k, v in (values or {}).items()})
    found = {}
    for key, output in ((template or {}).get("Outputs") or {}).items():
        if not isinstance(output, dict) or not isinstance(output.get("Export"), dict):
            continue
        if not _output_present(template, output, values):
            continue
        found[key] = (resolve(output["Export"].get("Name"), known), resolve(output.get("Value"), known))
    return found


def value_resources(value) -> set:
    """Logical ids an output value refers to (``Ref`` / ``Fn::GetAtt`` / ``${Id}`` in ``Fn::Sub``)."""
    found = set()
    if isinstance(value, dict):
        for fn, arg in value.items():
            if fn == "Ref" and isinstance(arg, str) and "::" not in arg:
                found.add(arg)
            elif fn == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) and arg else str(arg).split(".")[0]
                if isinstance(target, str):
                    found.add(target)
            elif fn == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0] if isinstance(arg, list) and arg else ""
                if isinstance(text, str):
                    found.update(m.group(2).split(".")[0] for m in _SUB_VAR.finditer(text)
                                 if not m.group(1) and "::" not in m.group(2))
                if isinstance(arg, list) and len(arg) == 2:
                    found.update(value_resources(arg[1]))
            else:
                found.update(value_resources(arg))
    elif isinstance(value, list):
        for item in value:
            found.update(value_resources(item))
    return found


def changed_exports(stack: dict, deployed_template: dict, deployed_values: dict, template: dict,
                    values: dict) -> list:
    """The deployed stack's exports (DescribeStacks ``Outputs`` with an ``ExportName``) that
    ``template`` with ``values`` removes, renames, or gives a different value (as written, after
    parameters), as :class:`ExportChange`."""
    pseudo = pseudo_parameters(stack)
    old = template_exports(deployed_template, deployed_values, pseudo)
    new = template_exports(template, values, pseudo)
    changes = []
    for output in stack.get("Outputs") or []:
        name, key = output.get("ExportName"), output.get("OutputKey")
        if not name:
            continue
        if key not in new:
            changes.append(ExportChange(name, key, "removed"))
            continue
        new_name, new_value = new[key]
        if isinstance(new_name, str) and new_name != name:
            changes.append(ExportChange(name, key, f"renamed to '{new_name}'"))
        elif key in old and old[key][1] != new_value:
            changes.append(ExportChange(name, key, "value changes"))
    return changes


def replaced_exports(stack: dict, template: dict, replaced: dict) -> list:
    """The deployed stack's exports whose value (in ``template``) refers to a resource the update
    replaces or removes: a new physical resource means a new value. ``replaced``: logical id ->
    what happens to it ("replaced", "may be replaced", "removed"), from the change set (deploy)
    or the diff's replacement decision (review)."""
    outputs = (template or {}).get("Outputs") or {}
    changes = []
    for output in stack.get("Outputs") or []:
        spec = outputs.get(output.get("OutputKey"))
        if not output.get("ExportName") or not isinstance(spec, dict):
            continue
        hit = sorted(value_resources(spec.get("Value")) & set(replaced))
        if hit:
            how = "; ".join(f"{', '.join(i for i in hit if replaced[i] == verb)} {verb}"
                            for verb in dict.fromkeys(replaced[i] for i in hit))
            may = all(replaced[i] == "may be replaced" for i in hit)
            changes.append(ExportChange(output["ExportName"], output["OutputKey"],
                                        f"value {'may change' if may else 'changes'} ({how})"))
    return changes


def imported_by(cfn, changes) -> list:
    """``[(ExportChange, [importing stack names])]``, one entry per export (its first change), the
    names from ListImports (``[]``: no stack imports it, the change is safe)."""
    found, seen = [], set()
    for change in changes:
        if change.name not in seen:
            seen.add(change.name)
            found.append((change, importers(cfn, change.name)))
    return found


def importers(cfn, export_name: str) -> list:
    """Stack names that import ``export_name`` (ListImports, every page); ``[]`` when none does
    (AWS answers ``ValidationError: Export '...' is not imported by any stack``)."""
    from botocore.exceptions import ClientError

    names, kwargs = [], {"ExportName": export_name}
    while True:
        try:
            page = cfn.list_imports(**kwargs)
        except ClientError as err:
            info = err.response.get("Error", {})
            if info.get("Code") == "ValidationError" and "not imported" in (info.get("Message") or ""):
                return names
            raise
        names.extend(page.get("Imports") or [])
        if not page.get("NextToken"):
            return sorted(set(names))
        kwargs["NextToken"] = page["NextToken"]
