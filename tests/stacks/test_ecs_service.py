"""The ecs-service stacks (``ecs-ingress`` and ``ecs-service``): blue/green through CodeDeploy, Fargate
hardening, least-privilege network and IAM."""
import json
import re

import pytest

from generator import paramgen, registry
from generator.components.codedeploy import ECS_DEPLOYMENT_CONFIGS
from generator.components.ecs import FARGATE_MEMORY
from generator.stacks.ecs_service import EcsServiceStack
from tests.helpers import load_template, one, resources, statements, walk

#: The service stack of every ``ecs-bluegreen`` application of the model.
SERVICES = [s for s in registry.stacks() if issubclass(s, EcsServiceStack)]


@pytest.fixture(scope="module", params=SERVICES, ids=lambda s: s.name)
def svc(request):
    return request.param


@pytest.fixture(scope="module")
def template(svc):
    return load_template(svc.name)


@pytest.fixture(scope="module")
def ingress(svc):
    return load_template(svc.INGRESS.stack)


@pytest.fixture(scope="module")
def imported(svc):
    def value(key, stack=svc.INGRESS.stack):
        """A value of this environment's ingress stack, as the service stack imports it."""
        return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s" % (stack, key)}}
    return value


def effective(svc, env):
    """Every parameter of the service and its ingress stack in ``env``: the file's value, else the default."""
    values = paramgen.parameter_values(registry.get(svc.INGRESS.stack), env)
    values.update(paramgen.parameter_values(svc, env))
    return values


def test_every_bluegreen_application_has_its_service_stack():
    apps = [a for a in registry.stacks()[0].model.applications if a.kind == "ecs-bluegreen"]
    assert apps and [s.app for s in SERVICES] == apps
    assert all(s.name == f"{s.app.name}-service" and s.INGRESS.stack == f"{s.app.name}-ingress" for s in SERVICES)


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


