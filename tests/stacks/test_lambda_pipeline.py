"""The ``lambda`` kind's delivery (``<app>-build``, ``<app>-validation-<wave>``, ``<app>-pipeline-roles``,
``<app>-pipeline``), asserted on
the rendered templates of every example model with a ``lambda`` application: traffic-shifting deploys per
wave with the strategy parameter, the function's alarms wired to the rollback, SNS notification of pipeline
failure, one least-privilege deploy role per wave, the post-deploy invoke and recorder, the stage conditions on
the function's alarms (entry of a protected wave, bake time, rollback) and the build's edition check."""
from __future__ import annotations

import json
import re

import pytest

from generator.components.codebuild import buildspec_text
from generator import model, registry
from generator.render import rendered as render_stack
from generator.stacks import lambda_function
from generator.stacks.delivery import waves
from generator.stacks.lambda_pipeline import DEPLOY_STRATEGY_PATTERN, NODE14_ECMA_VERSION, LambdaPipelineStack
from tests.helpers import as_list, exported_role, one, resources, statements
from tests.stacks.lambda_helpers import stack_id, stack_named, stacks_of, template as rendered

PIPELINES = [s for s in stacks_of(LambdaPipelineStack) if s.part == "pipeline"]


def test_an_example_model_has_a_lambda_pipeline():
    assert PIPELINES


@pytest.fixture(scope="module", params=PIPELINES, ids=stack_id)
def cls(request):
    return request.param


@pytest.fixture(scope="module")
def template(cls):
    return rendered(cls)


@pytest.fixture(scope="module")
def roles(cls):
    """The pipeline's roles stack: its roles and the deploy actions' log group."""
    return rendered(stack_named(cls, cls.delivery.roles_stack))


@pytest.fixture(scope="module")
def pipeline(template):
    return one(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]


@pytest.fixture(scope="module")
def stages(pipeline):
    return {s["Name"]: s for s in pipeline["Stages"]}


def imported(env, stack, key):
    return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-%s" % (env, stack, key)}}


def test_stages_build_then_test_and_scan_then_each_wave(cls, pipeline):
    names = [s["Name"] for s in pipeline["Stages"]]
    expected = ["Source", "Build", "TestAndScan"]
    for target in waves(cls.model, cls.app):
        # the smoke test runs in the deploy stage, so a failed validation rolls the deployment back
        expected += ([f"Approve{target.label}"] if target.protected else []) + [f"Deploy{target.label}"]
    assert names == expected
    assert pipeline["PipelineType"] == "V2"  # the Lambda deploy action exists in V2 pipelines only


def test_test_and_scan_run_in_parallel(stages):
    actions = {a["Name"]: a for a in stages["TestAndScan"]["Actions"]}
    assert set(actions) == {"Test", "SecurityScan"}
    assert actions["Test"]["RunOrder"] == actions["SecurityScan"]["RunOrder"]


def test_each_wave_shifts_traffic_on_its_alias_with_its_strategy_and_alarms(cls, template, stages):
    function_stack = cls.delivery.target_stack
    for target in waves(cls.model, cls.app):
        stage = stages["Deploy" + target.label]
        deploy, smoke, record = stage["Actions"]
        assert (deploy["RunOrder"], smoke["Name"], smoke["RunOrder"]) == (1, "SmokeTest", 2)
        assert (record["Name"], record["RunOrder"]) == ("RecordDeployment", 2)  # tests/stacks/test_recorder.py
        assert deploy["ActionTypeId"] == {"Category": "Deploy", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}
        assert deploy["InputArtifacts"] == [{"Name": "BuildOutput"}]  # the one package built once
        config = deploy["Configuration"]
        assert config["FunctionName"] == imported(target.env, function_stack, "FunctionName")
        assert config["FunctionAlias"] == imported(target.env, function_stack, "AliasName")
        assert config["DeployStrategy"] == {"Ref": f"DeployStrategy{target.label}"}
        # the function's alarms: one in ALARM fails the action, the alias returns to its version
        assert config["Alarms"] == imported(target.env, function_stack, "AlarmNames")
        assert stage["OnFailure"] == {"Result": "ROLLBACK"}
        parameter = template["Parameters"][f"DeployStrategy{target.label}"]
        assert re.match(parameter["AllowedPattern"], parameter["Default"])


@pytest.mark.parametrize("strategy,accepted", [
    ("AllAtOnce", True), ("Canary10Percent5Minutes", True), ("Linear10PercentEvery1Minute", True),
    ("Linear25PercentEvery10Minutes", True), ("Canary0Percent5Minutes", False), ("Linear100PercentEvery1Minute", False),
    ("canary", False), ("CodeDeployDefault.LambdaCanary10Percent5Minutes", False), ("", False),
])
def test_strategy_pattern(strategy, accepted):
    assert bool(re.match(DEPLOY_STRATEGY_PATTERN, strategy)) is accepted


