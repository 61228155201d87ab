"""``Fn::ForEach`` expanded the way the ``AWS::LanguageExtensions`` transform expands it, so that a
template using it is diffed by the resources CloudFormation creates, not by its loops.

A loop ``Fn::ForEach::Name: [Identifier, Collection, {OutputKey: OutputValue}]`` sits in
``Resources``, ``Outputs``, ``Conditions`` or inside a resource's properties; it is replaced by one
``OutputKey: OutputValue`` per item, where ``${Identifier}`` and ``&{Identifier}`` (the item without
its non-alphanumeric characters) are replaced in keys and ``Fn::Sub`` strings, and
``Ref: Identifier`` gives the item. The collection is a list or a ``Ref`` to a
``CommaDelimitedList`` parameter (its members space-trimmed); loops nest.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html

A collection given by a parameter takes the value the diff knows (``--parameters``, the deployed
stack's, else the template's ``Default``); one that cannot be worked out here (a parameter without
a value, ``Fn::GetAZs``, an import) is refused with one line naming the loop. The transform also
allows ``Ref`` to a parameter in ``DeletionPolicy``/``UpdateReplacePolicy``: resolved when the
value is known.
"""
from __future__ import annotations

import re

from ..stackmodel import cfn_string

TRANSFORM = "AWS::LanguageExtensions"
LOOP = re.compile(r"^Fn::ForEach::[A-Za-z0-9]+$")
_VARIABLE = re.compile(r"\$\{(?!!)[^}]*\}")
#: Where loops may sit (the transform refuses them elsewhere).
SECTIONS = ("Conditions", "Resources", "Outputs")
POLICIES = ("DeletionPolicy", "UpdateReplacePolicy")


class ForEachError(ValueError):
    """A loop that cannot be expanded; ``str()`` is one line (without the file name)."""


def only_language_extensions(transform) -> bool:
    names = transform if isinstance(transform, list) else [transform]
    return names == [TRANSFORM]


def _parameter_values(template: dict, values) -> dict:
    """Parameter values as strings: the given ones, else the template's defaults."""
    known = {}
    params = template.get("Parameters")
    for name, spec in (params.items() if isinstance(params, dict) else ()):
        if values and name in values:
            known[name] = str(values[name])
        elif isinstance(spec, dict) and "Default" in spec:
            known[name] = cfn_string(spec["Default"])
    return known


def _substitute(text: str, scope: dict) -> str:
    for name, item in scope.items():
        text = text.replace("${" + name + "}", item)
        text = text.replace("&{" + name + "}", re.sub(r"[^0-9A-Za-z]", "", item))
    return text


def _show(value) -> str:
    import json

    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


