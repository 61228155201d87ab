"""The Beanstalk application and environment stacks, asserted on the rendered templates."""
import json

import pytest

from generator import registry
from generator.stacks.beanstalk import BeanstalkAppStack, BeanstalkEnvStack
from generator.stacks.beanstalk_roles import BeanstalkEnvRolesStack
from tests.helpers import PARAMS, load_template, one, resources, statements

#: Every Beanstalk application of the model: (its application stack, its environment stack).
APPS = [(a, e) for a in registry.stacks() if issubclass(a, BeanstalkAppStack)
        for e in registry.stacks() if issubclass(e, BeanstalkEnvStack) and e.app is a.app]


@pytest.fixture(scope="module", params=APPS, ids=lambda pair: pair[0].app.name)
def stacks(request):
    return request.param


@pytest.fixture(scope="module")
def env_cls(stacks):
    return stacks[1]


@pytest.fixture(scope="module")
def env_template(env_cls):
    return load_template(env_cls.name)


@pytest.fixture(scope="module")
def roles_cls(env_cls):
    [found] = [r for r in registry.stacks(env_cls.model)
               if issubclass(r, BeanstalkEnvRolesStack) and r.app is env_cls.app]
    return found


@pytest.fixture(scope="module")
def roles_template(roles_cls):
    return load_template(roles_cls.name)


def _imported(stack_cls, key, env="${EnvironmentName}"):
    return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-%s" % (env, stack_cls.name, key)}}


def param_values(env_cls, env):
    return json.loads((PARAMS / env / f"{env_cls.name}.json").read_text())["Parameters"]


def test_one_app_and_one_env_stack_per_beanstalk_application():
    apps = [a for a in registry.stacks()[0].model.applications if a.kind == "beanstalk"]
    assert apps and [a.app for a, _ in APPS] == apps
    for app_cls, env_cls in APPS:
        assert (app_cls.name, env_cls.name) == (f"{app_cls.app.name}-app", f"{app_cls.app.name}-env")
        assert app_cls.environments == (app_cls.model.tools,)
        assert set(env_cls.environments) == set(env_cls.app.waves) | set(env_cls.app.extra_environments)


def test_the_roles_stack_deploys_before_the_environment_in_each_of_its_environments(env_cls, roles_cls):
    assert roles_cls.name == f"{env_cls.app.name}-env-roles"
    assert roles_cls.environments == env_cls.environments
    for env in env_cls.environments:
        assert roles_cls.name in registry.requires(env_cls, env)
        order = [s.name for s in registry.deploy_order(env, env_cls.model)]
        assert order.index(roles_cls.name) < order.index(env_cls.name)
    assert env_cls.name not in [r.split(":")[-1] for r in registry.requires(roles_cls)]


@pytest.fixture(scope="module")
def environment(env_template):
    return one(env_template, "AWS::ElasticBeanstalk::Environment")[1]["Properties"]


@pytest.fixture(scope="module")
def options(environment):
    return {(o["Namespace"], o["OptionName"]): o["Value"] for o in environment["OptionSettings"] if "Namespace" in o}


