"""Registering task definitions or creating services also needs ecs:TagResource on create (E9109)."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

CREATE_ACTIONS = {"ecs:registertaskdefinition", "ecs:createservice"}
TAG_ACTION = "ecs:tagresource"
CONDITION_KEY = "ecs:createaction"


def as_list(value):
    return value if isinstance(value, list) else [value]


def documents(cfn):
    """``(path, policy document)`` of every identity policy: policies, managed policies, inline role policies."""
    for logical_id, resource in resources(cfn):
        props = properties(resource)
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield ["Resources", logical_id, "Properties", "PolicyDocument"], props.get("PolicyDocument")
        elif resource.get("Type") == "AWS::IAM::Role":
            for index, policy in enumerate(as_list(props.get("Policies") or [])):
                if isinstance(policy, dict):
                    yield (["Resources", logical_id, "Properties", "Policies", index, "PolicyDocument"],
                           policy.get("PolicyDocument"))


def allowed_actions(statement) -> set:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return set()
    return {a.lower() for a in as_list(statement.get("Action", [])) if isinstance(a, str)}


def tags_on_create(statement) -> bool:
    condition = statement.get("Condition") if isinstance(statement, dict) else None
    if TAG_ACTION not in allowed_actions(statement) or not isinstance(condition, dict):
        return False
    return any(isinstance(keys, dict) and CONDITION_KEY in {k.lower() for k in keys} for keys in condition.values())


class EcsTagOnCreate(CloudFormationLintRule):
    id = "E9109"
    shortdesc = "ecs:RegisterTaskDefinition / ecs:CreateService come with ecs:TagResource on create"
    description = (
        "ECS authorizes ecs:TagResource as well when RegisterTaskDefinition or CreateService carry tags "
        "(the pipeline registers tagged task definitions). A policy granting either action needs a statement "
        "allowing ecs:TagResource conditioned on ecs:CreateAction, so the role can tag on creation and "
        "cannot tag existing resources."
    )
    source_url = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html"
    tags = ["resources", "iam", "ecs", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for path, document in documents(cfn):
            if not isinstance(document, dict):
                continue
            found = as_list(document.get("Statement", []))
            creating = sorted({a for s in found if isinstance(s, dict) and s.get("Effect") == "Allow"
                               for a in as_list(s.get("Action", [])) if isinstance(a, str) and a.lower() in CREATE_ACTIONS})
            if creating and not any(tags_on_create(s) for s in found):
                matches.append(RuleMatch(path, (
                    f"The policy allows {', '.join(creating)} but no ecs:TagResource with an "
                    "ecs:CreateAction condition: tagged registrations and services are denied")))
        return matches
