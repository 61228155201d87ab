"""Required tags on every resource whose CloudFormation schema says it is taggable."""
import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from generator import registry
from generator.core.stack import REQUIRED_TAGS
from tests.helpers import load_template


def taggable(rtype: str) -> bool:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype).schema
    tagging = schema.get("tagging", {})
    return bool(tagging.get("taggable", "Tags" in schema.get("properties", {}))) and "Tags" in schema.get("properties", {})


def tag_keys(tags) -> set:
    if isinstance(tags, dict):
        return set(tags)
    return {t["Key"] for t in tags}


@pytest.mark.parametrize("stack", registry.names())
def test_every_taggable_resource_has_required_tags(stack):
    template = load_template(stack)
    checked = 0
    for logical_id, resource in template["Resources"].items():
        if not taggable(resource["Type"]):
            continue
        checked += 1
        keys = tag_keys(resource.get("Properties", {}).get("Tags", []))
        missing = set(REQUIRED_TAGS) - keys
        assert not missing, f"{stack}/{logical_id} ({resource['Type']}) lacks tags {sorted(missing)}"
    assert checked > 0