def test_environment_joins_the_shared_application(env_cls, env_template, environment):
    app_stack = f"{env_cls.app.name}-app"
    assert environment["ApplicationName"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${DeliveryEnvironment}-%s-ApplicationName" % app_stack}}
    assert env_template["Parameters"]["DeliveryEnvironment"]["Default"] == env_cls.model.tools
    assert environment["EnvironmentName"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s" % env_cls.app.name}
    assert environment["Tier"] == {"Name": "WebServer", "Type": "Standard"}


def test_platform_by_arn_only(env_cls, env_template, environment):
    params = env_template["Parameters"]
    assert "SolutionStackName" not in params and "SolutionStackName" not in environment
    assert environment["PlatformArn"] == {"Ref": "PlatformArn"}
    spec = params["PlatformArn"]
    assert "Default" not in spec, "a default platform version would rot; every parameter file names one"
    import re
    for env in env_cls.environments:
        arn = param_values(env_cls, env)["PlatformArn"]
        assert re.fullmatch(spec["AllowedPattern"], arn), arn
    assert not re.fullmatch(spec["AllowedPattern"], "64bit Amazon Linux 2023 v4.5.2 running Python 3.12")


def test_platform_change_is_called_out_in_review():
    from generator.review import diff, risks
    [entry] = diff.diff_parameters("beanstalk-env", {"PlatformArn": {"Type": "String"}}, {"PlatformArn": {"Type": "String"}},
                                   {"PlatformArn": "arn:a/4.5.2"}, {"PlatformArn": "arn:a/4.6.0"})
    assert entry.change == "value" and entry.risks == [risks.PARAMETER]
    assert "platform" in entry.notes[0] and "in place" in entry.notes[0]


def test_load_balanced_enhanced_health_managed_updates(options, roles_cls):
    assert options[("aws:elasticbeanstalk:environment", "EnvironmentType")] == "LoadBalanced"
    assert options[("aws:elasticbeanstalk:environment", "LoadBalancerType")] == "application"
    assert options[("aws:elasticbeanstalk:healthreporting:system", "SystemType")] == "enhanced"
    assert options[("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled")] == "true"
    assert options[("aws:elasticbeanstalk:managedactions", "PreferredStartTime")] == {"Ref": "ManagedUpdateWindow"}
    assert options[("aws:elasticbeanstalk:managedactions:platformupdate", "UpdateLevel")] == {"Ref": "ManagedUpdateLevel"}
    assert options[("aws:elasticbeanstalk:environment", "ServiceRole")] == _imported(roles_cls, "ServiceRoleArn")


def test_rolling_deployments_chosen_per_environment(env_cls, env_template, options):
    assert options[("aws:elasticbeanstalk:command", "DeploymentPolicy")] == {"Ref": "DeploymentPolicy"}
    assert env_template["Parameters"]["DeploymentPolicy"]["AllowedValues"] == ["Immutable", "RollingWithAdditionalBatch"]
    for env in env_cls.environments:  # each environment's file carries what the model sets for it
        expected = env_cls.model.parameter_values(env, env_cls.app).get("DeploymentPolicy")
        value = param_values(env_cls, env).get("DeploymentPolicy")
        assert value == (expected.value if expected else None), env
    protected = [e for e in env_cls.environments if env_cls.model.environment(e).protected]
    assert protected and all(param_values(env_cls, e)["DeploymentPolicy"] == "Immutable" for e in protected)


def test_health_check_capacity_and_imdsv2(options, roles_cls, roles_template):
    assert options[("aws:elasticbeanstalk:application", "Application Healthcheck URL")] == {"Ref": "HealthCheckPath"}
    assert options[("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath")] == {"Ref": "HealthCheckPath"}
    assert options[("aws:ec2:instances", "InstanceTypes")] == {"Ref": "InstanceType"}
    assert options[("aws:autoscaling:asg", "MinSize")] == {"Ref": "MinSize"}
    assert options[("aws:autoscaling:asg", "MaxSize")] == {"Ref": "MaxSize"}
    assert options[("aws:autoscaling:launchconfiguration", "DisableIMDSv1")] == "true"
    assert options[("aws:autoscaling:launchconfiguration", "IamInstanceProfile")] == _imported(
        roles_cls, "InstanceProfileName")
    profile = resources(roles_template, "AWS::IAM::InstanceProfile")["InstanceProfile"]
    assert profile["Properties"]["Roles"] == [{"Ref": "InstanceRole"}]
    assert roles_template["Outputs"]["InstanceProfileName"]["Value"] == {"Ref": "InstanceProfile"}


def test_logs_stream_to_cloudwatch_with_retention(options):
    assert options[("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs")] == "true"
    assert options[("aws:elasticbeanstalk:cloudwatch:logs", "RetentionInDays")] == {"Ref": "LogRetentionDays"}
    assert options[("aws:elasticbeanstalk:cloudwatch:logs", "DeleteOnTerminate")] == "false"
    assert options[("aws:elasticbeanstalk:cloudwatch:logs:health", "HealthStreamingEnabled")] == "true"


def test_vpc_parameters_are_typed(env_template, options):
    params = env_template["Parameters"]
    assert params["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    assert params["PrivateSubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    assert params["LoadBalancerSubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    assert "InstanceSubnets" not in params and "LoadBalancerSubnets" not in params
    assert options[("aws:ec2:vpc", "VPCId")] == {"Ref": "VpcId"}
    assert options[("aws:ec2:vpc", "Subnets")] == {"Fn::Join": [",", {"Ref": "PrivateSubnetIds"}]}
    assert options[("aws:ec2:vpc", "ELBSubnets")] == {"Fn::Join": [",", {"Ref": "LoadBalancerSubnetIds"}]}
    assert options[("aws:ec2:vpc", "AssociatePublicIpAddress")] == "false"
    # the shared ELBv2 vocabulary, mapped to Beanstalk's public | internal
    assert options[("aws:ec2:vpc", "ELBScheme")] == {"Fn::If": ["InternalLoadBalancer", "internal", "public"]}
    assert env_template["Conditions"]["InternalLoadBalancer"] == {
        "Fn::Equals": [{"Ref": "LoadBalancerScheme"}, "internal"]}
    assert set(params["LoadBalancerScheme"]["AllowedValues"]) == {"internal", "internet-facing"}


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
    # with a certificate, port 80 is not exposed (no redirect is expressible in OptionSettings)
    assert options[("aws:elbv2:listener:default", "ListenerEnabled")] == {"Fn::If": ["HasCertificate", "false", "true"]}


def test_rules_require_tls_for_public_and_min_not_above_max(env_template):
    rules = env_template["Rules"]
    public = rules["PublicLoadBalancerNeedsCertificate"]
    assert public["RuleCondition"] == {"Fn::Equals": [{"Ref": "LoadBalancerScheme"}, "internet-facing"]}
    assert public["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}
    assert rules["CertificateNeedsServiceHostName"]["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ServiceHostName"}, ""]}]}
    params = env_template["Parameters"]
    mins = [str(v) for v in params["MinSize"]["AllowedValues"]]
    maxes = [str(v) for v in params["MaxSize"]["AllowedValues"]]
    for low in mins:
        rule = rules.get(f"MaxSizeAtLeastMinSize{low}")
        too_small = [m for m in maxes if int(m) < int(low)]
        if not too_small:
            assert rule is None
            continue
        assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "MinSize"}, low]}
        assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Contains": [too_small, {"Ref": "MaxSize"}]}]}


