"""CloudFormation YAML in and out, with short-form intrinsics and a fixed key order.

The dumper is ours (not cfn-flip's) so the bytes depend only on the template
dict: no line wrapping, no ``Fn::Join`` rewriting, canonical section order.
"""
from __future__ import annotations

import yaml

# Section and resource-attribute order CloudFormation users expect to read.
TEMPLATE_ORDER = (
    "AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters",
    "Mappings", "Conditions", "Rules", "Resources", "Outputs",
)
RESOURCE_ORDER = (
    "Type", "Condition", "DependsOn", "Metadata", "DeletionPolicy",
    "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy", "Properties",
)

_SHORT_FORMS = {
    "Fn::Base64", "Fn::Cidr", "Fn::FindInMap", "Fn::GetAZs", "Fn::ImportValue",
    "Fn::Join", "Fn::Select", "Fn::Split", "Fn::Sub", "Fn::Transform",
    "Fn::And", "Fn::Equals", "Fn::If", "Fn::Not", "Fn::Or", "Fn::Length",
    "Fn::ToJsonString",
}


class _Tagged:
    """A value to be written with a YAML tag (``!Ref x``)."""

    __slots__ = ("tag", "value", "long")

    def __init__(self, tag, value, long):
        self.tag, self.value, self.long = tag, value, long


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # never emit &anchors: reviewers read plain YAML
        return True

    def choose_scalar_style(self):
        # PyYAML quotes every explicitly tagged scalar; "!Ref Name" reads better than "!Ref 'Name'"
        # and means the same, so tagged scalars stay plain whenever plain is unambiguous.
        event = self.event
        if (event.tag or "").startswith("!") and not event.style:
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            if self.analysis.allow_block_plain and self.analysis.allow_flow_plain and not self.analysis.empty:
                return ""
        return super().choose_scalar_style()


def _represent_tagged(dumper, data):
    value = data.value
    if isinstance(value, _Tagged):
        # YAML gives a node one tag: "!ImportValue !Sub x" is invalid, so the inner function
        # is written in its long form ("!ImportValue {Fn::Sub: x}"), as CloudFormation requires.
        value = {value.long: value.value}
    if isinstance(value, str):
        return dumper.represent_scalar(data.tag, value)
    if isinstance(value, list):
        return dumper.represent_sequence(data.tag, value)
    return dumper.represent_mapping(data.tag, value.items() if isinstance(value, dict) else value)


def _represent_str(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_dict(dumper, data):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items())


_Dumper.add_representer(_Tagged, _represent_tagged)
_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)


def _ordered(mapping, order):
    known = [k for k in order if k in mapping]
    rest = [k for k in mapping if k not in order]
    return {k: mapping[k] for k in known + rest}


def _short(value):
    """Turn long-form intrinsics into tagged short forms, recursively."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "Ref":
                return _Tagged("!Ref", inner, key)
            if key == "Fn::GetAtt" and isinstance(inner, list) and all(isinstance(p, str) for p in inner):
                return _Tagged("!GetAtt", ".".join(inner), key)
            if key in _SHORT_FORMS or key == "Fn::GetAtt":
                return _Tagged("!" + key[4:], _short(inner), key)
            if key == "Condition" and isinstance(inner, str):
                return _Tagged("!Condition", inner, key)
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


def canonical(template: dict) -> dict:
    """The template with sections and resource attributes in canonical order."""
    out = _ordered(template, TEMPLATE_ORDER)
    if "Resources" in out:
        out["Resources"] = {k: _ordered(v, RESOURCE_ORDER) for k, v in out["Resources"].items()}
    return out


def dump(template: dict, header: str = "") -> str:
    body = yaml.dump(
        _short(canonical(template)), Dumper=_Dumper, default_flow_style=False,
        sort_keys=False, width=10_000, allow_unicode=True,
    )
    return header + body


class _Loader(yaml.SafeLoader):
    pass


def _construct_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {"Fn::" + suffix: value}


_Loader.add_multi_constructor("!", _construct_tag)
# CloudFormation keeps "on"/"yes" as strings and 0777 as a number; YAML 1.1 timestamps stay strings.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, regexp) for tag, regexp in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str) -> dict:
    """Parse CloudFormation YAML (or JSON) into long-form intrinsics."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def load_file(path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return load(handle.read())
