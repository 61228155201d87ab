"""Every taggable resource carries the project's required tags."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from generator.lint.rules._common import REQUIRED_TAGS, SOURCE_URL, properties, resources


def tag_keys(tags) -> set:
    if isinstance(tags, dict):  # map-style Tags (SSM parameters, some newer types)
        return {k for k in tags if isinstance(k, str) and not k.startswith("Fn::")}
    if isinstance(tags, list):
        return {t["Key"] for t in tags if isinstance(t, dict) and isinstance(t.get("Key"), str)}
    return set()


class RequiredTags(CloudFormationLintRule):
    id = "E9106"
    shortdesc = "Taggable resources carry the required tags"
    description = (
        "Every resource whose type has a Tags property (per the CloudFormation resource schema) carries "
        f"{', '.join(REQUIRED_TAGS)}, so cost and ownership can be traced for everything a stack creates."
    )
    source_url = SOURCE_URL
    tags = ["resources", "tags", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        region = cfn.regions[0] if cfn.regions else "us-east-1"
        for logical_id, resource in resources(cfn):
            resource_type = resource.get("Type")
            if not isinstance(resource_type, str) or not resource_type.startswith("AWS::"):
                continue
            try:
                schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type)
            except Exception:  # unknown type: cfn-lint's E3006 reports it
                continue
            if "Tags" not in schema.schema.get("properties", {}):
                continue
            missing = [k for k in REQUIRED_TAGS if k not in tag_keys(properties(resource).get("Tags"))]
            if missing:
                matches.append(RuleMatch(
                    ["Resources", logical_id, "Properties"],
                    f"{resource_type} {logical_id} lacks the required tags {', '.join(missing)}",
                ))
        return matches