def test_alarm_names_the_deploy_watches_are_the_function_stacks_alarms(cls):
    function = rendered(stack_named(cls, cls.delivery.target_stack))
    alarms = resources(function, "AWS::CloudWatch::Alarm")
    joined = function["Outputs"]["AlarmNames"]["Value"]["Fn::Join"][1]
    assert sorted(joined, key=json.dumps) == sorted(({"Ref": a} for a in alarms), key=json.dumps)
    assert len(alarms) <= 10  # the action watches at most 10 alarms


def test_one_deploy_role_per_wave_scoped_to_that_waves_function_and_alarms(cls, roles, stages):
    template = roles
    roles = resources(template, "AWS::IAM::Role")
    policies = resources(template, "AWS::IAM::Policy")
    managed = resources(template, "AWS::IAM::ManagedPolicy")
    function_stack = cls.delivery.target_stack
    other_envs = set(cls.model.environment_names) - {cls.model.tools}
    for target in waves(cls.model, cls.app):
        deploy = stages["Deploy" + target.label]["Actions"][0]
        role_id = exported_role(template, cls.delivery.roles_stack, deploy["RoleArn"])
        assert role_id in roles
        own = [s for p in list(policies.values()) + list(managed.values()) if {"Ref": role_id} in p["Properties"]["Roles"]
               for s in statements(p["Properties"]["PolicyDocument"])]
        text = json.dumps(own)
        for env in other_envs - {target.env}:
            assert f"-{env}-{function_stack}-" not in text, f"{role_id} reaches {env}"
        lambda_actions = {a for s in own for a in as_list(s["Action"]) if a.startswith("lambda:")}
        assert lambda_actions == {"lambda:GetAlias", "lambda:GetFunctionConfiguration",
                                  "lambda:GetProvisionedConcurrencyConfig", "lambda:PublishVersion",
                                  "lambda:UpdateAlias", "lambda:UpdateFunctionCode"}
        [describe] = [s for s in own if s["Action"] == ["cloudwatch:DescribeAlarms"]]
        assert describe["Resource"] == [imported(target.env, function_stack, key)
                                        for key in ("ErrorsAlarmArn", "ThrottlesAlarmArn", "DurationAlarmArn")]
        for statement in own:
            assert statement["Resource"] != ["*"] and "lambda:*" not in as_list(statement["Action"])


def test_deploy_action_log_group_is_encrypted_and_expires(cls, template, roles):
    assert not resources(template, "AWS::Logs::LogGroup"), "the group is the roles stack's"
    [group] = [g for g in resources(roles, "AWS::Logs::LogGroup").values()]
    assert group["Properties"]["LogGroupName"]["Fn::Sub"][0] == "/${AWS::Region}/codepipeline/${Pipeline}"
    assert "KmsKeyId" in group["Properties"] and group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_pipeline_failure_is_notified_on_the_sns_topic(cls):
    # notifications are the application's operations stack's rules (stacks/operations.py)
    rules = resources(rendered(stack_named(cls, f"{cls.app.name}-operations")), "AWS::Events::Rule")
    failed = rules["FailedRule"]["Properties"]
    assert failed["EventPattern"]["detail"] == {"state": ["FAILED"]}
    assert failed["EventPattern"]["source"] == ["aws.codepipeline"]
    [target] = failed["Targets"]
    assert target["Arn"] == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-NotificationsTopicArn"}}


def test_validation_invokes_each_waves_alias_only_without_a_vpc(cls):
    for target in waves(cls.model, cls.app):
        validation = rendered(stack_named(cls, cls.delivery.validation_stack_of(target)))
        projects = resources(validation, "AWS::CodeBuild::Project")
        policies = resources(validation, "AWS::IAM::Policy")
        assert len(projects) == 1
        logical_id = cls.delivery.validation_project_id(target)
        project = projects[logical_id]["Properties"]
        assert "VpcConfig" not in project  # Lambda's API, no load balancer to reach
        assert project["Source"]["BuildSpec"] == buildspec_text("function-smoke.yml")
        variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
        assert variables["FUNCTION_NAME"] == imported(target.env, cls.delivery.target_stack, "FunctionName")
        role_id = project["ServiceRole"]["Fn::GetAtt"][0]
        invoke = [s for p in policies.values() if {"Ref": role_id} in p["Properties"]["Roles"]
                  for s in statements(p["Properties"]["PolicyDocument"]) if "lambda:InvokeFunction" in s["Action"]]
        [statement] = invoke
        assert statement["Action"] == ["lambda:InvokeFunction"]
        assert statement["Resource"][0]["Fn::Sub"][0].endswith(":function:${Name}:live")


