"""The ecr stack: immutable, scanned, KMS-encrypted, lifecycle-bounded, used only by this account's named roles."""
import json

import pytest

from generator.components.ecr import CI_TAG_PREFIX
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


def test_lifecycle_expires_only_untagged_and_ci_images(repository):
    text, variables = repository["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    assert variables == {"Keep": {"Ref": "KeepImageCount"}}
    policy = json.loads(text.replace("${Keep}", "25"))
    rules = {r["selection"]["tagStatus"]: r for r in policy["rules"]}
    assert set(rules) == {"untagged", "tagged"}, "no rule may select 'any': it would expire release tags"
    assert rules["untagged"]["selection"]["countType"] == "sinceImagePushed"
    tagged = rules["tagged"]["selection"]
    assert tagged == {"tagStatus": "tagged", "tagPrefixList": [CI_TAG_PREFIX], "countType": "imageCountMoreThan",
                      "countNumber": 25}
    assert all(r["action"] == {"type": "expire"} for r in policy["rules"])


@pytest.mark.parametrize("tag,expires", [("bootstrap", False), ("3f2c9a1", False), ("v1.4.0", False),
                                         ("ci-1234", True), ("ci-feature-x", True)])
def test_release_and_bootstrap_tags_match_no_expiring_rule(repository, tag, expires):
    text, _ = repository["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    policy = json.loads(text.replace("${Keep}", "25"))
    matching = [r for r in policy["rules"] if r["selection"]["tagStatus"] == "tagged"
                and any(tag.startswith(p) for p in r["selection"]["tagPrefixList"])]
    assert bool(matching) is expires


def test_push_is_denied_to_everyone_but_the_build_roles(repository):
    found = statements(repository["Properties"]["RepositoryPolicyText"])
    [deny] = [s for s in found if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*"
    assert set(deny["Action"]) == {"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                                   "ecr:CompleteLayerUpload"}
    build_roles = [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-${EnvironmentName}-%s-role"
                    % component} for component in ecr_stack.IMAGE_BUILD_COMPONENTS]
    condition, with_pusher, without = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"]
    assert condition == "HasBootstrapPusher"
    assert without == build_roles and with_pusher == build_roles + [{"Ref": "BootstrapPusherArn"}]
    from generator import registry
    pushing = {f"{s.delivery.component}-image" for s in registry.STACKS
               if getattr(s, "delivery", None) and getattr(s, "build_project_id", "") == "ImageBuildProject"}
    assert set(ecr_stack.IMAGE_BUILD_COMPONENTS) == pushing and len(pushing) == 2
    assert load_template("ecr")["Parameters"]["BootstrapPusherArn"]["Default"] == ""
    # No statement allows pushing: the build roles push with their own identity grants.
    assert not [s for s in found if s["Effect"] == "Allow" and "ecr:PutImage" in s["Action"]]


def test_pull_is_allowed_only_to_this_accounts_named_roles(repository):
    [pull] = [s for s in statements(repository["Properties"]["RepositoryPolicyText"]) if s["Effect"] == "Allow"]
    assert pull["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert set(pull["Condition"]) == {"ArnLike"}
    patterns = pull["Condition"]["ArnLike"]["aws:PrincipalArn"]
    for pattern in patterns:
        assert pattern["Fn::Sub"].startswith("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-")
    assert not [a for a in pull["Action"] if a in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart")]
    # Both service stacks' execution roles (ecs-execution, native-ecs-execution) match the pattern.
    assert {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-*-ecs-execution"} in patterns


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
