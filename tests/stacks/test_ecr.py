"""The ecr stack: immutable, scanned, KMS-encrypted, lifecycle-bounded, used only by this account's named roles."""
import json

import pytest

from generator import registry
from generator.components.ecr import CI_TAG_PREFIX
from generator.kinds import CONTAINER_KINDS
from generator.stacks import ecr as ecr_stack
from tests.helpers import load_template, one, statements

#: One repository stack per container application of the model (``<app>-ecr`` in tools).
ECR_STACKS = [s for s in registry.stacks() if issubclass(s, ecr_stack.EcrStack)]


@pytest.fixture(params=ECR_STACKS, ids=lambda s: s.name)
def ecr(request):
    return request.param


@pytest.fixture
def repository(ecr):
    return one(load_template(ecr.name), "AWS::ECR::Repository")[1]


def test_one_repository_stack_per_container_application():
    apps = [a.name for a in registry.stacks()[0].model.applications if a.kind in CONTAINER_KINDS]
    assert apps, "the sample model has container applications"
    assert [s.name for s in ECR_STACKS] == [ecr_stack.stack_name(a) for a in apps]
    assert all(s.app.name == a and s.environments == (s.model.tools,) for s, a in zip(ECR_STACKS, apps))


def test_immutable_scanned_encrypted_and_retained(ecr, repository):
    p = repository["Properties"]
    assert p["ImageTagMutability"] == "IMMUTABLE"
    assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert p["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KmsKey": {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}}
    assert repository["DeletionPolicy"] == "Retain" and repository["UpdateReplacePolicy"] == "Retain"
    assert p["RepositoryName"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s" % ecr.app.name}


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


def test_push_is_denied_to_everyone_but_the_build_roles(ecr, repository):
    found = statements(repository["Properties"]["RepositoryPolicyText"])
    [deny] = [s for s in found if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*"
    assert set(deny["Action"]) == {"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                                   "ecr:CompleteLayerUpload"}
    build_roles = [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-${EnvironmentName}-%s-role"
                    % ecr_stack.image_build_component(ecr.component)}]
    condition, with_pusher, without = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::If"]
    assert condition == "HasBootstrapPusher"
    assert without == build_roles and with_pusher == build_roles + [{"Ref": "BootstrapPusherArn"}]
    # Exactly the image build project of this application's pipeline pushes: no other application's.
    [pusher] = [s for s in registry.stacks(ecr.model) if getattr(s, "delivery", None) and s.app is ecr.app
                and getattr(s, "build_project_id", "") == "ImageBuildProject"]
    assert ecr.component == pusher.delivery.component
    others = [s.delivery.component for s in registry.stacks(ecr.model) if getattr(s, "delivery", None) and s.app is not ecr.app]
    assert not any(ecr_stack.image_build_component(c) in json.dumps(deny) for c in others)
    assert load_template(ecr.name)["Parameters"]["BootstrapPusherArn"]["Default"] == ""
    # No statement allows pushing: the build roles push with their own identity grants.
    assert not [s for s in found if s["Effect"] == "Allow" and "ecr:PutImage" in s["Action"]]


def test_pull_is_allowed_only_to_this_accounts_named_roles(ecr, repository):
    [pull] = [s for s in statements(repository["Properties"]["RepositoryPolicyText"])
              if s["Effect"] == "Allow" and s.get("Sid") != "AllowImageScanGateToReadScanFindings"]
    assert pull["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert set(pull["Condition"]) == {"ArnLike"}
    patterns = pull["Condition"]["ArnLike"]["aws:PrincipalArn"]
    for pattern in patterns:
        assert pattern["Fn::Sub"].startswith("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-")
    assert not [a for a in pull["Action"] if a in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart")]
    # The application's task execution role in every environment matches the pattern.
    assert {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-*-%s"
            % ecr_stack.execution_role_component(ecr.app.name)} in patterns


def test_exports(ecr):
    outputs = load_template(ecr.name)["Outputs"]
    assert set(outputs) == {"RepositoryName", "RepositoryArn", "RepositoryUri"}
    for key, output in outputs.items():
        assert output["Export"]["Name"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s" % (ecr.name, key)}


def test_repository_reference_imports_the_applications_stack_from_tools(ecr):
    repo = ecr_stack.repository(ecr.app.name, ecr.model.tools)
    assert repo.arn.to_dict() == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-RepositoryArn"
                                                      % (ecr.model.tools, ecr.name)}}


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


def test_the_image_scan_gate_reads_scan_findings_through_the_repository_policy(ecr, repository, templates):
    """The shared image scanner's role lists no repository: each repository names it (imported ARN), for
    the scan findings only; the scanner stack deploys first (the policy names an existing role)."""
    [gate] = [s for s in statements(repository["Properties"]["RepositoryPolicyText"])
              if s.get("Sid") == "AllowImageScanGateToReadScanFindings"]
    assert gate["Effect"] == "Allow" and "Condition" not in gate
    assert gate["Principal"] == {"AWS": [{"Fn::ImportValue": {"Fn::Sub":
                                 "${ProjectName}-${EnvironmentName}-image-scanner-ImageScanRoleArn"}}]}
    assert sorted(gate["Action"]) == ["ecr:DescribeImageScanFindings", "ecr:DescribeImages"]
    assert "image-scanner" in registry.requires(ecr)
    scanner = templates["image-scanner"]
    assert json.dumps(scanner).count("ecr:DescribeImageScanFindings") == 0, "no identity grant on any repository"
