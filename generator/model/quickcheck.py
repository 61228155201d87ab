"""A yes/no check of the model against its JSON Schema, without importing ``jsonschema``.

Importing ``jsonschema`` (referencing, attrs, rpds, the format checkers) costs about as much as
importing troposphere, and every command loads the model. Most models are valid, so
:func:`surely_valid` answers first; only when it does not answer yes does the loader run
``jsonschema``, which finds every error and words them (the messages come from it alone).

One-sided on purpose: a yes must mean ``jsonschema`` (draft 2020-12) finds no error; a no may be
wrong, it only costs the full check. So the function knows just the keywords ``schema.py`` uses and
says no to any other keyword, to a type it does not know, and to anything it is unsure about
(tests/test_model.py compares it with ``jsonschema`` on the sample, the examples and every broken
model of the suite).
"""
from __future__ import annotations

import re

#: Keywords that only annotate (no effect on validity).
_ANNOTATIONS = {"$schema", "description"}
_compiled: dict = {}


def _search(pattern: str, text: str) -> bool:
    regex = _compiled.get(pattern)
    if regex is None:
        regex = _compiled[pattern] = re.compile(pattern)
    return regex.search(text) is not None  # jsonschema's "pattern" is re.search


def _is_type(instance, name: str) -> bool:
    kind = type(instance)
    if name == "string":
        return isinstance(instance, str)
    if name == "boolean":
        return kind is bool
    if name == "integer":
        return kind is int
    if name == "number":
        return kind is int or kind is float
    if name == "object":
        return kind is dict
    if name == "array":
        return kind is list
    return False  # "null" and unknown names: not needed by the model schema, let jsonschema decide


def surely_valid(instance, schema) -> bool:
    """True only if ``instance`` is valid against ``schema``; False means "run jsonschema"."""
    if schema is True:
        return True
    if type(schema) is not dict:
        return False  # False, or something that is not a schema
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(keyword)
        if check is None or not check(instance, value, schema):
            return False
    return True


def _type(instance, value, schema):
    names = [value] if isinstance(value, str) else value
    return any(_is_type(instance, name) for name in names)


def _properties(instance, value, schema):
    if type(instance) is not dict:
        return True
    return all(surely_valid(instance[key], sub) for key, sub in value.items() if key in instance)


def _additional(instance, value, schema):
    if type(instance) is not dict:
        return True
    if "patternProperties" in schema:
        return False  # not used by the model schema: unsure
    known = schema.get("properties", {})
    return all(surely_valid(item, value) for key, item in instance.items() if key not in known)


def _required(instance, value, schema):
    return type(instance) is not dict or all(key in instance for key in value)


def _property_names(instance, value, schema):
    return type(instance) is not dict or all(surely_valid(key, value) for key in instance)


def _pattern(instance, value, schema):
    return not isinstance(instance, str) or _search(value, instance)


def _max_length(instance, value, schema):
    return not isinstance(instance, str) or len(instance) <= value


def _enum(instance, value, schema):
    # Strings only: jsonschema's equality tells 1 from True and 1.0 from 1, plain == does not.
    return isinstance(instance, str) and all(isinstance(v, str) for v in value) and instance in value


def _items(instance, value, schema):
    if "prefixItems" in schema:
        return False
    return type(instance) is not list or all(surely_valid(item, value) for item in instance)


def _unique(instance, value, schema):
    if type(instance) is not list or not value:
        return True
    # Strings only (other items: equality subtleties, let jsonschema decide).
    return all(isinstance(item, str) for item in instance) and len(set(instance)) == len(instance)


def _min_items(instance, value, schema):
    return type(instance) is not list or len(instance) >= value


def _max_items(instance, value, schema):
    return type(instance) is not list or len(instance) <= value


def _minimum(instance, value, schema):
    return not (type(instance) in (int, float)) or instance >= value


def _maximum(instance, value, schema):
    return not (type(instance) in (int, float)) or instance <= value


def _any_of(instance, value, schema):
    return any(surely_valid(instance, sub) for sub in value)


_KEYWORDS = {
    "type": _type, "properties": _properties, "additionalProperties": _additional, "required": _required,
    "propertyNames": _property_names, "pattern": _pattern, "maxLength": _max_length, "enum": _enum,
    "items": _items, "uniqueItems": _unique, "minItems": _min_items, "maxItems": _max_items,
    "minimum": _minimum, "maximum": _maximum, "anyOf": _any_of,
}
