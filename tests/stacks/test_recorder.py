"""Deployment history: the tools ``deployments`` table and each application's ``<app>-recorder`` stack in
every wave's environment, whose function the pipeline invokes after each deploy. Names come from the model."""
import json
import re

import pytest

from generator import model, registry
from generator.components import history
from generator.functions import INLINE_LIMIT, source
from generator.stacks import recorder as recorder_module
from generator.stacks.delivery import waves
from tests.helpers import resources, statements

MODEL = model.current()
APPS = list(MODEL.applications)


def imported(env, stack, key):
    return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-%s" % (env, stack, key)}}


def pipeline_cls(app):
    return next(s for s in registry.stacks() if s.app is not None and s.app.name == app.name
                and getattr(s, "build_class", None) is not None and s.part == "pipeline")


@pytest.fixture(params=APPS, ids=lambda a: a.name)
def app(request):
    return request.param


def policies_of(template, role_id):
    return [s for p in resources(template, "AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]
            for s in statements(p["Properties"]["PolicyDocument"])]


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


def test_a_recorder_in_every_wave_and_only_there(app):
    d = pipeline_cls(app).delivery
    cls = registry.get(d.recorder_stack)
    assert list(cls.environments) == [e for e in MODEL.environment_names if e in app.waves]
    required = set(registry.requires(pipeline_cls(app)))
    assert {f"{t.env}:{d.recorder_stack}" for t in waves(MODEL, app)} <= required


def test_recorder_function(app, templates):
    d = pipeline_cls(app).delivery
    template = templates[d.recorder_stack]
    [(logical_id, function)] = resources(template, "AWS::Lambda::Function").items()
    props = function["Properties"]
    assert props["Runtime"] == "python3.12" and props["Handler"] == "index.handler"
    assert props["Code"]["ZipFile"] == source("record_deployment")
    assert len(props["Code"]["ZipFile"].encode()) <= INLINE_LIMIT
    assert props["ReservedConcurrentExecutions"] >= 1
    attempts, timeout = recorder_module.ATTEMPTS, recorder_module.TIMEOUT_SECONDS
    assert props["Timeout"] > attempts * timeout + sum(min(2 ** i, 10) for i in range(attempts - 1))
    endpoint = d.endpoint_stack or d.target_stack
    assert props["VpcConfig"] == {
        "SubnetIds": {"Fn::Split": [",", imported("${EnvironmentName}", endpoint, "ValidationSubnetIds")]},
        "SecurityGroupIds": [imported("${EnvironmentName}", endpoint, "ValidationSecurityGroupId")]}
    variables = props["Environment"]["Variables"]
    assert variables["TABLE"] == imported(MODEL.tools, "deployments", "HistoryTableName")
    assert variables["APPLICATION"] == app.name and variables["ENVIRONMENT"] == {"Ref": "EnvironmentName"}
    assert variables["TARGET_URL"] == imported("${EnvironmentName}", endpoint, "ServiceUrl")
    logs = resources(template, "AWS::Logs::LogGroup")[props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
    assert logs["LogGroupName"]["Fn::Sub"] == "/aws/lambda/" + props["FunctionName"]["Fn::Sub"]
    # Its role: its log group, the history table (PutItem only), the tools key through DynamoDB, job results.
    role = props["Role"]["Fn::GetAtt"][0]
    grants = policies_of(template, role)
    [put] = [s for s in grants if "dynamodb:PutItem" in s["Action"]]
    assert put["Action"] == ["dynamodb:PutItem"]
    assert put["Resource"] == [imported(MODEL.tools, "deployments", "HistoryTableArn")]
    [kms] = [s for s in grants if any(a.startswith("kms:") for a in s["Action"])]
    assert kms["Resource"] == [imported(MODEL.tools, "foundation", "KeyArn")]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}}
    [job] = [s for s in grants if "codepipeline:PutJobSuccessResult" in s["Action"]]
    assert sorted(job["Action"]) == ["codepipeline:PutJobFailureResult", "codepipeline:PutJobSuccessResult"]
    actions = {a for s in grants for a in s["Action"]}
    assert not [a for a in actions if a.split(":")[0] not in ("logs", "dynamodb", "kms", "codepipeline", "ec2")]


def test_pipeline_invokes_its_recorder_after_each_deploy(app, templates):
    cls = pipeline_cls(app)
    d = cls.delivery
    template = templates[d.pipeline_stack]
    [pipeline] = resources(template, "AWS::CodePipeline::Pipeline").values()
    stages = {s["Name"]: s for s in pipeline["Properties"]["Stages"]}
    arns = []
    for target in waves(MODEL, app):
        [action] = [a for a in stages["Deploy" + target.label]["Actions"] if a["Name"] == "RecordDeployment"]
        assert action["ActionTypeId"] == {"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}
        assert action["Configuration"] == {"FunctionName": imported(target.env, d.recorder_stack, "RecorderFunctionName")}
        assert action["InputArtifacts"] == [{"Name": "Source"}], "its revision is the recorded version"
        arns.append("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${ProjectName}-%s-%s"
                    % (target.env, d.recorder_component))
        # The granted ARN names the function the recorder stack of that environment creates.
        recorder = templates[d.recorder_stack]
        [function] = resources(recorder, "AWS::Lambda::Function").values()
        assert function["Properties"]["FunctionName"]["Fn::Sub"].replace("${EnvironmentName}", target.env) == \
            arns[-1].rsplit("function:", 1)[1]
    policy = resources(templates[d.roles_stack], "AWS::IAM::Policy")["PipelineRolePolicy"]["Properties"]["PolicyDocument"]
    [invoke] = [s for s in statements(policy) if s["Action"] == ["lambda:InvokeFunction"]]
    # One pattern for every wave's recorder of this pipeline (components are prefix-free; "-record" ends it).
    [pattern] = [r["Fn::Sub"] for r in invoke["Resource"]]
    assert pattern == ("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${ProjectName}-*-%s"
                       % d.recorder_component)
    assert all(re.fullmatch(re.escape(pattern).replace(r"\*", "[a-z0-9]+"), arn) for arn in arns)