class _Expander:
    def __init__(self, template: dict, values):
        self.params = _parameter_values(template, values)
        self.mappings = template.get("Mappings") if isinstance(template.get("Mappings"), dict) else {}

    def collection(self, value, scope: dict, where: str) -> list:
        if isinstance(value, list):
            return [self.item(v, scope, where) for v in value]
        if isinstance(value, dict) and set(value) == {"Ref"} and isinstance(value["Ref"], str):
            name = value["Ref"]
            if name in scope:
                return [scope[name]]
            if name in self.params:
                return [v.strip() for v in self.params[name].split(",")] if self.params[name] else []
            raise ForEachError(f"{where}: the collection is parameter {name}, whose value is not known here (no "
                               f"Default); give it with --parameters, or diff against the deployed stack (--env)")
        if isinstance(value, dict) and set(value) == {"Fn::FindInMap"}:
            found = self.find_in_map(value["Fn::FindInMap"], scope, where)
            if isinstance(found, list):
                return [self.item(v, scope, where) for v in found]
            if isinstance(found, str):
                return [v.strip() for v in found.split(",")]
        raise ForEachError(f"{where}: the collection {_show(value)} cannot be worked out before deployment; give a "
                           f"list, a CommaDelimitedList parameter or an Fn::FindInMap, or diff the processed template "
                           f"(aws cloudformation get-template --template-stage Processed)")

    def item(self, value, scope: dict, where: str) -> str:
        if isinstance(value, (str, int, float, bool)):
            return cfn_string(value)
        if isinstance(value, dict) and set(value) == {"Ref"} and isinstance(value["Ref"], str):
            name = value["Ref"]
            if name in scope:
                return scope[name]
            if name in self.params:
                return self.params[name]
        raise ForEachError(f"{where}: collection item {_show(value)} cannot be worked out before deployment")

    def find_in_map(self, args, scope: dict, where: str):
        if not (isinstance(args, list) and len(args) in (3, 4)):
            raise ForEachError(f"{where}: Fn::FindInMap takes [MapName, TopKey, SecondKey]")
        keys = [self.item(a, scope, where) if not isinstance(a, dict) or set(a) == {"Ref"} else None
                for a in args[:3]]
        found = self.mappings.get(keys[0], {}) if None not in keys else None
        found = found.get(keys[1], {}) if isinstance(found, dict) else None
        found = found.get(keys[2]) if isinstance(found, dict) else None
        if found is None and len(args) == 4 and isinstance(args[3], dict):
            found = args[3].get("DefaultValue")
        if found is None:
            raise ForEachError(f"{where}: Fn::FindInMap {_show(args)} finds nothing in Mappings")
        return found

    def walk(self, value, scope: dict, where: str):
        if isinstance(value, list):
            return [self.walk(v, scope, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref" and isinstance(arg, str) and arg in scope:
                return scope[arg]
            if fn == "Fn::Sub" and scope:
                if isinstance(arg, str):
                    text = _substitute(arg, scope)
                    # nothing left to substitute: the plain string it means (as cfn-lint's expansion does),
                    # so a loop and the same resources written out compare equal
                    return text if not _VARIABLE.search(text) and "${!" not in text else {fn: text}
                if isinstance(arg, list) and arg and isinstance(arg[0], str):
                    return {fn: [_substitute(arg[0], scope), *self.walk(arg[1:], scope, where)]}
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("Fn::ForEach"):
                for new_key, new_value in self.loop(key, item, scope, f"{where}.{key}" if where else key).items():
                    if new_key in out or new_key in value:
                        raise ForEachError(f"{where}.{key}: gives '{new_key}' twice; the output key must contain "
                                           f"the loop's identifier")
                    out[new_key] = new_value
                continue
            new_key = _substitute(key, scope) if isinstance(key, str) else key
            if new_key in out:
                raise ForEachError(f"{where}.{key}: gives '{new_key}' twice")
            out[new_key] = self.walk(item, scope, f"{where}.{key}" if where else str(key))
        return out

    def loop(self, key: str, spec, scope: dict, where: str) -> dict:
        if not LOOP.match(key):
            raise ForEachError(f"{where}: a loop is named Fn::ForEach::<letters and digits>")
        if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and isinstance(spec[2], dict)):
            raise ForEachError(f"{where}: Fn::ForEach takes [Identifier, Collection, {{OutputKey: OutputValue}}]")
        identifier, collection, fragment = spec
        if identifier in scope or identifier in self.params:
            raise ForEachError(f"{where}: identifier '{identifier}' is already a parameter or an outer loop's "
                               f"identifier; rename it")
        out = {}
        for item in self.collection(collection, scope, where):
            for new_key, new_value in self.walk(fragment, {**scope, identifier: item}, where).items():
                if new_key in out:
                    raise ForEachError(f"{where}: gives '{new_key}' twice; the output key must contain "
                                       f"${{{identifier}}} or &{{{identifier}}}")
                out[new_key] = new_value
        return out

    def policies(self, resources: dict) -> None:
        for resource in resources.values():
            for name in POLICIES:
                value = resource.get(name) if isinstance(resource, dict) else None
                if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self.params:
                    resource[name] = self.params[value["Ref"]]


def expand(template: dict, values=None) -> dict:
    """``template`` with every ``Fn::ForEach`` expanded (a new dict; ``values``: parameter values
    as strings, or None for the template's defaults). Raises :class:`ForEachError`."""
    expander = _Expander(template, values)
    out = dict(template)
    for section in SECTIONS:
        if isinstance(template.get(section), dict):
            out[section] = expander.walk(template[section], {}, section)
    if isinstance(out.get("Resources"), dict):
        expander.policies(out["Resources"])
    return out
