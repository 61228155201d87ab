"""A service trust conditions only on the confused-deputy keys that service sends."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.components.iam import CONFUSED_DEPUTY_DOC, TRUST_CONDITION_KEYS
from generator.lint.rules._common import properties, resources

#: condition key (lower case, as IAM compares keys) -> TrustKeys attribute
KEYS = {"aws:sourcearn": ("aws:SourceArn", "source_arn"), "aws:sourceaccount": ("aws:SourceAccount", "source_account")}


def _list(value):
    return value if isinstance(value, list) else [value]


def _services(statement) -> list:
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return []
    return [s for s in _list(principal.get("Service")) if isinstance(s, str)]


class TrustConditionKeysSent(CloudFormationLintRule):
    id = "E9112"
    shortdesc = "Trust conditions only on keys the trusted service sends"
    description = (
        "An AWS::IAM::Role trust statement that puts aws:SourceArn or aws:SourceAccount on a service principal "
        "whose documentation does not show it sending that key (generator.components.iam.TRUST_CONDITION_KEYS) "
        "never matches: the service cannot assume the role and the stack that uses it cannot be created."
    )
    source_url = CONFUSED_DEPUTY_DOC
    tags = ["iam", "trust", "confused-deputy", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::IAM::Role"):
            document = properties(resource).get("AssumeRolePolicyDocument")
            if not isinstance(document, dict):
                continue
            for index, statement in enumerate(_list(document.get("Statement"))):
                if not isinstance(statement, dict) or not isinstance(statement.get("Condition"), dict):
                    continue
                for operator, block in statement["Condition"].items():
                    if not isinstance(block, dict):
                        continue
                    for key in block:
                        shown, attribute = KEYS.get(str(key).lower(), (None, None))
                        if attribute is None:
                            continue
                        for service in _services(statement):
                            keys = TRUST_CONDITION_KEYS.get(service)
                            if keys is not None and not getattr(keys, attribute):
                                matches.append(RuleMatch(
                                    ["Resources", logical_id, "Properties", "AssumeRolePolicyDocument", "Statement",
                                     index, "Condition", operator, key],
                                    f"{logical_id}: {service} does not send {shown} when it assumes a role "
                                    f"({keys.doc}); this condition makes the role unassumable",
                                ))
        return matches