def test_build_packages_once_and_tests_at_node14s_edition(cls):
    build = rendered(stack_named(cls, cls.delivery.build_stack))
    projects = resources(build, "AWS::CodeBuild::Project")
    assert projects["BuildProject"]["Properties"]["Source"]["BuildSpec"] == buildspec_text("function-build.yml")
    test = projects["TestProject"]["Properties"]
    assert test["Source"]["BuildSpec"] == buildspec_text("function-test.yml")
    variables = {v["Name"]: v["Value"] for v in test["Environment"]["EnvironmentVariables"]}
    assert variables["ECMA_VERSION"] == {"Ref": "SourceEcmaVersion"}
    assert build["Parameters"]["SourceEcmaVersion"]["Default"] == NODE14_ECMA_VERSION == 2020


# -- stage conditions on the function's alarms, as every kind has them ------------------------------------
def alarm_rules(rules):
    for rule in rules:
        assert rule["RuleTypeId"] == {"Category": "Rule", "Owner": "AWS", "Provider": "CloudWatchAlarm", "Version": "1"}
        assert rule["Configuration"]["AlarmStates"] == "ALARM"
    return [r["Configuration"]["AlarmName"] for r in rules]


def check_lambda_conditions(m, app, template, roles):
    """Each wave: rolled back on failure, and after it a bake time (its ``bake_minutes``) on its function's
    alarms that rolls back; a protected wave after another is entered only while that wave's alarms are not
    in ALARM. The pipeline role may describe exactly those alarms."""
    stages = {s["Name"]: s for s in one(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]["Stages"]}
    function_stack = pipeline_of(m, app).delivery.target_stack
    keys = lambda_function.ALARM_KEYS
    names = {t.env: [imported(t.env, function_stack, f"{k}AlarmName") for k in keys] for t in waves(m, app)}
    targets = waves(m, app)
    for i, target in enumerate(targets):
        stage = stages["Deploy" + target.label]
        assert stage["OnFailure"] == {"Result": "ROLLBACK"}
        [bake] = stage["OnSuccess"]["Conditions"]
        assert bake["Result"] == "ROLLBACK" and alarm_rules(bake["Rules"]) == names[target.env]
        waits = {r["Configuration"].get("WaitTime") for r in bake["Rules"]}
        assert waits == ({str(target.bake_minutes)} if target.bake_minutes else {None})
        if target.protected and i > 0:
            [entry] = stage["BeforeEntry"]["Conditions"]
            assert entry["Result"] == "FAIL" and alarm_rules(entry["Rules"]) == names[targets[i - 1].env]
        else:
            assert "BeforeEntry" not in stage
    policy = resources(roles, "AWS::IAM::Policy")["PipelineRolePolicy"]["Properties"]["PolicyDocument"]
    [describe] = [s for s in statements(policy) if s["Action"] == ["cloudwatch:DescribeAlarms"]]
    assert describe["Resource"] == [imported(t.env, function_stack, f"{k}AlarmArn") for t in targets for k in keys]


def pipeline_of(m, app):
    return next(s for s in registry.stacks(m) if s.app is not None and s.app.name == app.name
                and getattr(s, "build_class", None) is not None and s.part == "pipeline")


def test_each_wave_has_the_stage_conditions_of_every_kind_on_the_functions_alarms(cls, template, roles):
    check_lambda_conditions(cls.model, cls.app, template, roles)


def test_conditions_follow_the_model():
    """Another project and waves: the first wave unprotected, a protected one after it, bake times."""
    m = model.loads("""
project: {name: acme}
tools: ops
environments:
  - {name: ops, protected: true}
  - {name: stage, bake_minutes: 3}
  - {name: live, protected: true, bake_minutes: 20}
applications:
  - {name: pricing, kind: lambda, waves: [stage, live]}
""", "test.yaml")
    [app] = m.applications
    cls = pipeline_of(m, app)
    roles = render_stack(next(s for s in registry.stacks(m) if s.name == cls.delivery.roles_stack))[0]
    template = render_stack(cls)[0]
    check_lambda_conditions(m, app, template, roles)
    assert [w.bake_minutes for w in waves(m, app)] == [3, 20]


def test_the_function_stack_exports_each_alarms_name_and_arn(cls):
    function = rendered(stack_named(cls, cls.delivery.target_stack))
    alarms = resources(function, "AWS::CloudWatch::Alarm")
    for key in lambda_function.ALARM_KEYS:
        assert function["Outputs"][f"{key}AlarmName"]["Value"] == {"Ref": f"{key}Alarm"}
        assert function["Outputs"][f"{key}AlarmArn"]["Value"] == {"Fn::GetAtt": [f"{key}Alarm", "Arn"]}
    assert sorted(alarms) == sorted(f"{key}Alarm" for key in lambda_function.ALARM_KEYS)
