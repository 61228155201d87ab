"""The Beanstalk application and environment stacks, asserted on the rendered templates."""
import json

import pytest

from generator import registry
from tests.helpers import PARAMS, load_template, one, resources, statements


@pytest.fixture(scope="module")
def env_template():
    return load_template("beanstalk-env")


@pytest.fixture(scope="module")
def environment(env_template):
    return one(env_template, "AWS::ElasticBeanstalk::Environment")[1]["Properties"]


@pytest.fixture(scope="module")
def options(environment):
    return {(o["Namespace"], o["OptionName"]): o["Value"] for o in environment["OptionSettings"] if "Namespace" in o}


def test_environment_joins_the_shared_application(environment):
    assert environment["ApplicationName"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${DeliveryEnvironment}-beanstalk-app-ApplicationName"}}
    assert environment["EnvironmentName"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-web"}
    assert environment["Tier"] == {"Name": "WebServer", "Type": "Standard"}


def test_platform_by_solution_stack_or_arn(env_template, environment):
    params = env_template["Parameters"]
    assert "Amazon Linux 2023" in params["SolutionStackName"]["Default"]
    assert params["PlatformArn"]["Default"] == ""
    condition = environment["SolutionStackName"]["Fn::If"][0]
    assert env_template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "PlatformArn"}, ""]}
    assert environment["PlatformArn"]["Fn::If"] == [condition, {"Ref": "AWS::NoValue"}, {"Ref": "PlatformArn"}]


def test_load_balanced_enhanced_health_managed_updates(options):
    assert options[("aws:elasticbeanstalk:environment", "EnvironmentType")] == "LoadBalanced"
    assert options[("aws:elasticbeanstalk:environment", "LoadBalancerType")] == "application"
    assert options[("aws:elasticbeanstalk:healthreporting:system", "SystemType")] == "enhanced"
    assert options[("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled")] == "true"
    assert options[("aws:elasticbeanstalk:managedactions", "PreferredStartTime")] == {"Ref": "ManagedUpdateWindow"}
    assert options[("aws:elasticbeanstalk:managedactions:platformupdate", "UpdateLevel")] == {"Ref": "ManagedUpdateLevel"}
    assert options[("aws:elasticbeanstalk:environment", "ServiceRole")] == {"Fn::GetAtt": ["ServiceRole", "Arn"]}


def test_rolling_deployments_chosen_per_environment(env_template, options):
    assert options[("aws:elasticbeanstalk:command", "DeploymentPolicy")] == {"Ref": "DeploymentPolicy"}
    assert env_template["Parameters"]["DeploymentPolicy"]["AllowedValues"] == ["Immutable", "RollingWithAdditionalBatch"]
    policy = {env: json.loads((PARAMS / env / "beanstalk-env.json").read_text())["Parameters"]["DeploymentPolicy"]
              for env in ("staging", "prod")}
    assert policy["prod"] == "Immutable"


def test_health_check_capacity_and_imdsv2(options):
    assert options[("aws:elasticbeanstalk:application", "Application Healthcheck URL")] == {"Ref": "HealthCheckPath"}
    assert options[("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath")] == {"Ref": "HealthCheckPath"}
    assert options[("aws:ec2:instances", "InstanceTypes")] == {"Ref": "InstanceType"}
    assert options[("aws:autoscaling:asg", "MinSize")] == {"Ref": "MinSize"}
    assert options[("aws:autoscaling:asg", "MaxSize")] == {"Ref": "MaxSize"}
    assert options[("aws:autoscaling:launchconfiguration", "DisableIMDSv1")] == "true"
    assert options[("aws:autoscaling:launchconfiguration", "IamInstanceProfile")] == {"Ref": "InstanceProfile"}


def test_logs_stream_to_cloudwatch_with_retention(options):
    assert options[("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs")] == "true"
    assert options[("aws:elasticbeanstalk:cloudwatch:logs", "RetentionInDays")] == {"Ref": "LogRetentionDays"}
    assert options[("aws:elasticbeanstalk:cloudwatch:logs", "DeleteOnTerminate")] == "false"
    assert options[("aws:elasticbeanstalk:cloudwatch:logs:health", "HealthStreamingEnabled")] == "true"


