"""Required tags on every resource whose CloudFormation schema says it is taggable."""
import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from generator import registry
from generator.core.stack import CONSTANT_TAGS, REQUIRED_TAGS
from tests.helpers import load_template


def taggable(rtype: str) -> bool:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype).schema
    tagging = schema.get("tagging", {})
    return bool(tagging.get("taggable", "Tags" in schema.get("properties", {}))) and "Tags" in schema.get("properties", {})


def tag_keys(tags) -> set:
    if isinstance(tags, dict):
        return set(tags)
    return {t["Key"] for t in tags}


def _tagged_constantly(resource) -> bool:
    ignored = resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
    return "E9106" in ignored


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
        if _tagged_constantly(resource):
            # A resource no stack update may touch (a CODE_DEPLOY service): constant tags only, the rest
            # reach its tasks from the task definition; the E9106 suppression says why.
            assert keys >= set(CONSTANT_TAGS) and missing == set(REQUIRED_TAGS) - set(CONSTANT_TAGS), logical_id
            assert resource["Properties"].get("PropagateTags") == "TASK_DEFINITION", logical_id
            continue
        assert not missing, f"{stack}/{logical_id} ({resource['Type']}) lacks tags {sorted(missing)}"
    assert checked > 0


def test_only_the_codedeploy_service_is_tagged_constantly():
    found = [(stack, logical_id) for stack in registry.names()
             for logical_id, resource in load_template(stack)["Resources"].items() if _tagged_constantly(resource)]
    assert found == [("ecs-service", "Service")]
