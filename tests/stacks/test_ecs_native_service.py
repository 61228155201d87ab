"""The ecs-native-service stack: deployment controller ECS, Amazon ECS blue/green (or rolling), alarm rollback."""
import json

import pytest

from generator import paramgen, registry
from generator.stacks import ecs_native_service
from tests.helpers import load_template, one, resources, statements, walk

#: The service stack of every ``ecs-rolling`` application of the model.
SERVICES = [s for s in registry.stacks() if issubclass(s, ecs_native_service.EcsNativeServiceStack)]


@pytest.fixture(scope="module", params=SERVICES, ids=lambda s: s.name)
def svc(request):
    return request.param


@pytest.fixture(scope="module")
def template(svc):
    return load_template(svc.name)


@pytest.fixture(scope="module")
def imported(svc):
    def value(key):
        """A value of this environment's ingress stack, as the service stack imports it."""
        return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s" % (svc.INGRESS.stack, key)}}
    return value


def effective(svc, env):
    """Every parameter of the service and its ingress stack in ``env``: the file's value, else the default."""
    values = paramgen.parameter_values(registry.get(svc.INGRESS.stack), env)
    values.update(paramgen.parameter_values(svc, env))
    return values


def test_every_rolling_application_has_its_service_stack():
    apps = [a for a in registry.stacks()[0].model.applications if a.kind == "ecs-rolling"]
    assert apps and [s.app for s in SERVICES] == apps
    assert all(s.name == f"{s.app.name}-service" and s.INGRESS.stack == f"{s.app.name}-ingress" for s in SERVICES)


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


def service_props(template):
    return one(template, "AWS::ECS::Service")[1]["Properties"]


def test_ecs_controller_with_strategy_and_bake_time_parameters(template):
    p = service_props(template)
    assert p["DeploymentController"] == {"Type": "ECS"}
    config = p["DeploymentConfiguration"]
    assert config["Strategy"] == {"Ref": "DeploymentStrategy"}
    assert config["BakeTimeInMinutes"] == {"Ref": "BakeTimeInMinutes"}
    parameters = template["Parameters"]
    assert parameters["DeploymentStrategy"]["AllowedValues"] == ["BLUE_GREEN", "ROLLING"]
    # The kind is "ecs-rolling": rolling unless the model asks for ECS blue/green (DeploymentStrategy).
    assert parameters["DeploymentStrategy"]["Default"] == "ROLLING"
    assert (parameters["BakeTimeInMinutes"]["MinValue"], parameters["BakeTimeInMinutes"]["MaxValue"]) == (0, 1440)
    assert template["Conditions"]["IsBlueGreen"] == {"Fn::Equals": [{"Ref": "DeploymentStrategy"}, "BLUE_GREEN"]}


def test_alarms_roll_back_and_rolling_deployments_have_the_circuit_breaker(template):
    config = service_props(template)["DeploymentConfiguration"]
    alarms = config["Alarms"]
    assert alarms["Enable"] is True and alarms["Rollback"] is True
    assert alarms["AlarmNames"] == [{"Ref": a} for a in resources(template, "AWS::CloudWatch::Alarm")]
    assert len(alarms["AlarmNames"]) == 3
    assert config["DeploymentCircuitBreaker"] == {"Fn::If": ["IsBlueGreen", {"Ref": "AWS::NoValue"},
                                                             {"Enable": True, "Rollback": True}]}


def test_advanced_configuration_names_alternate_group_rules_and_infrastructure_role(template, imported):
    [balancer] = service_props(template)["LoadBalancers"]
    assert balancer["TargetGroupArn"] == imported("BlueTargetGroupArn")
    assert (balancer["ContainerName"], balancer["ContainerPort"]) == ("app", 8080)
    condition, advanced, otherwise = balancer["AdvancedConfiguration"]["Fn::If"]
    assert condition == "IsBlueGreen" and otherwise == {"Ref": "AWS::NoValue"}
    assert advanced == {"AlternateTargetGroupArn": imported("GreenTargetGroupArn"),
                        "ProductionListenerRule": {"Ref": "ProductionListenerRule"},
                        "TestListenerRule": {"Ref": "TestListenerRule"},
                        "RoleArn": {"Fn::GetAtt": ["EcsInfrastructureRole", "Arn"]}}


def test_listener_rules_forward_weighted_to_both_target_groups(template, imported):
    for rule, listener in (("ProductionListenerRule", "ProductionListenerArn"), ("TestListenerRule", "TestListenerArn")):
        p = props(template, rule)
        assert p["ListenerArn"] == imported(listener)
        [action] = p["Actions"]
        assert action["Type"] == "forward"
        assert action["ForwardConfig"]["TargetGroups"] == [
            {"TargetGroupArn": imported("BlueTargetGroupArn"), "Weight": 100},
            {"TargetGroupArn": imported("GreenTargetGroupArn"), "Weight": 0}]
        # ECS owns the weights after creation: nothing in the rule may vary with a parameter.
        refs = {v["Ref"] for v in walk({k: v for k, v in p.items() if k != "Tags"}) if isinstance(v, dict) and "Ref" in v}
        assert refs == set()


