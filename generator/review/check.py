"""Shape checks on a template before it is diffed: one line naming the file and the key, exit 2.

The diff engine walks the template's sections and resources as mappings; a template that is not
shaped like one (``Resources: [1]``, a resource that is a number, ``Type: 5``, ``Outputs: 3``)
would otherwise end in a traceback deep inside it. CloudFormation refuses such templates too
("Template format error"), so refusing them here loses nothing.

A template with ``Transform: AWS::LanguageExtensions`` has its ``Fn::ForEach`` loops expanded
first (:mod:`.foreach`), then is checked and diffed like any other. Other transforms
(``AWS::Serverless``, ``AWS::Include``, a macro, or one of them next to the language extensions) are
refused: comparing them as written would show macros, not the resources CloudFormation will create.
The processed template of a deployed stack (``aws cloudformation get-template --template-stage
Processed``) is plain and can be diffed.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/transform-aws-languageextensions.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-anatomy.html
"""
from __future__ import annotations

from . import foreach

SECTIONS = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings",
            "Conditions", "Transform", "Resources", "Outputs", "Hooks")
MAPPING_SECTIONS = ("Metadata", "Parameters", "Rules", "Mappings", "Conditions", "Resources", "Outputs", "Hooks")
STRING_ATTRIBUTES = ("Type", "Condition", "DeletionPolicy", "UpdateReplacePolicy")
MAPPING_ATTRIBUTES = ("Properties", "Metadata", "UpdatePolicy", "CreationPolicy")
RESOURCE_KEYS = STRING_ATTRIBUTES + MAPPING_ATTRIBUTES + ("DependsOn", "Version")


class TemplateError(ValueError):
    """The template cannot be diffed; ``str()`` is one line (without the file name)."""


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "empty"
    return type(value).__name__


def _mapping(value, where: str, what: str):
    if not isinstance(value, dict):
        raise TemplateError(f"{where} must be a mapping of {what}, not {_kind(value)}")