def test_committed_environments_keep_their_own_rules(env_cls):
    """The last (protected) wave is public with a (placeholder) certificate; no environment serves public
    plain HTTP."""
    public = []
    for env in env_cls.environments:
        values = param_values(env_cls, env)
        if values["LoadBalancerScheme"] == "internet-facing":
            public.append(env)
            assert values["CertificateArn"] and values["ServiceHostName"], env
    assert public and param_values(env_cls, env_cls.app.waves[-1])["CertificateArn"]


def test_instance_role_is_scoped_not_web_tier(env_cls, roles_template):
    roles = resources(roles_template, "AWS::IAM::Role")
    assert "ManagedPolicyArns" not in roles["InstanceRole"]["Properties"]
    [policy] = [p for p in resources(roles_template, "AWS::IAM::Policy").values()
                if p["Properties"]["Roles"] == [{"Ref": "InstanceRole"}]]
    grants = statements(policy["Properties"]["PolicyDocument"])
    by_action = {a: s for s in grants for a in s["Action"]}
    text = json.dumps(grants)
    assert "*" not in [r for s in grants for r in s["Resource"]]
    assert "elasticbeanstalk-*" not in text  # only this account's and region's storage bucket
    put = by_action["s3:PutObject"]["Resource"]
    assert put == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::elasticbeanstalk-${AWS::Region}-${AWS::AccountId}"
                                "/resources/environments/logs/*"}], "instances write log bundles only"
    assert by_action["logs:PutLogEvents"]["Resource"][0]["Fn::Sub"][0].endswith(
        ":log-group:/aws/elasticbeanstalk/${Env}/*")
    assert by_action["logs:PutLogEvents"]["Resource"][0]["Fn::Sub"][1]["Env"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s" % env_cls.app.name}
    assert "elasticbeanstalk:PutInstanceStatistics" in by_action
    assert not any(a.startswith(("xray:", "ssm:", "bedrock:")) for a in by_action)


def test_service_role_is_scoped_to_its_environment(env_cls, env_template, roles_template):
    roles = resources(roles_template, "AWS::IAM::Role")
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"], "no AWS managed policy (admin-class or broad)"
    service = [p for p in resources(roles_template, "AWS::IAM::Policy").values()
               if p["Properties"]["Roles"] == [{"Ref": "ServiceRole"}]]
    grants = [s for p in service for s in statements(p["Properties"]["PolicyDocument"])]
    actions = {a for s in grants for a in s["Action"]}
    assert "elasticbeanstalk:UpdateEnvironment" in actions and "cloudformation:UpdateStack" in actions
    assert not any(a.endswith("*") for a in actions)
    assert not any(a.startswith(("rds:", "sqs:", "ecs:", "sns:")) for a in actions)
    [update] = [s for s in grants if "elasticbeanstalk:UpdateEnvironment" in s["Action"]]
    assert update["Resource"][0]["Fn::Sub"][0].endswith(":environment/${App}/${Env}")
    [passes] = [s for s in grants if "iam:PassRole" in s["Action"]]
    assert passes["Resource"] == [{"Fn::GetAtt": ["InstanceRole", "Arn"]}]
    assert passes["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    # The roles (and their grants) come from the roles stack, deployed first: none left in the environment's.
    assert not any(r["Type"].startswith("AWS::IAM::") for r in env_template["Resources"].values())
    assert set(roles_template["Resources"]) == {"InstanceRole", "InstanceRolePolicy", "InstanceProfile", "ServiceRole",
                                                "ServiceRolePolicy", "ServiceRoleUnscopedManagedPolicy"}
    assert roles["InstanceRole"]["Properties"]["RoleName"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-instance" % env_cls.app.name}
    assert roles["ServiceRole"]["Properties"]["RoleName"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-service" % env_cls.app.name}
    [service_trust] = roles["ServiceRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert service_trust["Principal"] == {"Service": "elasticbeanstalk.amazonaws.com"}
    assert service_trust["Condition"] == {"StringEquals": {"sts:ExternalId": "elasticbeanstalk"}}
    [instance_trust] = roles["InstanceRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert instance_trust["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_roles_stack_exports_the_roles_and_profile(roles_cls, roles_template):
    outputs = roles_template["Outputs"]
    assert set(outputs) == {"InstanceRoleArn", "InstanceProfileName", "ServiceRoleArn"}
    for key, output in outputs.items():
        assert output["Export"]["Name"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s" % (roles_cls.name, key)}
    assert outputs["InstanceRoleArn"]["Value"] == {"Fn::GetAtt": ["InstanceRole", "Arn"]}
    assert outputs["ServiceRoleArn"]["Value"] == {"Fn::GetAtt": ["ServiceRole", "Arn"]}
    # The grants name the application through the tools stack that owns it, as the environment does.
    assert "${ProjectName}-${DeliveryEnvironment}-%s-app-ApplicationName" % roles_cls.app.name in json.dumps(
        roles_template["Resources"])
    assert roles_template["Parameters"]["DeliveryEnvironment"]["Default"] == roles_cls.model.tools


def test_exports_name_endpoint_and_validation_contract(env_cls, env_template):
    outputs = env_template["Outputs"]
    assert outputs["EnvironmentName"]["Export"]["Name"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-EnvironmentName" % env_cls.name}
    assert outputs["EndpointHost"]["Value"] == {"Fn::GetAtt": ["Environment", "EndpointURL"]}
    for key in ("VpcId", "ValidationSubnetIds", "ValidationSecurityGroupId", "ServiceUrl"):
        assert outputs[key]["Export"]["Name"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s"
                                                               % (env_cls.name, key)}
    assert outputs["VpcId"]["Value"] == {"Ref": "VpcId"}
    assert outputs["ValidationSubnetIds"]["Value"] == {"Fn::Join": [",", {"Ref": "PrivateSubnetIds"}]}
    assert outputs["ValidationSecurityGroupId"]["Value"] == {"Fn::GetAtt": ["ValidationSecurityGroup", "GroupId"]}
    assert outputs["ServiceUrl"]["Value"] == {"Fn::If": [
        "HasCertificate", {"Fn::Sub": "https://${ServiceHostName}"},
        {"Fn::Sub": ["http://${Host}", {"Host": {"Fn::GetAtt": ["Environment", "EndpointURL"]}}]}]}
    group = resources(env_template, "AWS::EC2::SecurityGroup")["ValidationSecurityGroup"]["Properties"]
    assert group["VpcId"] == {"Ref": "VpcId"}
    # HTTP only inside the VPC; HTTPS anywhere: the load balancer, and S3, CloudWatch Logs and CodeBuild through NAT
    assert sorted((r["FromPort"], r["ToPort"], str(r["CidrIp"])) for r in group["SecurityGroupEgress"]) == [
        (80, 80, str({"Ref": "VpcCidr"})), (443, 443, "0.0.0.0/0")]
    assert "SecurityGroupIngress" not in group


def test_application_keeps_a_bounded_number_of_versions(stacks):
    app_cls = stacks[0]
    template = load_template(app_cls.name)
    app = one(template, "AWS::ElasticBeanstalk::Application")[1]["Properties"]
    name = "${ProjectName}-${EnvironmentName}-%s" % app_cls.app.name
    assert app["ApplicationName"] == {"Fn::Sub": name}
    assert template["Outputs"]["ApplicationName"]["Export"]["Name"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-ApplicationName" % app_cls.name}
    rule = app["ResourceLifecycleConfig"]["VersionLifecycleConfig"]["MaxCountRule"]
    assert rule == {"Enabled": True, "MaxCount": {"Ref": "VersionsKept"}, "DeleteSourceFromS3": False}
    [policy] = resources(template, "AWS::IAM::Policy").values()
    [grant] = statements(policy["Properties"]["PolicyDocument"])
    assert grant["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:elasticbeanstalk:${AWS::Region}:${AWS::AccountId}:"
                                             "applicationversion/%s/*" % name}]


def test_registry_environments_and_order(stacks):
    app, env = stacks
    [pipeline] = [s for s in registry.stacks(app.model) if getattr(s, "build_class", None) and s.part == "pipeline" and s.app is app.app]
    tools = app.model.tools
    assert app.environments == (tools,) and pipeline.environments == (tools,)
    for where in env.environments:  # derived from the imports of the rendered template
        assert f"{tools}:{app.name}" in registry.requires(env, where)
        assert "foundation" in registry.requires(env, where)
    assert env.requires == registry.requires(env)
    needs = set(registry.requires(pipeline))
    assert {"artifacts", app.name} <= needs
    assert {f"{wave}:{env.name}" for wave in app.app.waves} <= needs
    extra = set(env.environments) - set(app.app.waves)
    assert not {f"{e}:{env.name}" for e in extra} & needs, "the pipeline deploys its waves only"
    order = [cls.name for _, cls in registry.plan()]
    assert order.index(app.name) < order.index(env.name) < order.index(pipeline.name)


# -- deploy_grants: the CodePipeline ElasticBeanstalk deploy action for ONE environment ----------

def _grants(**roles):
    from troposphere import encode_to_dict

    from generator.components import beanstalk
    return [encode_to_dict(s) for s in beanstalk.deploy_grants("my-app", "my-env", **roles)]


def _sub(resource):
    return resource["Fn::Sub"] if isinstance(resource, dict) else resource


def test_deploy_grants_scope_beanstalk_calls_to_the_application_and_environment():
    grants = _grants()
    eb = [s for s in grants if any(a.startswith("elasticbeanstalk:") for a in s["Action"])]
    update = next(s for s in eb if "elasticbeanstalk:UpdateEnvironment" in s["Action"])
    assert update["Resource"] == [{"Fn::Sub": [
        "arn:${AWS::Partition}:elasticbeanstalk:${AWS::Region}:${AWS::AccountId}:environment/${App}/${Env}",
        {"App": "my-app", "Env": "my-env"}]}]
    create = next(s for s in eb if "elasticbeanstalk:CreateApplicationVersion" in s["Action"])
    assert [_sub(r)[0].rsplit(":", 1)[1] for r in create["Resource"]] == ["application/${App}",
                                                                          "applicationversion/${App}/*"]
    for statement in eb:
        if statement["Resource"] == ["*"]:
            assert statement["Action"] == ["elasticbeanstalk:CreateStorageLocation"]


def test_deploy_grants_hold_no_admin_class_access():
    grants = _grants(instance_role_arn="arn:role/i", service_role_arn="arn:role/s")
    for statement in grants:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert "*" not in action, action
            assert not action.startswith(("iam:Create", "iam:Put", "iam:Attach")), action
        if statement["Resource"] == ["*"]:
            assert all(a.split(":")[1].startswith("Describe") or a == "elasticbeanstalk:CreateStorageLocation"
                       for a in statement["Action"]), statement
            assert statement["Sid"]  # the reason travels with the statement
    text = json.dumps(grants)
    assert "AdministratorAccess" not in text and "ManagedPolicyArns" not in text


def test_deploy_grants_scope_managed_resources_and_pass_only_named_roles():
    grants = _grants(instance_role_arn="arn:role/i", service_role_arn="arn:role/s")
    by_action = {}
    for statement in grants:
        for action in statement["Action"]:
            by_action.setdefault(action, []).append(statement)
    [update] = by_action["cloudformation:UpdateStack"]
    assert _sub(update["Resource"][0]).endswith(":stack/awseb-*/*")
    assert update["Condition"] == {"StringEquals": {"aws:ResourceTag/elasticbeanstalk:environment-name": "my-env"}}
    [terminate] = by_action["ec2:TerminateInstances"]
    assert terminate["Condition"] == update["Condition"]
    [suspend] = by_action["autoscaling:SuspendProcesses"]
    assert _sub(suspend["Resource"][0]).endswith(":autoScalingGroup:*:autoScalingGroupName/awseb-*")
    assert "autoscaling:ResumeProcesses" in suspend["Action"]
    [run] = by_action["ec2:RunInstances"]
    assert list(run["Condition"]) == ["ArnLike"]  # launch templates only
    buckets = {_sub(r) for s in by_action["s3:PutObject"] for r in s["Resource"]}
    assert buckets == {"arn:${AWS::Partition}:s3:::elasticbeanstalk-${AWS::Region}-${AWS::AccountId}/*"}
    passes = by_action["iam:PassRole"]
    assert sorted((p["Resource"][0], p["Condition"]["StringEquals"]["iam:PassedToService"]) for p in passes) == [
        ("arn:role/i", "ec2.amazonaws.com"), ("arn:role/s", "elasticbeanstalk.amazonaws.com")]
    assert "iam:PassRole" not in {a for s in _grants() for a in s["Action"]}


def test_deploy_grants_unscoped_actions_have_no_resource_level_permission():
    from tests.test_iam_policies import UNSCOPED_ALLOWED, resource_types
    for statement in _grants():
        for action in statement["Action"]:
            assert resource_types(action) is not None, f"unknown IAM action {action}"
            if statement["Resource"] == ["*"]:
                assert resource_types(action) == [], action
                assert action in UNSCOPED_ALLOWED, f"{action}: add it to the reviewed allow-list"


def test_environment_deploy_grants_read_the_waves_exports(stacks):
    from troposphere import encode_to_dict

    from generator.stacks.beanstalk import environment_deploy_grants
    app, env = stacks
    for wave in app.app.waves:
        text = json.dumps([encode_to_dict(s) for s in environment_deploy_grants(env.APP_EXPORTS, env.EXPORTS,
                                                                                env.ROLES_EXPORTS, wave)])
        assert "${ProjectName}-%s-%s-EnvironmentName" % (wave, env.name) in text
        for key in ("InstanceRoleArn", "ServiceRoleArn"):
            assert "${ProjectName}-%s-%s-%s" % (wave, env.ROLES_EXPORTS.stack, key) in text
        assert "${ProjectName}-${EnvironmentName}-%s-ApplicationName" % app.name in text
        for other in env.model.environment_names:
            if other != wave:
                assert "${ProjectName}-%s-" % other not in text, f"{wave}'s grants reach {other}"


def test_platforms_command_lists_ready_versions_newest_first():
    import boto3
    from botocore.stub import Stubber

    from generator import platforms
    client = boto3.client("elasticbeanstalk", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:elasticbeanstalk:eu-west-1::platform/Python 3.12 running on 64bit Amazon Linux 2023/"
    filters = [{"Type": "PlatformBranchName", "Operator": "=", "Values": [platforms.DEFAULT_BRANCH]},
               {"Type": "PlatformStatus", "Operator": "=", "Values": ["Ready"]}]
    with Stubber(client) as stub:
        stub.add_response("list_platform_versions", {
            "PlatformSummaryList": [{"PlatformArn": arn + "4.5.2", "PlatformVersion": "4.5.2"}], "NextToken": "t"},
            {"Filters": filters})
        stub.add_response("list_platform_versions", {
            "PlatformSummaryList": [{"PlatformArn": arn + "4.10.0", "PlatformVersion": "4.10.0"}]},
            {"Filters": filters, "NextToken": "t"})
        rows = platforms.current(client)
    assert [r[0] for r in rows] == [arn + "4.10.0", arn + "4.5.2"]
    import re
    pattern = load_template(APPS[0][1].name)["Parameters"]["PlatformArn"]["AllowedPattern"]
    assert all(re.fullmatch(pattern, r[0]) for r in rows)


def test_unscoped_grants_carry_the_reviewed_cfripper_suppression(roles_template):
    from generator.components.iam import UNSCOPED_POLICY_SUPPRESSION as UNSCOPED_REVIEWED
    # a managed policy of this role only: IAM counts it apart from the role's inline aggregate (budget)
    policy = resources(roles_template, "AWS::IAM::ManagedPolicy")["ServiceRoleUnscopedManagedPolicy"]
    assert policy["Properties"]["Roles"] == [{"Ref": "ServiceRole"}]
    from generator.lint.suppressions import resource_declarations
    entries = resource_declarations(roles_template, policy)
    assert UNSCOPED_REVIEWED.as_metadata() in entries and UNSCOPED_REVIEWED.cfripper == ("WildcardResourceRule",)
    from tests.test_iam_policies import resource_types
    for statement in statements(policy["Properties"]["PolicyDocument"]):
        assert statement["Resource"] == ["*"]
        assert all(resource_types(a) == [] for a in statement["Action"])
