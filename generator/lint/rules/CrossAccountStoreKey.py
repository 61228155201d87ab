"""A pipeline with an action or rule of another account encrypts every artifact store with a customer managed
key, named by key ARN (E9134)."""
from __future__ import annotations

import json
import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

#: ``arn:<partition>:iam::<account>:role/...``: the account part of a role ARN text.
ROLE_ACCOUNT = re.compile(r":iam::(\$\{[^}]*\}|[^:]*):role/")


def _other_account(role_arn) -> bool:
    """Whether ``role_arn`` is built with another account than the pipeline's: a literal account id, or a
    ``Fn::Sub`` whose account part is not ``${AWS::AccountId}`` (such as ``${Account}`` from a parameter).
    An import, an attribute or a parameter holding a whole ARN cannot be told, and is not flagged."""
    if isinstance(role_arn, dict) and "Fn::Sub" in role_arn:
        sub = role_arn["Fn::Sub"]
        role_arn = sub[0] if isinstance(sub, list) and sub else sub
    if not isinstance(role_arn, str):
        return False
    found = ROLE_ACCOUNT.search(role_arn)
    return bool(found) and found.group(1) != "${AWS::AccountId}"


def _placed(stages):
    """``(path, RoleArn, what)`` of every action and condition rule carrying a RoleArn."""
    for s_index, stage in enumerate(stages if isinstance(stages, list) else []):
        if not isinstance(stage, dict):
            continue
        for a_index, action in enumerate(stage.get("Actions") or []):
            if isinstance(action, dict) and "RoleArn" in action:
                yield (["Stages", s_index, "Actions", a_index, "RoleArn"], action["RoleArn"],
                       f"action {action.get('Name')} of stage {stage.get('Name')}")
        for block in ("BeforeEntry", "OnSuccess", "OnFailure"):
            conditions = (stage.get(block) or {}).get("Conditions") if isinstance(stage.get(block), dict) else None
            for c_index, condition in enumerate(conditions if isinstance(conditions, list) else []):
                for r_index, rule in enumerate((condition or {}).get("Rules") or []):
                    if isinstance(rule, dict) and "RoleArn" in rule:
                        yield (["Stages", s_index, block, "Conditions", c_index, "Rules", r_index, "RoleArn"],
                               rule["RoleArn"], f"rule {rule.get('Name')} of stage {stage.get('Name')}")


def _alias(key_id) -> bool:
    return isinstance(key_id, str) and (key_id.startswith("alias/") or ":alias/" in key_id)


class CrossAccountStoreKey(CloudFormationLintRule):
    id = "E9134"
    shortdesc = "Cross-account actions need artifact stores under a customer managed key ARN"
    description = (
        "An action (or stage-condition rule) running under another account's role reads and writes the pipeline's "
        "artifacts with that role: the stores must be encrypted with a customer managed KMS key whose policy admits "
        "the role (the AWS managed aws/s3 key cannot be shared), named by key ARN (another account resolves an "
        "alias in its own account). The resource schema accepts a store without EncryptionKey, and CodePipeline "
        "only fails when the action runs."
    )
    source_url = "https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-create-cross-account.html"
    tags = ["resources", "codepipeline", "cross-account", "kms", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::CodePipeline::Pipeline"):
            props = properties(resource)
            placed = [p for p in _placed(props.get("Stages")) if _other_account(p[1])]
            if not placed:
                continue
            what = placed[0][2]
            if isinstance(props.get("ArtifactStores"), list):
                stores = [(["ArtifactStores", i, "ArtifactStore"], (s or {}).get("ArtifactStore"))
                          for i, s in enumerate(props["ArtifactStores"])]
            else:
                stores = [(["ArtifactStore"], props.get("ArtifactStore"))]
            for path, store in stores:
                if not isinstance(store, dict):
                    continue
                key = store.get("EncryptionKey")
                where = ["Resources", logical_id, "Properties"] + path
                if not isinstance(key, dict) or "Id" not in key:
                    matches.append(RuleMatch(where, f"The artifact store has no EncryptionKey, but {what} runs under "
                                                    f"another account's role {json.dumps(placed[0][1])}: set a customer "
                                                    "managed key ARN the role may use"))
                elif _alias(key["Id"]):
                    matches.append(RuleMatch(where + ["EncryptionKey", "Id"],
                                             f"The artifact store's key is an alias ({key['Id']}), but {what} runs in "
                                             "another account, which resolves aliases in its own account: name the key ARN"))
        return matches
