"""Every IAM policy in every template: no `*` action, no service-wide wildcard, and `Resource: "*"`
only for actions on the allow-list below, each of which IAM gives no resource-level permission.

IAM's action data comes from cfn-lint (``data/AdditionalSpecs/Policies.json``, the service
authorization reference): an allow-listed action must exist and support no resource type.
"""
import json
import os

import cfnlint
import pytest

from generator import execrole, registry
from tests.helpers import as_list, load_template, statements

#: Actions allowed with ``Resource: "*"``, each with the reason a reviewer accepts.
UNSCOPED_ALLOWED = {
    "ecr:GetAuthorizationToken": "returns a registry login token; IAM defines no resource for it",
    "ecs:DescribeTaskDefinition": "the rolling ECS deploy action reads the service's current task definition "
                                   "to register the next revision; IAM defines no resource for it",
    **{f"inspector2:{action}": "enhanced ECR scanning reports through Amazon Inspector; the image scan gate "
                               "lists findings and coverage, for which IAM defines no resource"
       for action in ("ListFindings", "ListCoverage")},
    **{f"ec2:{action}": "CodeBuild describes the VPC, subnets, security groups, DHCP options and network "
                        "interfaces before it puts a build in a VPC; IAM defines no resource for EC2 Describe actions"
       for action in ("DescribeDhcpOptions", "DescribeNetworkInterfaces", "DescribeSecurityGroups",
                      "DescribeSubnets", "DescribeVpcs")},
    **{f"elasticloadbalancing:{action}": "CodeDeploy and ECS blue/green read listeners, rules and target groups "
                                         "before shifting traffic; IAM defines no resource for Describe actions"
       for action in ("DescribeListeners", "DescribeRules", "DescribeTargetGroups", "DescribeTargetHealth")},
}
#: A function a pipeline's Lambda action invokes reports its job's result (components/pipeline.job_result_grant).
UNSCOPED_ALLOWED.update({f"codepipeline:{action}": "a Lambda invoke action's function reports its job result; IAM "
                                                    "defines no resource for job results"
                         for action in ("PutJobSuccessResult", "PutJobFailureResult")})
#: The Beanstalk deploy action (components/beanstalk.py deploy_grants): Beanstalk runs the deployment with
#: the caller's permissions and first looks up the environment's resources; none of these has a resource type.
UNSCOPED_ALLOWED.update({action: "Beanstalk deploy action looks up the environment's Auto Scaling group, instances, "
                                 "load balancer and storage bucket; IAM defines no resource for it"
                         for action in (
    "elasticbeanstalk:CreateStorageLocation",
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeScalingActivities", "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeNotificationConfigurations", "autoscaling:DescribeScheduledActions",
    "autoscaling:DescribePolicies", "autoscaling:DescribeLifecycleHooks", "autoscaling:DescribeLoadBalancerTargetGroups",
    "ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "ec2:DescribeImages", "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeAccountAttributes", "ec2:DescribeAvailabilityZones", "ec2:DescribeAddresses",
    "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTags",
)})

UNSCOPED_ALLOWED["cloudformation:ValidateTemplate"] = (
    "the bootstrap deploy-action role validates templates before its change sets; IAM defines no resource for it")
#: The ``Resource: "*"`` statement of the derived execution-role policy (generator/execrole.py): its actions
#: come from the resource schemas' handlers and execrole.ORCHESTRATED, each checked here against IAM data
#: instead of the allow-list.
DERIVED_SID = "".join(p.capitalize() for p in execrole.UNSCOPED_REASON.replace("-", " ").split())

#: AWS managed policies a role may attach, each with the reason (AWS documents them as the way).
#: Never an admin-class one (issue 10 item 10): the least-privilege gate fails those whatever this says.
MANAGED_POLICIES_ALLOWED = {
    # none: the Beanstalk roles use scoped grants (components/beanstalk.py) instead of
    # AWSElasticBeanstalkWebTier / EnhancedHealth / ManagedUpdatesCustomerRolePolicy.
}