def test_infrastructure_role_is_scoped_to_this_services_load_balancer_resources(template, imported):
    role = props(template, "EcsInfrastructureRole")
    assert "ManagedPolicyArns" not in role
    [trust] = statements(role["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    scoped = {tuple(s["Action"]): s["Resource"] for s in statements(props(template, "EcsInfrastructureRolePolicy")["PolicyDocument"])}
    assert scoped == {
        ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
            [imported("BlueTargetGroupArn"), imported("GreenTargetGroupArn")],
        ("elasticloadbalancing:ModifyListener",): [imported("ProductionListenerArn"), imported("TestListenerArn")],
        ("elasticloadbalancing:ModifyRule",): [{"Ref": "ProductionListenerRule"}, {"Ref": "TestListenerRule"}],
    }
    [unscoped] = statements(props(template, "EcsInfrastructureRoleUnscopedPolicy")["PolicyDocument"])
    assert all(a.startswith("elasticloadbalancing:Describe") for a in unscoped["Action"])


def test_lifecycle_hook_is_optional_and_its_role_invokes_only_that_function(template):
    parameter = template["Parameters"]["LifecycleHookFunctionArn"]
    assert parameter["Default"] == ""
    assert template["Conditions"]["HasLifecycleHook"] == {"Fn::And": [
        {"Condition": "IsBlueGreen"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "LifecycleHookFunctionArn"}, ""]}]}]}
    condition, [hook], otherwise = service_props(template)["DeploymentConfiguration"]["LifecycleHooks"]["Fn::If"]
    assert condition == "HasLifecycleHook" and otherwise == {"Ref": "AWS::NoValue"}
    assert hook["HookTargetArn"] == {"Ref": "LifecycleHookFunctionArn"} and hook["TargetType"] == "AWS_LAMBDA"
    assert hook["RoleArn"] == {"Fn::GetAtt": ["LifecycleHookRole", "Arn"]}
    for logical_id in ("LifecycleHookRole", "LifecycleHookRolePolicy"):
        assert template["Resources"][logical_id]["Condition"] == "HasLifecycleHook"
    [invoke] = statements(props(template, "LifecycleHookRolePolicy")["PolicyDocument"])
    assert invoke["Action"] == ["lambda:InvokeFunction"] and invoke["Resource"] == [{"Ref": "LifecycleHookFunctionArn"}]


def test_service_is_never_rolled_back_by_a_stack_update(template, svc):
    p = service_props(template)
    assert p["TaskDefinition"] == props(template, "TaskDefinition")["Family"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s" % svc.app.name}
    assert "DesiredCount" not in p
    assert one(template, "AWS::ECS::Service")[1]["DependsOn"][0] == "TaskDefinition"


def test_exports_are_what_the_native_pipeline_imports(template, svc):
    exported = {k for k, v in template["Outputs"].items() if "Export" in v}
    assert {v.key for v in svc.EXPORTS.values()} == exported
    assert {"ClusterName", "ServiceName", "TaskDefinitionFamily", "TaskExecutionRoleArn", "TaskRoleArn", "ContainerName",
            "ContainerPort", "LogGroupName", "DeploySpec"} <= exported
    ingress = load_template(svc.INGRESS.stack)["Outputs"]
    assert {"ServiceUrl", "VpcId", "ValidationSubnetIds", "ValidationSecurityGroupId"} <= set(ingress)
    assert template["Outputs"]["ServiceName"]["Export"]["Name"] == {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-ServiceName" % svc.name}


def test_pipeline_grants_register_with_tag_on_create_and_update_only_this_service(svc):
    from awacs.aws import Statement

    def rendered(found):
        return [json.loads(json.dumps(s.JSONrepr(), default=lambda o: o.JSONrepr() if hasattr(o, "JSONrepr")
                                      else o.to_dict())) for s in found if isinstance(s, Statement)]

    from generator.stacks.ecs_web import references
    task_definition, service = references(svc.EXPORTS)
    wave = svc.app.waves[0]
    register = rendered(task_definition(wave).grant_register())
    [tagging] = [s for s in register if s["Action"] == ["ecs:TagResource"]]
    assert tagging["Condition"] == {"StringEquals": {"ecs:CreateAction": ["RegisterTaskDefinition"]}}
    deploy = rendered(service(wave).grant_rolling_deploy())
    [update] = [s for s in deploy if "ecs:UpdateService" in s["Action"]]
    assert update["Resource"][0]["Fn::Sub"][1]["Service"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-ServiceName" % (wave, svc.name)}}


def test_parameter_files(svc):
    for env in svc.environments:
        params = effective(svc, env)
        assert params["DeploymentStrategy"] in ("BLUE_GREEN", "ROLLING")
        expected = svc.model.parameter_values(env, svc.app).get("DeploymentStrategy")
        assert params["DeploymentStrategy"] == (expected.value if expected else "ROLLING"), env
        assert params["ReadonlyRootFilesystem"] == "true"
        if svc.model.environment(env).protected:
            assert params["DeletionProtection"] == "true" and int(params["BakeTimeInMinutes"]) >= 10, env
