"""Every IAM policy in every template: no `*` action, no service-wide wildcard, and `Resource: "*"`
only for actions on the allow-list below, each of which IAM gives no resource-level permission.

IAM's action data comes from cfn-lint (``data/AdditionalSpecs/Policies.json``, the service
authorization reference): an allow-listed action must exist and support no resource type.
"""
import json
import os

import cfnlint
import pytest

from generator import registry
from tests.helpers import as_list, load_template, statements

#: Actions allowed with ``Resource: "*"``, each with the reason a reviewer accepts.
UNSCOPED_ALLOWED = {
    "ecr:GetAuthorizationToken": "returns a registry login token; IAM defines no resource for it",
    "ecs:DescribeTaskDefinition": "the rolling ECS deploy action reads the service's current task definition "
                                   "to register the next revision; IAM defines no resource for it",
}
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
    "ec2:DescribeAccountAttributes", "ec2:DescribeAvailabilityZones",
    "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTags",
)})

#: AWS managed policies a role may attach, each with the reason (AWS documents them as the way).
MANAGED_POLICIES_ALLOWED = {
    "AWSElasticBeanstalkEnhancedHealth": "Beanstalk service role policy AWS documents for enhanced health",
    "AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy":
        "Beanstalk service role policy AWS documents for managed platform updates",
    "AdministratorAccess-AWSElasticBeanstalk":
        "the CodePipeline ElasticBeanstalk deploy action updates the environment's stack, instances and "
        "load balancer with the caller's permissions; only the deploy role the pipeline assumes has it",
    "AWSCodeDeployRoleForECS": "CodeDeploy service role policy AWS documents for ECS blue/green",
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
                for action in actions:
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
                text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
                path_and_name = text.split(":policy", 1)[1]
                name = path_and_name.rsplit("/", 1)[1]
                assert name in known, f"{stack}/{logical_id}: {name} is not an AWS managed policy"
                assert path_and_name == known[name]["Path"] + name, \
                    f"{stack}/{logical_id}: {text} should be ...:policy{known[name]['Path']}{name}"
                checked += 1
    assert checked >= 4


def test_allow_list_holds_only_actions_without_resource_level_permissions():
    for action, reason in UNSCOPED_ALLOWED.items():
        assert len(reason) >= 20, f"{action}: give a reason"
        assert resource_types(action) == [], f"{action} supports resource types {resource_types(action)}"
    assert all(len(reason) >= 20 for reason in MANAGED_POLICIES_ALLOWED.values())


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
