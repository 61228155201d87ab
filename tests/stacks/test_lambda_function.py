"""``<app>-function`` of the ``lambda`` kind, asserted on the rendered template: the ``live`` alias on a
published version, the runtime's allowed values (no deprecated runtime, Node.js and Python only), the
execution role's least privilege, the log group, reserved concurrency, the failed-event queue and the
alarms the pipeline's traffic shifting watches."""
from __future__ import annotations

import datetime
import json
import warnings
from pathlib import Path

import cfnlint
import pytest

from generator.components.lambda_function import ALIAS, RUNTIMES, RUNTIMES_REVIEWED_ON
from generator.stacks.lambda_function import LambdaFunctionStack
from tests.helpers import as_list, one, resources, statements
from tests.stacks.lambda_helpers import stack_id, stacks_of, template as rendered

STACKS = stacks_of(LambdaFunctionStack)
LIFECYCLE = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "LmbdRuntimeLifecycle.json"


def test_an_example_model_has_a_lambda_application():
    assert STACKS


@pytest.fixture(scope="module", params=STACKS, ids=stack_id)
def cls(request):
    return request.param


@pytest.fixture(scope="module")
def template(cls):
    return rendered(cls)


@pytest.fixture(scope="module")
def function(template):
    return one(template, "AWS::Lambda::Function")


def full_name(cls, suffix=""):
    return "${ProjectName}-${EnvironmentName}-%s%s" % (cls.app.name, suffix)


def test_function_is_named_after_the_application(cls, function):
    _, props = function[0], function[1]["Properties"]
    assert props["FunctionName"] == {"Fn::Sub": full_name(cls)}
    assert props["Runtime"] == {"Ref": "Runtime"} and props["Handler"] == {"Ref": "Handler"}


def test_live_alias_points_at_a_published_version_of_the_function(template, function):
    logical_id = function[0]
    _, alias = one(template, "AWS::Lambda::Alias")
    version_id, version = one(template, "AWS::Lambda::Version")
    assert alias["Properties"]["Name"] == ALIAS == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": logical_id}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    assert version["Properties"]["FunctionName"] == {"Ref": logical_id}
    assert "RoutingConfig" not in alias["Properties"]  # the deploy action owns the weights


def test_placeholder_code_exists_before_any_pipeline_run(function, template):
    code = function[1]["Properties"]["Code"]["ZipFile"]["Fn::If"]
    assert code[0] == "IsNodeRuntime"
    assert "exports.handler" in code[1] and "def handler(event, context)" in code[2]
    node = template["Conditions"]["IsNodeRuntime"]["Fn::Or"]
    assert sorted(c["Fn::Equals"][1] for c in node) == sorted(r for r in RUNTIMES if r.startswith("nodejs"))


def test_runtime_allows_only_supported_node_and_python_runtimes(template):
    runtime = template["Parameters"]["Runtime"]
    allowed = runtime["AllowedValues"]
    assert runtime["Default"] in allowed
    assert all(r.startswith(("nodejs", "python")) for r in allowed)
    assert "nodejs14.x" not in allowed and "nodejs16.x" not in allowed and "nodejs18.x" not in allowed
    assert {r for r in allowed if r.startswith("nodejs")} and {r for r in allowed if r.startswith("python")}


def test_no_allowed_runtime_is_deprecated_per_the_lifecycle_table(template):
    """cfn-lint ships Lambda's deprecation table; no allowed runtime is deprecated on the day RUNTIMES was
    reviewed (a fixed date, so the test's verdict does not change with the calendar); one past its date
    today is a warning that RUNTIMES needs a review."""
    lifecycle = json.loads(LIFECYCLE.read_text())
    today = datetime.date.today().isoformat()
    for runtime in template["Parameters"]["Runtime"]["AllowedValues"]:
        assert runtime in lifecycle, f"{runtime} is not a Lambda runtime cfn-lint knows"
        deprecated = lifecycle[runtime]["deprecated"]
        assert deprecated > RUNTIMES_REVIEWED_ON, (
            f"{runtime} was deprecated on {deprecated}, before RUNTIMES_REVIEWED_ON: remove it from "
            f"generator.components.lambda_function.RUNTIMES (and docs/lambda.md)")
        if deprecated <= today:
            warnings.warn(f"{runtime} is deprecated since {deprecated}: review "
                          f"generator.components.lambda_function.RUNTIMES and RUNTIMES_REVIEWED_ON")
    assert lifecycle["nodejs14.x"]["create-block"] <= RUNTIMES_REVIEWED_ON  # why it is refused


