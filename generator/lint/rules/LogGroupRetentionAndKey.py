"""Every log group has a retention period and a KMS key."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import SOURCE_URL, properties, resources


class LogGroupRetentionAndKey(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "Log groups have retention and a KMS key"
    description = (
        "A log group without RetentionInDays keeps logs (and their cost) forever; one without KmsKeyId is "
        "encrypted only with a key the account does not control."
    )
    source_url = SOURCE_URL
    tags = ["resources", "logs", "encryption", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::Logs::LogGroup"):
            props = properties(resource)
            for prop, why in (("RetentionInDays", "a retention period"), ("KmsKeyId", "a customer-managed KMS key")):
                if prop not in props:
                    matches.append(RuleMatch(
                        ["Resources", logical_id, "Properties"],
                        f"log group {logical_id} has no {prop}; give it {why}",
                    ))
        return matches