def test_service_uses_codedeploy_controller_in_private_subnets(template, imported):
    _, service = one(template, "AWS::ECS::Service")
    p = service["Properties"]
    assert p["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    assert p["LaunchType"] == "FARGATE"
    vpc = p["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert vpc["AssignPublicIp"] == "DISABLED"
    assert vpc["Subnets"] == {"Fn::Split": [",", imported("TaskSubnetIds")]}
    assert vpc["SecurityGroups"] == [imported("TaskSecurityGroupId")]
    assert p["LoadBalancers"] == [{"ContainerName": "app", "ContainerPort": 8080,
                                   "TargetGroupArn": imported("BlueTargetGroupArn")}]


def parameters_in(value) -> set:
    return {v["Ref"] for v in walk(value) if isinstance(v, dict) and isinstance(v.get("Ref"), str)} | {
        name for v in walk(value) if isinstance(v, dict) and "Fn::Sub" in v
        for name in re.findall(r"\$\{([A-Za-z0-9]+)\}", v["Fn::Sub"] if isinstance(v["Fn::Sub"], str)
                               else v["Fn::Sub"][0])}


def test_no_stack_update_ever_changes_the_codedeploy_service(template, svc):
    """CloudFormation sends every property in UpdateService, which ECS rejects for CODE_DEPLOY services
    (cloudformation-coverage-roadmap #1529): only names (which replace the service) and the network may vary."""
    _, service = one(template, "AWS::ECS::Service")
    p = service["Properties"]
    # The task definition by family (ECS runs the latest ACTIVE revision), never the stack's revision ARN.
    assert p["TaskDefinition"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s" % svc.app.name}
    assert p["TaskDefinition"] == props(template, "TaskDefinition")["Family"]
    assert "DesiredCount" not in p, "Application Auto Scaling owns the count"
    naming = {"ProjectName", "EnvironmentName"}
    varying = parameters_in({k: v for k, v in p.items() if k not in ("NetworkConfiguration", "Tags")})
    assert varying <= naming | set(template["Resources"]) | {"AWS::Region", "AWS::AccountId", "AWS::Partition"}
    assert not (varying & set(template["Parameters"])) - naming
    assert not {"DesiredCount", "ContainerName", "ContainerPort"} & set(template["Parameters"])


def test_service_waits_for_its_task_definition_and_the_execution_roles_policies(template, svc):
    """The listeners it registers behind are in ecs-ingress, which the service stack requires (deployed first)."""
    from generator import registry
    _, service = one(template, "AWS::ECS::Service")
    assert set(service["DependsOn"]) == {"TaskDefinition", "TaskExecutionRolePolicy", "TaskExecutionRoleUnscopedPolicy"}
    assert set(service["DependsOn"]) <= set(template["Resources"])
    for env in svc.environments:
        assert svc.INGRESS.stack in registry.requires(svc, env)


def test_deployment_group_is_blue_green_with_both_target_groups_and_listeners(template, imported):
    _, group = one(template, "AWS::CodeDeploy::DeploymentGroup")
    p = group["Properties"]
    assert p["DeploymentStyle"] == {"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"}
    [pair] = p["LoadBalancerInfo"]["TargetGroupPairInfoList"]
    assert pair["TargetGroups"] == [{"Name": imported("BlueTargetGroupName")}, {"Name": imported("GreenTargetGroupName")}]
    assert pair["ProdTrafficRoute"] == {"ListenerArns": [imported("ProductionListenerArn")]}
    assert pair["TestTrafficRoute"] == {"ListenerArns": [imported("TestListenerArn")]}
    assert p["ECSServices"] == [{"ClusterName": {"Ref": "Cluster"}, "ServiceName": {"Fn::GetAtt": ["Service", "Name"]}}]
    assert p["DeploymentConfigName"] == {"Ref": "DeploymentConfigName"}
    termination = p["BlueGreenDeploymentConfiguration"]["TerminateBlueInstancesOnDeploymentSuccess"]
    assert termination == {"Action": "TERMINATE", "TerminationWaitTimeInMinutes": {"Ref": "TerminationWaitMinutes"}}
    assert one(template, "AWS::CodeDeploy::Application")[1]["Properties"]["ComputePlatform"] == "ECS"


def test_deployment_config_parameter_offers_canary_linear_and_all_at_once(template):
    allowed = template["Parameters"]["DeploymentConfigName"]["AllowedValues"]
    assert allowed == ECS_DEPLOYMENT_CONFIGS
    assert any("Canary" in a for a in allowed) and any("Linear" in a for a in allowed)
    assert "CodeDeployDefault.ECSAllAtOnce" in allowed


def test_rollback_on_failure_and_alarm_with_5xx_and_unhealthy_host_alarms_attached(template, imported):
    p = one(template, "AWS::CodeDeploy::DeploymentGroup")[1]["Properties"]
    assert p["AutoRollbackConfiguration"] == {"Enabled": True,
                                              "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}
    assert p["AlarmConfiguration"]["Enabled"] is True
    attached = {a["Name"]["Ref"] for a in p["AlarmConfiguration"]["Alarms"]}
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert attached == set(alarms) and len(attached) == 3
    metrics = {alarms[a]["Properties"]["MetricName"] for a in attached}
    assert metrics == {"HTTPCode_Target_5XX_Count", "UnHealthyHostCount"}
    unhealthy_groups = [
        d["Value"]
        for a in sorted(attached) if alarms[a]["Properties"]["MetricName"] == "UnHealthyHostCount"
        for d in alarms[a]["Properties"]["Dimensions"] if d["Name"] == "TargetGroup"
    ]
    assert unhealthy_groups == [imported("BlueTargetGroupFullName"), imported("GreenTargetGroupFullName")]
    for alarm in alarms.values():
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
        assert alarm["Properties"]["AlarmActions"] == [
            {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-NotificationsTopicArn"}}]


def test_task_role_is_not_execution_role_and_has_no_permissions(template):
    p = one(template, "AWS::ECS::TaskDefinition")[1]["Properties"]
    assert p["ExecutionRoleArn"] == {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]}
    assert p["TaskRoleArn"] == {"Fn::GetAtt": ["TaskRole", "Arn"]}
    assert p["ExecutionRoleArn"] != p["TaskRoleArn"]
    policies = resources(template, "AWS::IAM::Policy")
    assert not [k for k, v in policies.items() if {"Ref": "TaskRole"} in v["Properties"]["Roles"]]
    roles = resources(template, "AWS::IAM::Role")
    for role in ("TaskRole", "TaskExecutionRole"):
        [trust] = statements(roles[role]["Properties"]["AssumeRolePolicyDocument"])
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_execution_role_pulls_only_the_tools_repository_and_writes_only_its_log_group(template, svc):
    policy = props(template, "TaskExecutionRolePolicy")
    found = {tuple(s["Action"]): s["Resource"] for s in statements(policy["PolicyDocument"])}
    repository = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-ecr-RepositoryArn"
                                                 % (svc.model.tools, svc.app.name)}}
    assert found[("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")] == [repository]
    assert found[("logs:CreateLogStream", "logs:PutLogEvents")][0] == {"Fn::Sub": [
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Name}",
        {"Name": {"Ref": "ContainerLogGroup"}}]}
    unscoped = statements(props(template, "TaskExecutionRoleUnscopedPolicy")["PolicyDocument"])
    assert [s["Action"] for s in unscoped] == [["ecr:GetAuthorizationToken"]]


def test_task_definition_is_fargate_hardened(template, svc):
    p = one(template, "AWS::ECS::TaskDefinition")[1]["Properties"]
    assert p["RequiresCompatibilities"] == ["FARGATE"] and p["NetworkMode"] == "awsvpc"
    assert p["Cpu"] == {"Ref": "TaskCpu"} and p["Memory"] == {"Ref": "TaskMemory"}
    [container] = p["ContainerDefinitions"]
    assert container["Privileged"] is False
    assert container["ReadonlyRootFilesystem"] == {"Fn::If": ["ReadonlyRootFilesystemEnabled", True, False]}
    assert container["LinuxParameters"] == {"Capabilities": {"Drop": ["ALL"]}}
    assert container["MountPoints"]["Fn::If"][1] == [{"SourceVolume": "tmp", "ContainerPath": "/tmp", "ReadOnly": False}]
    assert p["Volumes"]["Fn::If"][1] == [{"Name": "tmp"}]
    assert container["Image"] == {"Fn::Sub": ["${Repository}:${ImageTag}", {"Repository": {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-ecr-RepositoryUri" % (svc.model.tools, svc.app.name)}}}]}
    assert f"{svc.model.tools}:{svc.app.name}-ecr" in registry.requires(svc)
    log = container["LogConfiguration"]
    assert log["LogDriver"] == "awslogs" and log["Options"]["awslogs-group"] == {"Ref": "ContainerLogGroup"}
    assert template["Parameters"]["ReadonlyRootFilesystem"]["Default"] == "true"
    group = template["Resources"]["ContainerLogGroup"]
    assert group["Properties"]["KmsKeyId"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["DeletionPolicy"] == "Retain" and group["UpdateReplacePolicy"] == "Retain"


def test_cpu_memory_rules_accept_exactly_fargates_combinations(template):
    assert template["Parameters"]["TaskCpu"]["AllowedValues"] == sorted(FARGATE_MEMORY)
    rules = {k: v for k, v in template["Rules"].items() if k.startswith("FargateMemory")}
    assert len(rules) == len(FARGATE_MEMORY)
    for cpu, sizes in FARGATE_MEMORY.items():
        rule = rules[f"FargateMemoryFor{cpu}Cpu"]
        assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "TaskCpu"}, str(cpu)]}
        [assertion] = rule["Assertions"]
        assert assertion["Assert"] == {"Fn::Contains": [[str(s) for s in sizes], {"Ref": "TaskMemory"}]}
    assert FARGATE_MEMORY[256] == [512, 1024, 2048] and FARGATE_MEMORY[4096][-1] == 30720


def test_task_security_group_only_accepts_the_load_balancer_group(ingress):
    template = ingress
    tasks = props(template, "TaskSecurityGroup")
    [rule] = tasks["SecurityGroupIngress"]
    assert rule["SourceSecurityGroupId"] == {"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}
    assert "CidrIp" not in rule and "CidrIpv6" not in rule
    assert rule["FromPort"] == rule["ToPort"] == 8080
    standalone = resources(template, "AWS::EC2::SecurityGroupIngress")
    assert not [r for r in standalone.values() if r["Properties"]["GroupId"] == {"Fn::GetAtt": ["TaskSecurityGroup", "GroupId"]}]


def test_load_balancer_group_accepts_only_listener_ports_from_the_cidr_parameter(ingress):
    template = ingress
    p = props(template, "LoadBalancerSecurityGroup")
    standalone = {k: v for k, v in resources(template, "AWS::EC2::SecurityGroupIngress").items()
                  if "SourceSecurityGroupId" not in v["Properties"]}
    assert all(r["Properties"]["GroupId"] == {"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}
               and r["Condition"] == "HasCertificate" for r in standalone.values())
    rules = p["SecurityGroupIngress"] + [r["Properties"] for r in standalone.values()]
    assert {json.dumps(r["FromPort"], sort_keys=True) for r in rules} == {
        json.dumps({"Fn::If": ["HasCertificate", 443, 80]}, sort_keys=True),
        json.dumps({"Ref": "TestListenerPort"}), "80"}
    for rule in rules:
        assert rule["FromPort"] == rule["ToPort"]
        expected = "TestListenerCidr" if rule["FromPort"] == {"Ref": "TestListenerPort"} else "AllowedIngressCidr"
        assert rule["CidrIp"] == {"Ref": expected}
    listeners = {props(template, name)["Port"].__repr__() for name in ("ProductionListener", "TestListener")}
    assert listeners == {repr({"Fn::If": ["HasCertificate", 443, 80]}), repr({"Ref": "TestListenerPort"})}
    # No default allow-all egress: the only real egress is to the tasks' container port.
    [placeholder] = p["SecurityGroupEgress"]
    assert placeholder["CidrIp"] == "255.255.255.255/32"
    [egress] = resources(template, "AWS::EC2::SecurityGroupEgress").values()
    assert egress["Properties"]["GroupId"] == {"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}
    assert egress["Properties"]["DestinationSecurityGroupId"] == {"Fn::GetAtt": ["TaskSecurityGroup", "GroupId"]}


def test_load_balancer_attributes(ingress):
    template = ingress
    _, lb = one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {a["Key"]: a["Value"] for a in lb["Properties"]["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-AccessLogBucketName"}}
    assert attributes["deletion_protection.enabled"] == {"Ref": "DeletionProtection"}
    assert lb["Properties"]["Scheme"] == {"Ref": "LoadBalancerScheme"}


def test_foundation_bucket_accepts_alb_logs_where_the_alb_writes_them(ingress):
    template = ingress
    _, lb = one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    prefix = {a["Key"]: a["Value"] for a in lb["Properties"]["LoadBalancerAttributes"]}["access_logs.s3.prefix"]
    foundation = load_template("foundation")
    [policy] = resources(foundation, "AWS::S3::BucketPolicy").values()
    # the Region's ELB account or the log-delivery service principal (tests/stacks/test_foundation.py)
    [statement] = [s for s in statements(policy["Properties"]["PolicyDocument"])
                   if {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"} in (s["Principal"] if isinstance(s["Principal"], dict) else {}).get("Fn::If", [])]
    assert statement["Effect"] == "Allow" and statement["Action"] == ["s3:PutObject"]
    assert statement["Resource"][0]["Fn::Sub"][0] == "${Arn}/" + prefix + "/AWSLogs/${AWS::AccountId}/*"


def test_https_when_a_certificate_is_given_and_port_80_only_redirects(ingress):
    template = ingress
    for name in ("ProductionListener", "TestListener"):
        p = props(template, name)
        assert p["Protocol"] == {"Fn::If": ["HasCertificate", "HTTPS", "HTTP"]}
        assert p["SslPolicy"]["Fn::If"][1].startswith("ELBSecurityPolicy-TLS13")
    redirect = template["Resources"]["HttpRedirectListener"]
    assert redirect["Condition"] == "HasCertificate"
    [action] = redirect["Properties"]["DefaultActions"]
    assert action["Type"] == "redirect" and action["RedirectConfig"]["Protocol"] == "HTTPS"


def test_target_groups_are_ip_targets_with_health_checks(ingress):
    template = ingress
    groups = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert set(groups) == {"BlueTargetGroup", "GreenTargetGroup"}
    for group in groups.values():
        p = group["Properties"]
        assert p["TargetType"] == "ip" and p["HealthCheckEnabled"] is True
        assert p["HealthCheckPath"] == {"Ref": "HealthCheckPath"}


def test_cpu_target_tracking(template):
    _, target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["ScalableDimension"] == "ecs:service:DesiredCount"
    _, policy = one(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert config["TargetValue"] == {"Ref": "CpuTargetPercent"}


def test_cluster_has_container_insights(template):
    _, cluster = one(template, "AWS::ECS::Cluster")
    assert cluster["Properties"]["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]


def test_codedeploy_role_has_a_scoped_inline_policy_instead_of_the_managed_one(template, svc, imported):
    role = props(template, "CodeDeployServiceRole")
    assert "ManagedPolicyArns" not in role
    [trust] = statements(role["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "codedeploy.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::Sub": (
        "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:"
        "${ProjectName}-${EnvironmentName}-%s/*" % svc.app.name)}}
    assert props(template, "CodeDeployApplication")["ApplicationName"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s" % svc.app.name}
    scoped = {tuple(s["Action"]): s for s in statements(props(template, "CodeDeployServiceRolePolicy")["PolicyDocument"])}
    service = {"Cluster": {"Ref": "Cluster"}, "Service": {"Fn::GetAtt": ["Service", "Name"]}}
    assert scoped[("ecs:DescribeServices", "ecs:UpdateServicePrimaryTaskSet")]["Resource"] == [{"Fn::Sub": [
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${Cluster}/${Service}", service]}]
    assert scoped[("ecs:CreateTaskSet", "ecs:DeleteTaskSet")]["Resource"] == [{"Fn::Sub": [
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-set/${Cluster}/${Service}/*", service]}]
    assert scoped[("elasticloadbalancing:ModifyListener",)]["Resource"] == [imported("ProductionListenerArn"),
                                                                           imported("TestListenerArn")]
    assert scoped[("elasticloadbalancing:ModifyRule",)]["Resource"][0]["Fn::Sub"][1] == {
        "Lb": imported("LoadBalancerFullName")}
    assert scoped[("cloudwatch:DescribeAlarms",)]["Resource"] == [
        {"Fn::GetAtt": [a, "Arn"]} for a in ("Target5xxAlarm", "BlueUnhealthyHostsAlarm", "GreenUnhealthyHostsAlarm")]
    passing = scoped[("iam:PassRole",)]
    assert passing["Resource"] == [{"Fn::GetAtt": ["TaskExecutionRole", "Arn"]}, {"Fn::GetAtt": ["TaskRole", "Arn"]}]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    [unscoped] = statements(props(template, "CodeDeployServiceRoleUnscopedPolicy")["PolicyDocument"])
    assert all(a.startswith("elasticloadbalancing:Describe") for a in unscoped["Action"])
    everything = [a for s in scoped.values() for a in s["Action"]] + unscoped["Action"]
    assert not [a for a in everything if a.split(":")[0] in ("s3", "sns", "lambda")]


def test_exports_cover_what_the_ecs_pipeline_needs(template, ingress):
    exported = {k for k, v in template["Outputs"].items() if "Export" in v}
    assert {"ClusterName", "ServiceName", "CodeDeployApplicationName", "DeploymentGroupName", "TaskDefinitionFamily",
            "TaskExecutionRoleArn", "TaskRoleArn", "DeploySpec", "ContainerName", "ContainerPort",
            "LogGroupName"} <= exported
    assert {"ProductionListenerArn", "TestListenerArn", "BlueTargetGroupName", "GreenTargetGroupName", "VpcId",
            "ValidationSubnetIds", "ValidationSecurityGroupId", "ServiceUrl"} <= set(ingress["Outputs"])


def test_no_literal_partition_region_or_account(template):
    for value in walk(template):
        if isinstance(value, str):
            assert "arn:aws:" not in value


def test_parameter_files(svc):
    for env in svc.environments:
        params = effective(svc, env)
        cpu, memory = int(params["TaskCpu"]), int(params["TaskMemory"])
        assert memory in FARGATE_MEMORY[cpu], f"{env}: {cpu} CPU units cannot have {memory} MiB"
        assert params["ReadonlyRootFilesystem"] == "true", env
        assert int(params["MinCapacity"]) <= int(params["MaxCapacity"]), env
        assert bool(params["CertificateArn"]) == bool(params["ServiceHostName"]), env


def test_protected_waves_protect_their_load_balancer_and_deploy_gradually(svc):
    protected = [e for e in svc.app.waves if svc.model.environment(e).protected]
    assert protected
    for env in protected:
        prod = effective(svc, env)
        assert prod["TestListenerCidr"] != "0.0.0.0/0", "the release under test must not be public"
        assert prod["DeletionProtection"] == "true"
        assert prod["CertificateArn"], "an internet-facing load balancer must listen with HTTPS"
        assert prod["DeploymentConfigName"] != "CodeDeployDefault.ECSAllAtOnce"


def test_pipeline_grants_are_scoped_to_this_environments_resources(svc):
    """The grants the ECS pipeline composes its deploy role from (see generator.stacks.ecs_service)."""
    from awacs.aws import Statement
    from generator.stacks import ecs_service

    def rendered(statements_):
        return [json.loads(json.dumps(s.JSONrepr(), default=lambda o: o.JSONrepr() if hasattr(o, "JSONrepr")
                                      else o.to_dict())) for s in statements_ if isinstance(s, Statement)]

    from generator.stacks.ecs_web import references
    task_definition, _ = references(svc.EXPORTS)
    first, last = svc.app.waves[0], svc.app.waves[-1]
    register = rendered(task_definition(last).grant_register())
    [tagging] = [s for s in register if s["Action"] == ["ecs:TagResource"]]
    assert tagging["Condition"] == {"StringEquals": {"ecs:CreateAction": ["RegisterTaskDefinition"]}}
    assert tagging["Resource"][0]["Fn::Sub"][0].endswith(":task-definition/${Family}:*")
    [registration] = [s for s in register if s["Action"] == ["ecs:RegisterTaskDefinition"]]
    assert registration["Resource"][0]["Fn::Sub"][0].endswith(":task-definition/${Family}:*")
    [pass_role] = [s for s in register if s["Action"] == ["iam:PassRole"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert pass_role["Resource"] == [
        {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-TaskExecutionRoleArn" % (last, svc.name)}},
        {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-TaskRoleArn" % (last, svc.name)}}]
    deploy = rendered(ecs_service.deployment_group(svc.EXPORTS, first).grant_deploy())
    assert "${ProjectName}-%s-%s-DeploymentGroupName" % (first, svc.name) in json.dumps(deploy)
    assert all("*" != r for s in deploy for r in s["Resource"])
    [create] = [s for s in deploy if "codedeploy:CreateDeployment" in s["Action"]]
    assert create["Resource"][0]["Fn::Sub"][0].endswith(":deploymentgroup:${App}/${Group}")