IAM_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def iam_actions() -> dict:
    path = os.path.join(os.path.dirname(cfnlint.__file__), "data", "AdditionalSpecs", "Policies.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


IAM = iam_actions()


def policy_documents(template: dict):
    """``(logical id, document)`` for every identity policy: policies, managed policies, inline role policies."""
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource["Type"] in IAM_POLICY_TYPES:
            yield logical_id, props["PolicyDocument"]
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield f"{logical_id}/{policy['PolicyName']}", policy["PolicyDocument"]


def resource_types(action: str):
    """IAM resource types of ``service:Action``, or None when IAM does not know the action."""
    service, _, name = action.partition(":")
    known = IAM.get(service.lower(), {}).get("Actions", {})
    if name.lower() not in known:
        return None
    return known[name.lower()].get("Resources", [])


def problems(template: dict) -> list:
    found = []
    for where, document in policy_documents(template):
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                found.append(f"{where}: NotAction/NotResource in an Allow statement")
            actions = as_list(statement.get("Action", []))
            for action in actions:
                if not isinstance(action, str) or "*" in action:
                    found.append(f"{where}: wildcard action {action!r}")
                elif resource_types(action) is None:
                    found.append(f"{where}: unknown IAM action {action}")
            if "*" in as_list(statement.get("Resource", [])):
                derived = statement.get("Sid") == DERIVED_SID
                for action in actions:
                    if derived and resource_types(action) == []:
                        continue  # the execution role's handler actions: IAM data decides, no allow-list
                    if action not in UNSCOPED_ALLOWED:
                        found.append(f"{where}: {action} on Resource '*' is not on the allow-list")
    return found


@pytest.mark.parametrize("stack", registry.names())
def test_policies_are_scoped(stack):
    assert problems(load_template(stack)) == []


@pytest.mark.parametrize("stack", registry.names())
def test_managed_policies_are_allow_listed(stack):
    for logical_id, resource in load_template(stack)["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for arn in resource["Properties"].get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and "Ref" in arn:  # a customer-managed policy of this template
                assert load_template(stack)["Resources"][arn["Ref"]]["Type"] == "AWS::IAM::ManagedPolicy"
                continue  # its document is held to test_policies_are_scoped
            text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
            assert text.startswith("arn:${AWS::Partition}:iam::aws:policy/"), f"{logical_id}: {text}"
            assert text.rsplit("/", 1)[1] in MANAGED_POLICIES_ALLOWED, f"{logical_id}: {text} not allow-listed"


def test_managed_policies_exist_at_their_iam_path():
    """An AWS managed policy ARN carries the policy's path (``service-role/...``); a wrong path fails at deploy."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    known = json.loads(aws_managed_policies_data)
    checked = 0
    for stack in registry.names():
        for logical_id, resource in load_template(stack)["Resources"].items():
            for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []) if resource["Type"] == "AWS::IAM::Role" else []:
                if isinstance(arn, dict) and "Ref" in arn:
                    continue  # a customer-managed policy of the template, not an AWS managed one
                text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
                path_and_name = text.split(":policy", 1)[1]
                name = path_and_name.rsplit("/", 1)[1]
                assert name in known, f"{stack}/{logical_id}: {name} is not an AWS managed policy"
                assert path_and_name == known[name]["Path"] + name, \
                    f"{stack}/{logical_id}: {text} should be ...:policy{known[name]['Path']}{name}"
                checked += 1
    assert checked >= 0  # every managed policy left is checked; the goal is none


def test_allow_list_holds_only_actions_without_resource_level_permissions():
    for action, reason in UNSCOPED_ALLOWED.items():
        assert len(reason) >= 20, f"{action}: give a reason"
        assert resource_types(action) == [], f"{action} supports resource types {resource_types(action)}"
    assert all(len(reason) >= 20 for reason in MANAGED_POLICIES_ALLOWED.values())


def test_no_allow_listed_managed_policy_is_admin_class():
    from generator.lint.least_privilege import admin_class, aws_managed_policies

    data = aws_managed_policies()
    for name in MANAGED_POLICIES_ALLOWED:
        assert not admin_class(name, data[name]["Document"]), f"{name} is admin-class: replace it, never allow it"


def test_checker_catches_bad_policies():
    bad = {"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "arn:x"},
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:x"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:GetObjekt"], "Resource": ["arn:x"]},
    ]}}}, "R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "Inline", "PolicyDocument": {
        "Statement": {"Effect": "Allow", "Action": "logs:Put*", "Resource": "arn:x"}}}]}}}}
    found = problems(bad)
    assert "P: wildcard action '*'" in found
    assert "P: wildcard action 's3:*'" in found
    assert "P: s3:GetObject on Resource '*' is not on the allow-list" in found
    assert "P: unknown IAM action s3:GetObjekt" in found
    assert "R/Inline: wildcard action 'logs:Put*'" in found
    good = {"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
    ]}}}}}
    assert problems(good) == []


# -- trust policies follow the one trust table (generator.components.iam.TRUST_CONDITION_KEYS) ------
from generator.components.iam import TRUST_CONDITION_KEYS, TRUST_RULE  # noqa: E402
from generator.core.suppress import METADATA_KEY, suppression_id  # noqa: E402
from generator.lint.suppressions import resource_declarations  # noqa: E402

SOURCE_KEYS = {"aws:sourcearn": "source_arn", "aws:sourceaccount": "source_account"}


def service_trusts():
    """``(stack, logical id, service, condition keys (lower case), role resource)`` for every service trust."""
    for stack in registry.names():
        for logical_id, resource in load_template(stack)["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for statement in statements(resource["Properties"]["AssumeRolePolicyDocument"]):
                for service in as_list((statement.get("Principal") or {}).get("Service", [])):
                    keys = {k.lower() for block in (statement.get("Condition") or {}).values() for k in block}
                    yield stack, logical_id, service, keys, resource


def test_templates_trust_service_principals():
    assert {service for *_, service, _, _ in service_trusts()} >= {
        "codepipeline.amazonaws.com", "codebuild.amazonaws.com", "codedeploy.amazonaws.com",
        "events.amazonaws.com", "ecs-tasks.amazonaws.com", "elasticbeanstalk.amazonaws.com", "ec2.amazonaws.com"}


def test_every_trusted_service_principal_is_in_the_trust_table():
    unknown = {(stack, logical_id, service) for stack, logical_id, service, _, _ in service_trusts()
               if service not in TRUST_CONDITION_KEYS}
    assert not unknown, f"look these up and add them to TRUST_CONDITION_KEYS: {sorted(unknown)}"


def test_trust_conditions_are_present_exactly_where_the_table_says():
    for stack, logical_id, service, keys, _ in service_trusts():
        sends = TRUST_CONDITION_KEYS[service]
        for key, attribute in SOURCE_KEYS.items():
            if key in keys:
                assert getattr(sends, attribute), f"{stack}/{logical_id}: {service} does not send {key}"
        # every role asks for aws:SourceAccount unless it opts out, so it is there wherever it is sent
        assert ("aws:sourceaccount" in keys) == sends.source_account, f"{stack}/{logical_id}: {service} {keys}"


def test_a_trust_without_source_keys_carries_a_suppression_citing_the_service_doc():
    checked = 0
    for stack, logical_id, service, keys, resource in service_trusts():
        sends = TRUST_CONDITION_KEYS[service]
        declared = [item for item in resource_declarations(load_template(stack), resource)
                    if TRUST_RULE in item.get("least-privilege", [])]
        if keys & set(SOURCE_KEYS):
            assert not declared, f"{stack}/{logical_id}: conditioned trust needs no suppression"
            continue
        assert not sends.sends_any
        assert len(declared) == 1 and sends.doc in declared[0]["reason"], f"{stack}/{logical_id}: {declared}"
        checked += 1
    assert checked >= 4  # pipeline roles, Beanstalk service/lifecycle roles, the instance role


def test_every_table_entry_cites_an_aws_doc():
    for service, keys in TRUST_CONDITION_KEYS.items():
        assert service.endswith(".amazonaws.com") and keys.doc.startswith("https://docs.aws.amazon.com/"), service
        assert keys.note, f"{service}: say what the doc shows"


def test_role_drops_keys_the_service_does_not_send_and_records_why():
    from troposphere import Sub

    from generator.components.iam import Role, UnknownServicePrincipal

    class FakeStack:
        def __init__(self):
            self.resources = []

        def add(self, resource):
            self.resources.append(resource)
            return resource

        def on_finalize(self, hook):
            pass

    stack = FakeStack()
    role = Role(stack, "PipelineRole", "codepipeline.amazonaws.com", "pipeline",
                source_arn=Sub("arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:p"))
    rendered = stack.resources[0].to_dict()
    trust = rendered["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert "Condition" not in trust
    assert role.trust_suppression.least_privilege == (TRUST_RULE,)
    assert TRUST_CONDITION_KEYS["codepipeline.amazonaws.com"].doc in role.trust_suppression.reason
    declared = {suppression_id(s): s.as_metadata() for s in role.role.__dict__["_suppressions"]}
    assert [declared[i]["least-privilege"] for i in rendered["Metadata"][METADATA_KEY]["suppressions"]
            if "least-privilege" in declared[i]] == [[TRUST_RULE]]

    built = Role(stack, "BuildRole", "codebuild.amazonaws.com", "build", source_arn="arn:project")
    condition = stack.resources[1].to_dict()["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                         "ArnLike": {"aws:SourceArn": "arn:project"}}
    assert built.trust_suppression is None
    assert not [s for s in stack.resources[1].__dict__["_suppressions"] if s.least_privilege]

    with pytest.raises(UnknownServicePrincipal, match="TRUST_CONDITION_KEYS"):
        Role(stack, "GlueRole", "glue.amazonaws.com", "glue")


def test_role_refuses_source_keys_that_bypass_the_table_and_service_lists():
    from awacs.aws import Principal, StringEquals

    from generator.components.iam import Role

    class FakeStack:
        def add(self, resource):
            return resource

        def on_finalize(self, hook):
            pass

    with pytest.raises(ValueError, match="trust table decides"):
        Role(FakeStack(), "R", "codepipeline.amazonaws.com", "p",
             trust_conditions={StringEquals: {"aws:SourceAccount": "1"}})
    with pytest.raises(ValueError, match="one service principal"):
        Role(FakeStack(), "R", Principal("Service", ["ec2.amazonaws.com", "lambda.amazonaws.com"]), "p")


#: IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): the inline
#: policies of one role may total 10,240 characters (whitespace not counted); PutRolePolicy fails above it.
ROLE_INLINE_POLICY_LIMIT = 10_240


@pytest.mark.parametrize("stack", registry.names())
def test_inline_policies_of_each_role_stay_within_iams_size_limit(stack):
    """Measured on the template form, an upper bound: the ``${AWS::...}`` and import placeholders are
    longer than the partition, region, account and names they resolve to."""
    sizes = {}
    for resource in load_template(stack)["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        text = json.dumps(resource["Properties"]["PolicyDocument"], separators=(",", ":"))
        for role in resource["Properties"]["Roles"]:
            sizes[role["Ref"]] = sizes.get(role["Ref"], 0) + len(text)
    for role, size in sizes.items():
        assert size <= ROLE_INLINE_POLICY_LIMIT, f"{stack}/{role}: {size} characters of inline policy"