def test_runtime_review_date_is_not_in_the_future():
    assert RUNTIMES_REVIEWED_ON <= datetime.date.today().isoformat()


def test_log_group_is_the_functions_own_with_kms_and_retention(cls, template, function):
    group_id, group = one(template, "AWS::Logs::LogGroup")
    assert group["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/lambda/" + full_name(cls)}
    assert group["Properties"]["KmsKeyId"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["DeletionPolicy"] == "Retain"
    assert function[1]["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": group_id}}


def test_execution_role_is_least_privilege(template, function):
    role_id = function[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    [trust] = statements(role["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    policies = [r["Properties"] for r in resources(template, "AWS::IAM::Policy").values()
                if {"Ref": role_id} in r["Properties"]["Roles"]]
    assert not role.get("ManagedPolicyArns")
    granted = {}
    for policy in policies:
        for statement in statements(policy["PolicyDocument"]):
            assert statement["Resource"] != ["*"] and "*" not in as_list(statement["Resource"])
            for action in as_list(statement["Action"]):
                granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    # sending to a KMS-encrypted queue takes GenerateDataKey and Decrypt on its key, through SQS only
    assert set(granted) == {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage", "kms:Decrypt",
                            "kms:GenerateDataKey"}
    group_id, _ = one(template, "AWS::Logs::LogGroup")
    assert all("Ref" in json.dumps(r) and group_id in json.dumps(r) for r in granted["logs:PutLogEvents"])
    queue_id, _ = one(template, "AWS::SQS::Queue")
    assert granted["sqs:SendMessage"] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    kms = [s for p in policies for s in statements(p["PolicyDocument"]) if "kms:Decrypt" in as_list(s["Action"])]
    assert all(s["Condition"]["StringEquals"]["kms:ViaService"] == {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}
               for s in kms)


def test_reserved_concurrency_is_a_parameter(template, function):
    reserved = function[1]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": ["ReservesConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["ReservedConcurrency"]["Type"] == "Number"


def test_failed_events_go_to_an_encrypted_queue_as_dlq_or_destination(template, function):
    queue_id, queue = one(template, "AWS::SQS::Queue")
    assert queue["Properties"]["KmsMasterKeyId"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}
    assert function[1]["Properties"]["DeadLetterConfig"]["Fn::If"][:2] == [
        "UseDeadLetterQueue", {"TargetArn": {"Fn::GetAtt": [queue_id, "Arn"]}}]
    _, config = one(template, "AWS::Lambda::EventInvokeConfig")
    assert config["Properties"]["Qualifier"] == ALIAS
    assert config["Properties"]["DestinationConfig"]["Fn::If"][:2] == [
        "UseOnFailureDestination", {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}]
    assert set(template["Parameters"]["FailedEventHandling"]["AllowedValues"]) == {
        "dead-letter-queue", "on-failure-destination", "none"}
    [deny] = statements(one(template, "AWS::SQS::QueuePolicy")[1]["Properties"]["PolicyDocument"])
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alarms_watch_the_live_alias_and_notify_the_topic(cls, template):
    alarms = {a["Properties"]["MetricName"]: (logical_id, a["Properties"])
              for logical_id, a in resources(template, "AWS::CloudWatch::Alarm").items()}
    assert set(alarms) == {"Errors", "Throttles", "Duration"}
    topic = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-NotificationsTopicArn"}}
    for metric, (_, props) in alarms.items():
        assert props["Namespace"] == "AWS/Lambda"
        dimensions = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        assert dimensions["FunctionName"] == {"Fn::Sub": full_name(cls)}
        assert dimensions["Resource"] == {"Fn::Sub": ["${Name}:" + ALIAS, {"Name": {"Fn::Sub": full_name(cls)}}]}
        assert props["AlarmActions"] == [topic] and props["OKActions"] == [topic]
    assert alarms["Duration"][1]["ExtendedStatistic"] == "p99"
    assert alarms["Errors"][1]["Threshold"] == {"Ref": "ErrorsAlarmThreshold"}
    names = template["Outputs"]["AlarmNames"]
    assert names["Value"] == {"Fn::Join": [",", [{"Ref": alarms[m][0]} for m in ("Errors", "Throttles", "Duration")]]}
    assert names["Export"]["Name"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-AlarmNames" % cls.name}


def test_function_stack_is_deployed_in_every_runtime_environment(cls):
    assert list(cls.environments) == [e for e in cls.model.environment_names if e in cls.app.runtime_environments]
    assert cls.model.tools not in cls.environments
