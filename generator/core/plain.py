"""Troposphere and awacs objects as plain JSON types, in one walk.

``troposphere.encode_to_dict`` walks each object's dict again after its ``to_dict`` has walked it,
so a property nested n levels deep is visited n times (about 26,000 calls for one render of the
sample). ``plain`` visits each value once and gives what ``json.loads(json.dumps(encode_to_dict(x)))``
gives: the same validation (``_validate_props`` and ``validate`` of every object that has it on),
the same keys in the same order, tuples as lists. A value JSON would change (a str or int subclass,
a non-string key) raises ``Unusual``; callers then take troposphere's own JSON route, so
the result never depends on which path ran (tests/test_render.py compares both on every stack).
"""
from __future__ import annotations

import json

from troposphere import AWSHelperFn, BaseAWSObject, Template, encode_to_dict


class Unusual(Exception):
    """A value whose JSON round trip would change it: use troposphere's path."""


_base_to_dict = BaseAWSObject.to_dict
_helper_to_dict = AWSHelperFn.to_dict
_SCALARS = (str, int, bool, float, type(None))


def plain(obj):
    kind = type(obj)
    if kind in _SCALARS:
        return obj
    if kind is dict:
        out = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise Unusual(key)
            out[key] = plain(value)
        return out
    if kind is list or kind is tuple:
        return [plain(value) for value in obj]
    to_dict = getattr(kind, "to_dict", None)
    if to_dict is _base_to_dict:  # BaseAWSObject.to_dict, without walking its result again
        if obj.do_validation:
            obj._validate_props()
            obj.validate()
        if obj.properties:
            return plain(obj.resource)
        if hasattr(obj, "resource_type"):
            return {k: plain(v) for k, v in obj.resource.items() if k != "Properties"}
        return {}
    if to_dict is _helper_to_dict:  # Ref, Sub, GetAtt...: their data
        return plain(obj.data)
    if to_dict is not None:  # an override (Tags, Template...): what it returns
        return plain(obj.to_dict())
    if hasattr(obj, "JSONrepr"):  # awacs
        return plain(obj.JSONrepr())
    raise Unusual(obj)  # str/int subclasses, sets...: anything JSON would convert or refuse


def _sections(template: Template) -> dict:
    """What ``Template.to_dict`` (troposphere 4) collects, in its order, before encoding it."""
    t = {}
    for key, value in (("Description", template.description), ("Metadata", template.metadata),
                       ("Conditions", template.conditions), ("Mappings", template.mappings),
                       ("Outputs", template.outputs), ("Parameters", template.parameters),
                       ("AWSTemplateFormatVersion", template.version), ("Transform", template.transform),
                       ("Rules", template.rules), ("Globals", template.globals)):
        if value:
            t[key] = value
    t["Resources"] = template.resources
    return t


def template_dict(template: Template) -> dict:
    """The template as plain JSON types, as ``json.loads(template.to_json())`` gives it."""
    try:
        if type(template).to_dict is not Template.to_dict:
            raise Unusual(template)
        return plain(_sections(template))
    except Unusual:
        return json.loads(template.to_json(indent=None, sort_keys=False))


_SORTED = json.JSONEncoder(sort_keys=True)  # json.dumps(sort_keys=True) builds an encoder per call


def key(value) -> str:
    """A canonical JSON string of ``value``, as ``json.dumps(encode_to_dict(value), sort_keys=True)``
    (fingerprints for merging IAM statements)."""
    try:
        value = plain(value)
    except Unusual:
        value = encode_to_dict(value)
    return _SORTED.encode(value)
