"""EventBridge targets in CloudWatch Logs are authorized by the log group's resource policy, never a role (E9131)."""
from __future__ import annotations

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources


def is_log_group(arn, log_groups) -> bool:
    """``arn`` names a CloudWatch Logs log group: a ``:logs:`` ARN text, or an attribute of one in this template."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".")[0]
        return name in log_groups
    return ":logs:" in json.dumps(arn)


class EventTargetsUseResourcePolicies(CloudFormationLintRule):
    id = "E9131"
    shortdesc = "EventBridge targets in CloudWatch Logs carry no RoleArn"
    description = (
        "EventBridge delivers to CloudWatch Logs under the log group's resource policy "
        "(AWS::Logs::ResourcePolicy allowing events.amazonaws.com / delivery.logs.amazonaws.com); a RoleArn on "
        "such a target is not used for delivery and AWS documents that event delivery may fail with one. "
        "Admit the rule in the resource policy (aws:SourceArn) instead."
    )
    source_url = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html"
    tags = ["resources", "events", "logs", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        log_groups = {logical_id for logical_id, _ in resources(cfn, "AWS::Logs::LogGroup")}
        for logical_id, resource in resources(cfn, "AWS::Events::Rule"):
            targets = properties(resource).get("Targets")
            for index, target in enumerate(targets if isinstance(targets, list) else []):
                if isinstance(target, dict) and "RoleArn" in target and is_log_group(target.get("Arn"), log_groups):
                    matches.append(RuleMatch(
                        ["Resources", logical_id, "Properties", "Targets", index, "RoleArn"],
                        f"Target {target.get('Id', index)} delivers to CloudWatch Logs: remove RoleArn and allow "
                        "the rule in the log group's resource policy (aws:SourceArn)"))
        return matches
