"""The ecr stack: immutable, scanned, KMS-encrypted, lifecycle-bounded, used only by this account's named roles."""
import json

import pytest

from generator.stacks import ecr as ecr_stack
from tests.helpers import load_template, one, statements


@pytest.fixture(scope="module")
def repository():
    return one(load_template("ecr"), "AWS::ECR::Repository")[1]


def test_immutable_scanned_encrypted_and_retained(repository):
    p = repository["Properties"]
    assert p["ImageTagMutability"] == "IMMUTABLE"
    assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert p["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KmsKey": {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}}
    assert repository["DeletionPolicy"] == "Retain" and repository["UpdateReplacePolicy"] == "Retain"
    assert p["RepositoryName"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-app"}


def test_lifecycle_keeps_the_newest_n_images(repository):
    text, variables = repository["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    assert variables == {"Keep": {"Ref": "KeepImageCount"}}
    policy = json.loads(text.replace("${Keep}", "25"))
    rules = {r["selection"]["tagStatus"]: r for r in policy["rules"]}
    assert rules["any"]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 25}
    assert rules["any"]["action"] == {"type": "expire"}
    # ECR requires the "any" rule to have the lowest priority (highest number).
    assert rules["any"]["rulePriority"] == max(r["rulePriority"] for r in policy["rules"])
    assert rules["untagged"]["selection"]["countType"] == "sinceImagePushed"


def test_policy_allows_only_this_accounts_named_roles(repository):
    found = statements(repository["Properties"]["RepositoryPolicyText"])
    assert found, "the repository needs a policy"
    for statement in found:
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
        assert set(statement["Condition"]) == {"ArnLike"}
        for pattern in statement["Condition"]["ArnLike"]["aws:PrincipalArn"]:
            assert pattern["Fn::Sub"].startswith("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-")
    push = next(s for s in found if "ecr:PutImage" in s["Action"])
    assert push["Condition"]["ArnLike"]["aws:PrincipalArn"] == [{"Fn::Sub": (
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-${EnvironmentName}-%s-role"
        % component)} for component in ecr_stack.IMAGE_BUILD_COMPONENTS]
    pull = next(s for s in found if "ecr:PutImage" not in s["Action"])
    assert not [a for a in pull["Action"] if a in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart")]


def test_exports():
    assert set(load_template("ecr")["Outputs"]) == {"RepositoryName", "RepositoryArn", "RepositoryUri"}


def as_json(statement):
    return json.loads(json.dumps(statement.JSONrepr(), default=lambda o: o.JSONrepr() if hasattr(o, "JSONrepr") else o.to_dict()))


def test_grants_scope_to_the_repository_and_keep_login_apart():
    from generator.components.ecr import RepositoryReference
    repo = RepositoryReference("shop-tools-app")
    scoped, login = [as_json(s) for s in repo.grant_push()]
    assert "ecr:PutImage" in scoped["Action"] and scoped["Resource"] == [repo.arn.to_dict()]
    assert login["Action"] == ["ecr:GetAuthorizationToken"] and login["Resource"] == ["*"]
    pull, _ = [as_json(s) for s in repo.grant_pull()]
    assert "ecr:PutImage" not in pull["Action"]