def _find_foreach(value, path: str):
    """The path of the first ``Fn::ForEach::<name>`` key, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("Fn::ForEach"):
                return f"{path}.{key}" if path else key
            found = _find_foreach(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _find_foreach(item, f"{path}[{i}]")
            if found:
                return found
    return None


def _is_str(v):
    return isinstance(v, str)


def _is_str_or_fn(v):
    return isinstance(v, str) or (isinstance(v, dict) and len(v) == 1)


def _list_of(n):
    return lambda v: isinstance(v, list) and len(v) == n


# Argument shapes CloudFormation accepts for each intrinsic function (intrinsic-function-reference).
INTRINSICS = {
    "Ref": (_is_str, "a logical id or parameter name"),
    "Fn::GetAtt": (lambda v: (isinstance(v, str) and "." in v) or
                   (isinstance(v, list) and len(v) == 2 and _is_str(v[0]) and _is_str_or_fn(v[1])),
                   "LogicalId.Attribute or [LogicalId, Attribute]"),
    "Fn::Sub": (lambda v: isinstance(v, str) or
                (isinstance(v, list) and len(v) == 2 and _is_str(v[0]) and isinstance(v[1], dict)),
                "a string or [string, {Name: value}]"),
    "Fn::Join": (lambda v: isinstance(v, list) and len(v) == 2 and _is_str(v[0])
                 and (isinstance(v[1], list) or (isinstance(v[1], dict) and len(v[1]) == 1)),
                 "[delimiter, [values]]"),
    "Fn::Select": (_list_of(2), "[index, list]"),
    "Fn::Split": (lambda v: isinstance(v, list) and len(v) == 2 and _is_str(v[0]), "[delimiter, string]"),
    "Fn::FindInMap": (lambda v: isinstance(v, list) and len(v) in (3, 4), "[MapName, TopKey, SecondKey]"),
    "Fn::If": (lambda v: isinstance(v, list) and len(v) == 3 and _is_str(v[0]), "[ConditionName, then, else]"),
    "Fn::Equals": (_list_of(2), "[value, value]"),
    "Fn::Not": (_list_of(1), "[condition]"),
    "Fn::And": (lambda v: isinstance(v, list) and 2 <= len(v) <= 10, "a list of 2 to 10 conditions"),
    "Fn::Or": (lambda v: isinstance(v, list) and 2 <= len(v) <= 10, "a list of 2 to 10 conditions"),
    "Fn::ImportValue": (_is_str_or_fn, "an export name"),
    "Fn::GetAZs": (_is_str_or_fn, "a region name or ''"),
    "Fn::Cidr": (_list_of(3), "[ipBlock, count, cidrBits]"),
}


def _check_intrinsics(value, where: str):
    if isinstance(value, dict):
        if len(value) == 1:
            [(key, arg)] = value.items()
            shape = INTRINSICS.get(key)
            if shape and not shape[0](arg):
                raise TemplateError(f"{where}: {key} takes {shape[1]}, not {_kind(arg)}")
        for key, item in value.items():
            _check_intrinsics(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_intrinsics(item, f"{where}[{i}]")


def check(template, values=None) -> dict:
    """The template the diff reads (``Fn::ForEach`` expanded, with parameter ``values`` or the
    template's defaults); raise :class:`TemplateError` when it cannot be diffed."""
    if not isinstance(template, dict):
        raise TemplateError(f"not a CloudFormation template: the top level is {_kind(template)}, "
                            f"expected a mapping with Resources")
    for key in template:
        if key not in SECTIONS:
            raise TemplateError(f"unknown top-level section '{key}'; CloudFormation allows: {', '.join(SECTIONS)}")
    transform = template.get("Transform")
    if transform is not None and foreach.only_language_extensions(transform):
        for section in foreach.SECTIONS + ("Parameters", "Mappings"):
            if section in template:
                _mapping(template[section], section, "names to declarations" if section != "Mappings" else "keys")
        try:
            template = foreach.expand(template, values)
        except foreach.ForEachError as err:
            raise TemplateError(str(err))
    elif transform is not None:
        names = transform if isinstance(transform, list) else [transform]
        shown = ", ".join(n if isinstance(n, str) else (n.get("Name", "?") if isinstance(n, dict) else str(n))
                          for n in names)
        loop_at = _find_foreach(template, "")
        detail = f" with Fn::ForEach at {loop_at}" if loop_at else ""
        raise TemplateError(
            f"Transform {shown}{detail}: CloudFormation expands this template before deploying it, and diff "
            f"expands only AWS::LanguageExtensions on its own; diff the expanded template instead (for a deployed "
            f"stack: aws cloudformation get-template --template-stage Processed)")
    loop_at = _find_foreach(template, "")
    if loop_at and transform is not None:
        raise TemplateError(f"{loop_at}: Fn::ForEach is allowed only in Conditions, Resources (and their "
                            f"properties) and Outputs; move the loop there")
    if loop_at:
        raise TemplateError(f"{loop_at}: Fn::ForEach needs 'Transform: AWS::LanguageExtensions' (CloudFormation "
                            f"rejects the template without it); add the transform")
    if "Resources" not in template:
        raise TemplateError("no Resources section; a CloudFormation template declares at least one resource")
    for section in MAPPING_SECTIONS:
        if section in template:
            _mapping(template[section], section, "names to declarations" if section != "Metadata" else "keys")
    for name, resource in template["Resources"].items():
        where = f"Resources.{name}"
        _mapping(resource, where, "attributes (Type, Properties, ...)")
        if "Type" not in resource:
            raise TemplateError(f"{where}: no Type; give the resource type, e.g. Type: AWS::S3::Bucket")
        for attribute in STRING_ATTRIBUTES:
            if transform is not None and attribute in foreach.POLICIES and _is_str_or_fn(resource.get(attribute)):
                continue  # the language extensions allow Ref/Fn::If here (resolved when the value is known)
            if attribute in resource and not isinstance(resource[attribute], str):
                raise TemplateError(f"{where}.{attribute} must be a string, not {_kind(resource[attribute])}")
        for attribute in MAPPING_ATTRIBUTES:
            if attribute in resource and not isinstance(resource[attribute], dict):
                raise TemplateError(f"{where}.{attribute} must be a mapping, not {_kind(resource[attribute])}")
        depends = resource.get("DependsOn")
        if depends is not None and not (isinstance(depends, str) or
                                        (isinstance(depends, list) and all(isinstance(d, str) for d in depends))):
            raise TemplateError(f"{where}.DependsOn must be a logical id or a list of them, not {_kind(depends)}")
    for section, what in (("Parameters", "Type, Default, ..."), ("Outputs", "Value, Export, ..."),
                          ("Mappings", "keys"), ("Rules", "RuleCondition, Assertions")):
        for name, value in (template.get(section) or {}).items():
            _mapping(value, f"{section}.{name}", what)
    for name, spec in (template.get("Parameters") or {}).items():
        if not isinstance(spec.get("Type"), str):
            raise TemplateError(f"Parameters.{name}.Type must be a string such as String or Number, "
                                f"not {_kind(spec.get('Type'))}")
    for name, output in (template.get("Outputs") or {}).items():
        if "Value" not in output:
            raise TemplateError(f"Outputs.{name}: no Value")
        export = output.get("Export")
        if export is not None and not (isinstance(export, dict) and "Name" in export):
            raise TemplateError(f"Outputs.{name}.Export must be a mapping with Name, not {_kind(export)}")
    for section in ("Resources", "Outputs", "Conditions", "Rules"):
        for name, value in (template.get(section) or {}).items():
            _check_intrinsics(value, f"{section}.{name}")
    return template
