"""Helpers shared by the project's cfn-lint rules (not a rule module: cfn-lint skips ``_*.py``)."""
from __future__ import annotations

import re

from generator.core.stack import REQUIRED_TAGS  # noqa: F401  (re-exported for RequiredTags)

SOURCE_URL = "docs/architecture.md#security-gate"  # the project's own rules are documented there

PARTITION = re.compile(r"arn:aws(?:-[a-z]+)*:")
REGION = re.compile(
    r"(?<![a-z0-9-])(?:af|ap|ca|cn|eu|il|me|mx|sa|us|us-gov|us-iso|us-isob)-"
    r"(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d{1,2}(?![0-9])"
)
ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


def resources(cfn, resource_type=None):
    """``(logical_id, resource)`` of every well-formed resource, optionally of one type."""
    found = cfn.template.get("Resources", {})
    if not isinstance(found, dict):
        return []
    return [
        (logical_id, resource) for logical_id, resource in found.items()
        if isinstance(resource, dict) and (resource_type is None or resource.get("Type") == resource_type)
    ]


def properties(resource) -> dict:
    props = resource.get("Properties", {})
    return props if isinstance(props, dict) else {}


def strings(value, path):
    """Every string inside ``value`` with its path (dict keys are not values and are skipped)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, path + [key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, path + [index])


def is_true(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
