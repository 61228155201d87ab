"""Deployment history: the tools ``deployments`` table and each application's ``<app>-recorder`` stack in
every wave's environment, whose function the pipeline invokes after each deploy, for every application kind
(the sample model's, and the ``lambda`` applications of the example models). Names come from the models."""
import json
import re

import pytest

from generator import model, registry
from generator.components import history
from generator.functions import INLINE_ZIP_LIMIT, record_deployment, source, zipped_size
from generator.render import rendered
from generator.stacks import recorder as recorder_module
from generator.stacks.delivery import waves
from tests.helpers import as_list, resources, statements
from tests.stacks.lambda_helpers import lambda_models

MODEL = model.current()
MODELS = [MODEL] + lambda_models()
#: (model, application) of every application of the models: every kind the recorder serves.
APPS = [(m, app) for m in MODELS for app in m.applications]


def imported(env, stack, key):
    return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-%s" % (env, stack, key)}}


def sub(text, **variables):
    return {"Fn::Sub": [text, variables]} if variables else {"Fn::Sub": text}


def pipeline_cls(app, m=MODEL):
    return next(s for s in registry.stacks(m) if s.app is not None and s.app.name == app.name
                and getattr(s, "build_class", None) is not None and s.part == "pipeline")


def stack(m, name):
    return next(s for s in registry.stacks(m) if s.name == name)


@pytest.fixture(scope="module", params=APPS, ids=lambda p: f"{p[1].kind}:{p[1].name}")
def case(request):
    """(model, application, its delivery, its rendered recorder template)."""
    m, app = request.param
    d = pipeline_cls(app, m).delivery
    return m, app, d, rendered(stack(m, d.recorder_stack))[0]


def policies_of(template, role_id):
    return [s for p in resources(template, "AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]
            for s in statements(p["Properties"]["PolicyDocument"])]


def test_every_kind_is_recorded_and_the_models_cover_them():
    assert set(recorder_module.KINDS) == set(record_deployment.READERS)
    assert {app.kind for _, app in APPS} == set(recorder_module.KINDS)


def test_history_table(templates):
    template = templates["deployments"]
    [(logical_id, table)] = resources(template, "AWS::DynamoDB::Table").items()
    props = table["Properties"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": imported(
        "${EnvironmentName}", "foundation", "KeyArn")}
    assert props["TimeToLiveSpecification"] == {"AttributeName": history.TTL_ATTRIBUTE, "Enabled": True}
    assert props["KeySchema"] == [{"AttributeName": history.PARTITION_KEY, "KeyType": "HASH"},
                                  {"AttributeName": history.SORT_KEY, "KeyType": "RANGE"}]
    # The function writes exactly these keys.
    code = source("record_deployment")
    assert f'"{history.PARTITION_KEY}":' in code and f'"{history.SORT_KEY}":' in code
    assert f'"{history.TTL_ATTRIBUTE}":' in code
    assert registry.get("deployments").environments == (MODEL.tools,)


def test_a_recorder_in_every_wave_and_only_there(case):
    m, app, d, _ = case
    cls = stack(m, d.recorder_stack)
    assert list(cls.environments) == [e for e in m.environment_names if e in app.waves]
    required = set(registry.requires(pipeline_cls(app, m)))
    assert {f"{t.env}:{d.recorder_stack}" for t in waves(m, app)} <= required


