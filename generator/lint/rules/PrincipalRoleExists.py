"""A policy that names an IAM role as its Principal names one that exists when the policy is saved."""
from __future__ import annotations

import json
import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles"
#: Where a template writes a policy with a Principal: resource type -> property holding the document.
POLICIES = {
    "AWS::IAM::Role": "AssumeRolePolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::ECR::Repository": "RepositoryPolicyText",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
}
_VAR = re.compile(r"\$\{([^}!]+)\}")


def _list(value):
    return value if isinstance(value, list) else [value]


def _text(value):
    """The ARN a principal value builds, as text with ``${...}`` left in (``Fn::Sub`` locals that are
    themselves text substituted), or None when it is not built in this template (GetAtt, ImportValue, Ref)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        if isinstance(sub, str):
            return sub
        if isinstance(sub, list) and sub and isinstance(sub[0], str):
            local = sub[1] if len(sub) > 1 and isinstance(sub[1], dict) else {}

            def one(match):
                inner = _text(local[match.group(1)]) if match.group(1) in local else None
                return inner if inner is not None else match.group(0)
            return _VAR.sub(one, sub[0])
    return None


def _role_names(cfn) -> dict:
    """This template's roles: ``{role name as text: logical id}`` (names built with ``Fn::Sub`` kept as text)."""
    found = {}
    for logical_id, resource in resources(cfn, "AWS::IAM::Role"):
        name = _text(properties(resource).get("RoleName"))
        if name is not None:
            found[name] = logical_id
    return found


class PrincipalRoleExists(CloudFormationLintRule):
    id = "E9114"
    shortdesc = "A role named as Principal exists before the policy"
    description = (
        "IAM resolves a role named as Principal (trust policy, bucket, repository, topic, queue or key policy) "
        "when the policy is saved and rejects one that does not exist yet ('Invalid principal in policy'). "
        "A role ARN the template builds as text must name a role of this template that the policy's resource "
        "DependsOn; a role of another stack is named by its imported ARN (Fn::ImportValue), so the import "
        "graph deploys that stack first."
    )
    source_url = DOC
    tags = ["iam", "principal", "deploy-order", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        roles = _role_names(cfn)
        for rtype, key in POLICIES.items():
            for logical_id, resource in resources(cfn, rtype):
                document = properties(resource).get(key)
                if not isinstance(document, dict):
                    continue
                depends = set(_list(resource.get("DependsOn") or []))
                for index, statement in enumerate(_list(document.get("Statement"))):
                    principal = statement.get("Principal") if isinstance(statement, dict) else None
                    if not isinstance(principal, dict):
                        continue
                    for value in _list(principal.get("AWS")):
                        text = _text(value)
                        if text is None or ":role/" not in text:
                            continue  # GetAtt/ImportValue/Ref, an account or a service
                        name = text.split(":role/", 1)[1]
                        path = ["Resources", logical_id, "Properties", key, "Statement", index, "Principal", "AWS"]
                        owner = roles.get(name)
                        if owner is None:
                            matches.append(RuleMatch(path, (
                                f"{logical_id}: Principal role {json.dumps(name)} is built as text and no role of "
                                f"this template has that name; IAM rejects a principal that does not exist when "
                                f"the policy is saved: import the role's ARN from the stack that creates it")))
                        elif owner != logical_id and owner not in depends:
                            matches.append(RuleMatch(path, (
                                f"{logical_id}: Principal role {json.dumps(name)} is {owner} of this template, named "
                                f"as text, so CloudFormation may save the policy first; add DependsOn: {owner}")))
        return matches
