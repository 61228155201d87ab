"""An ECR lifecycle policy never expires release images (E9113)."""
from __future__ import annotations

import json
import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.components.ecr import CI_TAG_PREFIX
from generator.lint.rules._common import properties, resources

SUB_VARIABLE = re.compile(r"\$\{[^}]*\}")


def policy_text(value):
    """The lifecycle policy JSON, with ``Fn::Sub`` variables replaced by a number (counts are variables)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
        value = value[0] if isinstance(value, list) and value else value
    if not isinstance(value, str):
        return None
    try:
        return json.loads(SUB_VARIABLE.sub("1", value))
    except ValueError:
        return None


def expires_releases(rule) -> str:
    """Why ``rule`` may expire an image an environment runs or rolls back to ('' when it cannot)."""
    if not isinstance(rule, dict) or (rule.get("action") or {}).get("type") != "expire":
        return ""
    selection = rule.get("selection") or {}
    status = selection.get("tagStatus")
    if status == "any":
        return "selects tagStatus 'any' (release tags and bootstrap included)"
    if status == "tagged":
        selectors = list(selection.get("tagPrefixList") or []) + list(selection.get("tagPatternList") or [])
        if not selectors:
            return "selects every tagged image"
        other = [s for s in selectors if not (isinstance(s, str) and s.startswith(CI_TAG_PREFIX))]
        if other:
            return f"selects tags {other} that are not CI-only ('{CI_TAG_PREFIX}' prefix)"
    return ""


class EcrLifecycleKeepsReleases(CloudFormationLintRule):
    id = "E9113"
    shortdesc = "ECR lifecycle policies expire only untagged and CI-only images"
    description = (
        "A lifecycle rule that expires by count or age with tagStatus 'any', or 'tagged' without a CI-only "
        f"tag prefix ('{CI_TAG_PREFIX}'), eventually expires the image an environment runs or a rollback "
        "needs (and the bootstrap image the services start from): tasks then fail to start."
    )
    source_url = "https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html"
    tags = ["resources", "ecr", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::ECR::Repository"):
            lifecycle = properties(resource).get("LifecyclePolicy")
            if not isinstance(lifecycle, dict):
                continue
            policy = policy_text(lifecycle.get("LifecyclePolicyText"))
            for rule in (policy or {}).get("rules", []) if isinstance(policy, dict) else []:
                why = expires_releases(rule)
                if why:
                    matches.append(RuleMatch(
                        ["Resources", logical_id, "Properties", "LifecyclePolicy", "LifecyclePolicyText"],
                        f"Lifecycle rule {rule.get('rulePriority')} of {logical_id} {why}",
                    ))
        return matches