def test_recorder_function(case):
    m, app, d, template = case
    [(logical_id, function)] = resources(template, "AWS::Lambda::Function").items()
    props = function["Properties"]
    assert props["Runtime"] == "python3.12" and props["Handler"] == "index.handler"
    assert props["Code"]["ZipFile"] == source("record_deployment")
    assert zipped_size(props["Code"]["ZipFile"]) <= INLINE_ZIP_LIMIT
    assert props["ReservedConcurrentExecutions"] >= 1
    attempts, timeout = recorder_module.ATTEMPTS, recorder_module.TIMEOUT_SECONDS
    assert props["Timeout"] > attempts * timeout + sum(min(2 ** i, 10) for i in range(attempts - 1))
    variables = props["Environment"]["Variables"]
    assert variables["TABLE"] == imported(m.tools, "deployments", "HistoryTableName")
    assert variables["APPLICATION"] == app.name and variables["ENVIRONMENT"] == {"Ref": "EnvironmentName"}
    assert variables["TTL_DAYS"] == {"Ref": "HistoryRetentionDays"} and variables["TARGET_KIND"] == app.kind
    logs = resources(template, "AWS::Logs::LogGroup")[props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
    assert logs["LogGroupName"]["Fn::Sub"] == "/aws/lambda/" + props["FunctionName"]["Fn::Sub"]
    endpoint = d.endpoint_stack or d.target_stack
    if app.kind in recorder_module.URL_KINDS:
        # In the target's VPC, calling the URL the target exports.
        assert props["VpcConfig"] == {
            "SubnetIds": {"Fn::Split": [",", imported("${EnvironmentName}", endpoint, "ValidationSubnetIds")]},
            "SecurityGroupIds": [imported("${EnvironmentName}", endpoint, "ValidationSecurityGroupId")]}
        assert variables["TARGET_URL"] == imported("${EnvironmentName}", endpoint, "ServiceUrl")
        assert variables["HEALTH_PATH"] == {"Ref": "HealthCheckPath"}
    else:
        # Lambda: the API only, no VPC, no URL, no health path to set.
        assert "VpcConfig" not in props and "TARGET_URL" not in variables
        assert "HealthCheckPath" not in template["Parameters"]


#: What each kind's recorder names (environment variable → key of the target stack's export).
TARGET_NAMES = {
    "beanstalk": {"BEANSTALK_ENVIRONMENT": "EnvironmentName"},
    "ecs-bluegreen": {"ECS_CLUSTER": "ClusterName", "ECS_SERVICE": "ServiceName"},
    "ecs-rolling": {"ECS_CLUSTER": "ClusterName", "ECS_SERVICE": "ServiceName"},
    "lambda": {"FUNCTION_NAME": "FunctionName", "FUNCTION_ALIAS": "AliasName"},
}


def test_the_target_is_named_by_its_stacks_exports(case):
    m, app, d, template = case
    [function] = resources(template, "AWS::Lambda::Function").values()
    variables = function["Properties"]["Environment"]["Variables"]
    for variable, key in TARGET_NAMES[app.kind].items():
        assert variables[variable] == imported("${EnvironmentName}", d.target_stack, key)
    # The target stack declares what the recorder imports.
    exported = {o["Export"]["Name"]["Fn::Sub"].rsplit("-", 1)[1]
                for o in rendered(stack(m, d.target_stack))[0]["Outputs"].values() if "Export" in o}
    assert set(TARGET_NAMES[app.kind].values()) <= exported


def test_the_role_reads_exactly_its_target(case):
    """Its log group, the history table (PutItem only), the tools key through DynamoDB, job results, the
    target's network interfaces where it runs in a VPC, and the read of that one target's version."""
    m, app, d, template = case
    [function] = resources(template, "AWS::Lambda::Function").values()
    grants = policies_of(template, function["Properties"]["Role"]["Fn::GetAtt"][0])
    [put] = [s for s in grants if "dynamodb:PutItem" in s["Action"]]
    assert put["Action"] == ["dynamodb:PutItem"]
    assert put["Resource"] == [imported(m.tools, "deployments", "HistoryTableArn")]
    [kms] = [s for s in grants if any(a.startswith("kms:") for a in s["Action"])]
    assert kms["Resource"] == [imported(m.tools, "foundation", "KeyArn")]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}}
    [job] = [s for s in grants if "codepipeline:PutJobSuccessResult" in s["Action"]]
    assert sorted(job["Action"]) == ["codepipeline:PutJobFailureResult", "codepipeline:PutJobSuccessResult"]
    reads = [s for s in grants if as_list(s["Action"])[0].split(":")[0] in ("elasticbeanstalk", "ecs", "lambda")]
    env = imported("${EnvironmentName}", d.target_stack, "")  # the prefix of the target's exports
    target = lambda key: {"Fn::ImportValue": {"Fn::Sub": env["Fn::ImportValue"]["Fn::Sub"] + key}}  # noqa: E731
    if app.kind == "beanstalk":
        [describe] = reads
        assert describe["Action"] == ["elasticbeanstalk:DescribeEnvironments"]
        assert describe["Resource"] == [sub(
            "arn:${AWS::Partition}:elasticbeanstalk:${AWS::Region}:${AWS::AccountId}:environment/${App}/${Env}",
            App=imported(m.tools, f"{app.name}-app", "ApplicationName"), Env=target("EnvironmentName"))]
    elif app.kind.startswith("ecs"):
        [service, task_definition] = sorted(reads, key=lambda s: s["Action"])
        assert service["Action"] == ["ecs:DescribeServices"]
        assert service["Resource"] == [sub(
            "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${Cluster}/${Service}",
            Cluster=target("ClusterName"), Service=target("ServiceName"))]
        # DescribeTaskDefinition has no resource-level permission (tests/test_iam_policies.py allow-lists it).
        assert task_definition["Action"] == ["ecs:DescribeTaskDefinition"] and task_definition["Resource"] == ["*"]
    else:
        [alias] = reads
        assert alias["Action"] == ["lambda:GetAlias"]
        function_arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}"
        assert alias["Resource"] == [sub(function_arn, Name=target("FunctionName")),
                                     sub(function_arn + ":live", Name=target("FunctionName"))]
    services = {a.split(":")[0] for s in grants for a in as_list(s["Action"])}
    expected = {"logs", "dynamodb", "kms", "codepipeline", {"beanstalk": "elasticbeanstalk", "lambda": "lambda"}.get(
        app.kind, "ecs")}
    assert services == expected | ({"ec2"} if app.kind in recorder_module.URL_KINDS else set())
    assert not [s for s in grants if s["Resource"] == ["*"]
                and not set(as_list(s["Action"])) <= {"ecs:DescribeTaskDefinition", "codepipeline:PutJobSuccessResult",
                                                      "codepipeline:PutJobFailureResult", "ec2:DescribeNetworkInterfaces",
                                                      "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                                                      "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions"}]


def test_pipeline_invokes_its_recorder_after_each_deploy(case):
    m, app, d, recorder = case
    template = rendered(pipeline_cls(app, m))[0]
    [pipeline] = resources(template, "AWS::CodePipeline::Pipeline").values()
    stages = {s["Name"]: s for s in pipeline["Properties"]["Stages"]}
    arns = []
    for target in waves(m, app):
        actions = stages["Deploy" + target.label]["Actions"]
        [action] = [a for a in actions if a["Name"] == "RecordDeployment"]
        [smoke] = [a for a in actions if a["Name"] == "SmokeTest"]
        assert action["RunOrder"] == smoke["RunOrder"] == 2, "beside the smoke test, after the deploy"
        assert action["ActionTypeId"] == {"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}
        assert action["Configuration"] == {"FunctionName": imported(target.env, d.recorder_stack, "RecorderFunctionName")}
        assert action["InputArtifacts"] == [{"Name": "Source"}], "its revision is the recorded SourceVersion"
        arns.append("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${ProjectName}-%s-%s"
                    % (target.env, d.recorder_component))
        # The granted ARN names the function the recorder stack of that environment creates.
        [function] = resources(recorder, "AWS::Lambda::Function").values()
        assert function["Properties"]["FunctionName"]["Fn::Sub"].replace("${EnvironmentName}", target.env) == \
            arns[-1].rsplit("function:", 1)[1]
    roles = rendered(stack(m, d.roles_stack))[0]
    policy = resources(roles, "AWS::IAM::Policy")["PipelineRolePolicy"]["Properties"]["PolicyDocument"]
    [invoke] = [s for s in statements(policy) if s["Action"] == ["lambda:InvokeFunction"]]
    # One pattern for every wave's recorder of this pipeline (components are prefix-free; "-record" ends it).
    [pattern] = [r["Fn::Sub"] for r in invoke["Resource"]]
    assert pattern == ("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${ProjectName}-*-%s"
                       % d.recorder_component)
    assert all(re.fullmatch(re.escape(pattern).replace(r"\*", "[a-z0-9]+"), arn) for arn in arns)


def test_the_committed_recorders_are_the_rendered_ones(templates):
    for app in MODEL.applications:
        name = pipeline_cls(app).delivery.recorder_stack
        assert json.dumps(templates[name], sort_keys=True) == json.dumps(rendered(stack(MODEL, name))[0],
                                                                         sort_keys=True)
