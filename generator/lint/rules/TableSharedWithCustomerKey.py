"""A DynamoDB table another account may use is encrypted with a customer managed key (E9150)."""
from __future__ import annotations

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import is_true, properties, resources

THIS_ACCOUNT = ("${AWS::AccountId}", '{"Ref": "AWS::AccountId"}')


def _principals(statement) -> list:
    principal = statement.get("Principal") if isinstance(statement, dict) else None
    if principal == "*":
        return ["*"]
    aws = principal.get("AWS") if isinstance(principal, dict) else None
    return aws if isinstance(aws, list) else [aws] if aws is not None else []


def _other_account(principal) -> bool:
    """A principal that may be another account's: anything not built from this stack's account id."""
    text = json.dumps(principal, sort_keys=True)
    return not any(mark in text for mark in THIS_ACCOUNT)


class TableSharedWithCustomerKey(CloudFormationLintRule):
    id = "E9150"
    shortdesc = "A table shared with another account uses a customer managed key"
    description = (
        "A DynamoDB table whose ResourcePolicy admits a principal of another account must be encrypted with a "
        "customer managed KMS key (SSESpecification SSEEnabled, SSEType KMS, KMSMasterKeyId): cross-account "
        "access does not work with the AWS owned or AWS managed key, whose policy cannot admit another account. "
        "CloudFormation creates such a table without complaint; the other account's calls fail at run time."
    )
    source_url = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-considerations.html"
    tags = ["resources", "dynamodb", "cross-account", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::DynamoDB::Table"):
            props = properties(resource)
            policy = props.get("ResourcePolicy")
            document = policy.get("PolicyDocument") if isinstance(policy, dict) else None
            statements = document.get("Statement") if isinstance(document, dict) else None
            statements = statements if isinstance(statements, list) else [statements] if statements else []
            if not any(_other_account(p) for s in statements for p in _principals(s)):
                continue
            sse = props.get("SSESpecification")
            sse = sse if isinstance(sse, dict) else {}
            if is_true(sse.get("SSEEnabled")) and sse.get("SSEType") == "KMS" and sse.get("KMSMasterKeyId"):
                continue
            matches.append(RuleMatch(
                ["Resources", logical_id, "Properties", "SSESpecification"],
                f"Table {logical_id} admits another account in its ResourcePolicy but is not encrypted with a "
                "customer managed key: set SSESpecification SSEEnabled true, SSEType KMS and KMSMasterKeyId (a key "
                "whose policy admits the same principals)"))
        return matches