def test_vpc_parameters_are_typed(env_template, options):
    params = env_template["Parameters"]
    assert params["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    assert params["InstanceSubnets"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    assert params["LoadBalancerSubnets"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    assert options[("aws:ec2:vpc", "VPCId")] == {"Ref": "VpcId"}
    assert options[("aws:ec2:vpc", "Subnets")] == {"Fn::Join": [",", {"Ref": "InstanceSubnets"}]}
    assert options[("aws:ec2:vpc", "ELBSubnets")] == {"Fn::Join": [",", {"Ref": "LoadBalancerSubnets"}]}
    assert options[("aws:ec2:vpc", "AssociatePublicIpAddress")] == "false"


def test_load_balancer_logs_and_optional_https(env_template, environment, options):
    assert options[("aws:elbv2:loadbalancer", "AccessLogsS3Enabled")] == "true"
    assert options[("aws:elbv2:loadbalancer", "AccessLogsS3Bucket")] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-AccessLogBucketName"}}
    https = [o["Fn::If"] for o in environment["OptionSettings"] if "Fn::If" in o]
    assert {c for c, _, _ in https} == {"HasCertificate"}
    settings = {o["OptionName"]: o["Value"] for _, o, none in https if o["Namespace"] == "aws:elbv2:listener:443"}
    assert settings["Protocol"] == "HTTPS" and settings["SSLCertificateArns"] == {"Ref": "CertificateArn"}
    assert settings["SSLPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert env_template["Conditions"]["HasCertificate"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}


def test_roles_use_only_the_documented_managed_policies(env_template):
    roles = resources(env_template, "AWS::IAM::Role")
    def managed(role):
        return sorted(a["Fn::Sub"].rsplit("/", 1)[1] for a in roles[role]["Properties"]["ManagedPolicyArns"])
    assert managed("InstanceRole") == ["AWSElasticBeanstalkWebTier"]
    assert managed("ServiceRole") == ["AWSElasticBeanstalkEnhancedHealth",
                                      "AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy"]
    for role in roles.values():
        for arn in role["Properties"]["ManagedPolicyArns"]:
            assert arn["Fn::Sub"].startswith("arn:${AWS::Partition}:iam::aws:policy/")
    [service_trust] = roles["ServiceRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert service_trust["Principal"] == {"Service": "elasticbeanstalk.amazonaws.com"}
    assert service_trust["Condition"] == {"StringEquals": {"sts:ExternalId": "elasticbeanstalk"}}
    [instance_trust] = roles["InstanceRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert instance_trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert resources(env_template, "AWS::IAM::Policy") == {}, "no inline grants beyond the managed policies"


def test_exports_name_and_endpoint(env_template):
    outputs = env_template["Outputs"]
    assert outputs["EnvironmentName"]["Export"]["Name"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-beanstalk-env-EnvironmentName"}
    assert outputs["EndpointHost"]["Value"] == {"Fn::GetAtt": ["Environment", "EndpointURL"]}


def test_application_keeps_a_bounded_number_of_versions():
    template = load_template("beanstalk-app")
    app = one(template, "AWS::ElasticBeanstalk::Application")[1]["Properties"]
    assert app["ApplicationName"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-app"}
    rule = app["ResourceLifecycleConfig"]["VersionLifecycleConfig"]["MaxCountRule"]
    assert rule == {"Enabled": True, "MaxCount": {"Ref": "VersionsKept"}, "DeleteSourceFromS3": False}
    [policy] = resources(template, "AWS::IAM::Policy").values()
    [grant] = statements(policy["Properties"]["PolicyDocument"])
    assert grant["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:elasticbeanstalk:${AWS::Region}:${AWS::AccountId}:"
                                             "applicationversion/${ProjectName}-${EnvironmentName}-app/*"}]


def test_registry_environments_and_order():
    app, env, pipeline = (registry.get(n) for n in ("beanstalk-app", "beanstalk-env", "beanstalk-pipeline"))
    assert app.environments == ("tools",) and pipeline.environments == ("tools",)
    assert set(env.environments) == {"dev", "staging", "prod"}
    assert "tools:beanstalk-app" in env.requires
    assert {"artifacts", "beanstalk-app", "staging:beanstalk-env", "prod:beanstalk-env"} <= set(pipeline.requires)
    names = registry.names()
    assert names.index("beanstalk-app") < names.index("beanstalk-env") < names.index("beanstalk-pipeline")
