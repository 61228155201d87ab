"""What LocalStack stores but does not enforce (or does not emulate) is checked on the API calls:
adaptive retries on throttling, termination protection, the stack policy, rollback triggers; plus
the FAILED change set and the blocking stack states."""
from __future__ import annotations

import datetime
import json
import re

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import ANY, Stubber

from generator import cli
from generator.deploy import aws, changeset, main, protect

from .conftest import topic_template

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
ALARM = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-prod-5xx"


def _args(*argv):
    return cli.build_parser().parse_args(["deploy", "--poll-seconds", "0", *argv])


def _client():
    return boto3.session.Session().client("cloudformation", region_name="eu-west-1", aws_access_key_id="a",
                                          aws_secret_access_key="b", endpoint_url="http://127.0.0.1:9")


def _clients(cfn):
    clients = aws.Clients(aws.Target(region="eu-west-1"))
    clients._clients["cloudformation"] = cfn
    return clients


def _missing(stubber, name):
    stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id {name} does not exist",
                             expected_params={"StackName": name})


def _stack(name, status, **extra):
    return {"Stacks": [dict({"StackName": name, "StackId": f"id/{name}", "CreationTime": NOW, "StackStatus": status},
                            **extra)]}


def _change_set(name, status="CREATE_COMPLETE", changes=(), reason=None):
    body = {"ChangeSetName": "cs", "StackName": name, "Status": status, "ExecutionStatus": "AVAILABLE",
            "Changes": list(changes)}
    if reason:
        body["StatusReason"] = reason
        body["ExecutionStatus"] = "UNAVAILABLE"
    return body


def _event(name, logical, status, rtype="AWS::SNS::Topic", reason=None, n=0):
    event = {"StackId": f"id/{name}", "EventId": f"e{n}", "StackName": name, "LogicalResourceId": logical,
             "ResourceType": rtype, "Timestamp": NOW + datetime.timedelta(seconds=n), "ResourceStatus": status}
    if reason:
        event["ResourceStatusReason"] = reason
    return event


@pytest.fixture
def prod(offline_project):
    project = offline_project
    project.add_stack("data")
    template = topic_template()
    template["Resources"]["Bucket"] = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"}
    template["Resources"]["Logs"] = {"Type": "AWS::Logs::LogGroup"}
    project.template("data", template)
    project.params("prod", "data", tags={"Owner": "team"})
    project.environment("prod", Protected=True, RollbackTriggers=[ALARM], MonitoringTimeInMinutes=15)
    return project


def _guard_policy():
    return json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*",
         "Resource": ["LogicalResourceId/Bucket", "LogicalResourceId/Logs"]},
    ]}, sort_keys=True)


def test_protected_create_sends_rollback_triggers_then_protects_the_stack(prod, capsys):
    name = prod.stack_name("prod", "data")
    cfn = _client()
    with Stubber(cfn) as stub:
        _missing(stub, name)
        stub.add_response("create_change_set", {"Id": "cs-id", "StackId": f"id/{name}"}, {
            "StackName": name, "ChangeSetName": ANY, "ChangeSetType": "CREATE", "Description": ANY,
            "TemplateBody": ANY, "Parameters": ANY,
            "Tags": [{"Key": "Owner", "Value": "team"}, {"Key": "Project", "Value": prod.name},
                     {"Key": "Environment", "Value": "prod"}, {"Key": "ManagedBy", "Value": "cfn-delivery"}],
            "RollbackConfiguration": {"RollbackTriggers": [{"Arn": ALARM, "Type": "AWS::CloudWatch::Alarm"}],
                                      "MonitoringTimeInMinutes": 15},
        })
        for _ in range(3):  # waiter, final status, full description
            stub.add_response("describe_change_set", _change_set(name))
        stub.add_response("describe_stacks", _stack(name, "REVIEW_IN_PROGRESS"))  # still ours to create
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_response("execute_change_set", {}, {"StackName": name, "ChangeSetName": ANY,
                                                     "ClientRequestToken": ANY})
        stub.add_response("describe_stacks", _stack(name, "CREATE_COMPLETE"))
        stub.add_response("describe_stack_events", {"StackEvents": [_event(name, "Topic", "CREATE_COMPLETE")]})
        stub.add_response("update_termination_protection", {"StackId": f"id/{name}"},
                          {"StackName": name, "EnableTerminationProtection": True})
        stub.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": _guard_policy()})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "termination protection enabled" in out and "denied on Bucket, Logs" in out


def test_protected_update_sets_the_policy_before_executing(prod, capsys):
    name = prod.stack_name("prod", "data")
    cfn = _client()
    deployed = _stack(name, "UPDATE_COMPLETE", EnableTerminationProtection=True,
                      Parameters=[{"ParameterKey": "ProjectName", "ParameterValue": prod.name},
                                  {"ParameterKey": "EnvironmentName", "ParameterValue": "prod"},
                                  {"ParameterKey": "TopicSuffix", "ParameterValue": "audit"}])
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", deployed)
        stub.add_response("get_template", {"TemplateBody": json.dumps(topic_template())})
        stub.add_response("create_change_set", {"Id": "cs-id"}, {
            "StackName": name, "ChangeSetName": ANY, "ChangeSetType": "UPDATE", "Description": ANY,
            "TemplateBody": ANY, "Parameters": ANY, "Tags": ANY, "RollbackConfiguration": ANY})
        modify = {"Type": "Resource", "ResourceChange": {
            "Action": "Modify", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic",
            "Replacement": "True", "Scope": ["Properties"],
            "Details": [{"Target": {"Attribute": "Properties", "Name": "TopicName", "RequiresRecreation": "Always"}}]}}
        for _ in range(3):
            stub.add_response("describe_change_set", _change_set(name, changes=[modify]))
        stub.add_response("describe_stacks", deployed)  # unchanged since the change set was made
        stub.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": _guard_policy()})
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_response("execute_change_set", {})
        stub.add_response("describe_stacks", _stack(name, "UPDATE_COMPLETE"))
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": _guard_policy()})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 0, capsys.readouterr().err
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Modify"))
    assert row.split() == ["Modify", "Topic", "AWS::SNS::Topic", "True", "Properties", "TopicName"]


def test_failed_change_set_prints_the_reason_and_deletes_it(offline_project, capsys):
    project = offline_project
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    name = project.stack_name("dev", "base")
    cfn = _client()
    reason = "Template error: instance of Fn::GetAtt references undefined resource Nope"
    with Stubber(cfn) as stub:
        _missing(stub, name)
        stub.add_response("create_change_set", {"Id": "cs-id"})
        stub.add_response("describe_change_set", _change_set(name, "FAILED", reason=reason))  # waiter: failure
        stub.add_response("describe_change_set", _change_set(name, "FAILED", reason=reason))
        stub.add_response("delete_change_set", {}, {"StackName": name, "ChangeSetName": ANY})
        stub.add_response("describe_stacks", _stack(name, "REVIEW_IN_PROGRESS"))
        stub.add_response("list_change_sets", {"Summaries": []}, {"StackName": name})  # no other deploy's
        stub.add_response("delete_stack", {}, {"StackName": name})
        stub.add_client_error("describe_stacks", "ValidationError", "Stack does not exist")  # waiter: gone
        code = main.run(_args("--env", "dev", "--stack", "base", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 1
    err = capsys.readouterr().err
    assert re.fullmatch(rf"error: change set for {name} failed: {reason} \(change set cfn-delivery-\S+ and the empty "
                        rf"stack {name} deleted\)", err.strip()), err


@pytest.mark.parametrize("status, expected", [
    ("UPDATE_ROLLBACK_FAILED", "aws cloudformation continue-update-rollback --stack-name {name}"),
    ("UPDATE_IN_PROGRESS", "is UPDATE_IN_PROGRESS: another operation is running; follow it with "
                           "`cfn-delivery deploy --env dev --stack base --watch`"),
    ("REVIEW_IN_PROGRESS", "it was never created (a CREATE change set was left unexecuted, e.g. by --no-execute); "
                           "rerun with --replace-failed"),
    ("DELETE_FAILED", "aws cloudformation delete-stack --stack-name {name}"),
])
def test_blocking_states_are_explained(offline_project, capsys, status, expected):
    project = offline_project
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    name = project.stack_name("dev", "base")
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack(name, status))
        code = main.run(_args("--env", "dev", "--stack", "base", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and expected.format(name=name) in err, err


def test_root_cause_skips_the_cascade():
    from generator.deploy import watch

    events = [
        _event("s", "A", "CREATE_IN_PROGRESS", n=1),
        _event("s", "B", "CREATE_FAILED", reason="Resource creation cancelled", n=2),
        _event("s", "C", "CREATE_FAILED", reason="Bucket name already exists", rtype="AWS::S3::Bucket", n=3),
        _event("s", "D", "CREATE_FAILED", n=3),  # no reason: part of the cascade on LocalStack
        _event("s", "s", "CREATE_FAILED", rtype="AWS::CloudFormation::Stack",
               reason="The following resource(s) failed to create: [B, C]", n=4),
    ]
    causes = watch.root_causes(events)
    assert [e["LogicalResourceId"] for e in causes] == ["C"]
    assert watch.describe_cause(causes[0]) == "C (AWS::S3::Bucket) CREATE_FAILED: Bucket name already exists"


THROTTLED = (b'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>'
             b'<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>')


class _Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def test_throttling_is_retried_with_adaptive_mode_and_the_deploy_succeeds(project, cfn, capsys):
    """Botocore's Stubber answers before the retry handler runs, so throttling is injected one layer
    lower (``before-send``, where a real HTTP answer would come in): the first attempt of every
    operation gets AWS's Throttling error, the retry goes to the LocalStack server."""
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    from tests.localstack_server import aws_env

    for key, value in aws_env(project.endpoint_url).items():
        if key.startswith("AWS_"):
            project.monkeypatch.setenv(key, value)
    clients = aws.Clients(aws.Target(region="us-east-1", endpoint_url=project.endpoint_url))
    tool_cfn = clients.cfn
    assert tool_cfn.meta.config.retries == {"mode": "adaptive", "total_max_attempts": aws.DEFAULT_MAX_ATTEMPTS}
    attempts = {}

    def throttle_first(request, **kwargs):
        operation = kwargs["event_name"].rsplit(".", 1)[-1]
        attempts[operation] = attempts.get(operation, 0) + 1
        if attempts[operation] == 1:
            return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(THROTTLED))
        return None  # send it for real

    tool_cfn.meta.events.register("before-send.cloudformation.*", throttle_first)
    code = main.run(_args("--env", "dev", "--stack", "base", "--yes", "--poll-seconds", "0.5"), clients=clients)
    assert code == 0, capsys.readouterr().err
    for operation in ("DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet"):
        assert attempts[operation] >= 2, attempts
    assert cfn.describe_stacks(StackName=project.stack_name("dev", "base"))["Stacks"][0]["StackStatus"] \
        == "CREATE_COMPLETE"


def test_throttling_exhausted_is_one_line(offline_project, capsys):
    project = offline_project
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    clients = aws.Clients(aws.Target(region="us-east-1", endpoint_url=project.endpoint_url, max_attempts=2))
    sent = []

    def always_throttle(request, **kwargs):
        sent.append(1)
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(THROTTLED))

    clients.session  # noqa: B018 - the session reads credentials from the environment
    project.monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    project.monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    clients.cfn.meta.events.register("before-send.cloudformation.*", always_throttle)
    code = main.run(_args("--env", "dev", "--stack", "base", "--yes", "--max-attempts", "2"), clients=clients)
    assert code == 1 and len(sent) == 2
    assert capsys.readouterr().err.strip() == (
        "error: DescribeStacks failed: Throttling: Rate exceeded (retries exhausted; try again later)")


def test_stack_policy_keeps_the_parameter_file_statements(prod):
    from generator.deploy import plan

    path = prod.root / "params" / "prod" / "data.json"
    data = json.loads(path.read_text())
    data["StackPolicy"] = {"Statement": [{"Effect": "Deny", "Action": "Update:*", "Principal": "*",
                                          "Resource": "LogicalResourceId/Topic"}]}
    path.write_text(json.dumps(data))
    stack_plan = plan.build("prod", prod.stacks[0])
    policy = protect.stack_policy(stack_plan)
    assert policy["Statement"][0]["Resource"] == "LogicalResourceId/Topic"
    assert policy["Statement"][-1]["Resource"] == ["LogicalResourceId/Bucket", "LogicalResourceId/Logs"]


def test_no_changes_reason_is_recognised():
    assert changeset.is_no_changes("The submitted information didn't contain changes. "
                                   "Submit different information to create a change set.")
    assert not changeset.is_no_changes("Template error: something")


# -- protection is a state, verified on every deploy ---------------------------------------------

def _deployed_prod(prod, protection):
    name = prod.stack_name("prod", "data")
    template = json.loads((prod.root / "templates" / "data.yaml").read_text())
    stack = _stack(name, "UPDATE_COMPLETE", EnableTerminationProtection=protection,
                   Parameters=[{"ParameterKey": "ProjectName", "ParameterValue": prod.name},
                               {"ParameterKey": "EnvironmentName", "ParameterValue": "prod"},
                               {"ParameterKey": "TopicSuffix", "ParameterValue": "events"}],
                   Tags=[{"Key": "Owner", "Value": "team"}, {"Key": "Project", "Value": prod.name},
                         {"Key": "Environment", "Value": "prod"}, {"Key": "ManagedBy", "Value": "cfn-delivery"}])
    return name, stack, template


def _no_change_start(stub, name, stack, template):
    stub.add_response("describe_stacks", stack, {"StackName": name})
    stub.add_response("get_template", {"TemplateBody": json.dumps(template)})


def test_no_change_deploy_repairs_termination_protection_and_stack_policy(prod, capsys):
    name, stack, template = _deployed_prod(prod, protection=False)
    cfn = _client()
    with Stubber(cfn) as stub:
        _no_change_start(stub, name, stack, template)
        stub.add_response("update_termination_protection", {"StackId": f"id/{name}"},
                          {"StackName": name, "EnableTerminationProtection": True})
        stub.add_response("get_stack_policy", {}, {"StackName": name})  # no policy at all
        stub.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": _guard_policy()})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines()[1:] == [
        f"no changes: {name} already runs this template, parameters and tags (no change set created)",
        "protection repaired: termination protection was off; enabled it",
        "protection repaired: the stack policy was missing; set it "
        "(Update:Replace/Update:Delete denied on Bucket, Logs)",
    ]


def test_no_change_deploy_restores_a_policy_left_allow_all(prod, capsys):
    """An interrupted --allow-replacement update leaves the allow-all policy: the next run restores the guard."""
    name, stack, template = _deployed_prod(prod, protection=True)
    cfn = _client()
    with Stubber(cfn) as stub:
        _no_change_start(stub, name, stack, template)
        stub.add_response("get_stack_policy", {"StackPolicyBody": json.dumps(protect.ALLOW_ALL)})
        stub.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": _guard_policy()})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 0
    assert "protection repaired: the stack policy was different from the guarding policy; set it" \
        in capsys.readouterr().out


def test_no_change_deploy_with_protection_in_place_only_reads(prod, capsys):
    name, stack, template = _deployed_prod(prod, protection=True)
    cfn = _client()
    with Stubber(cfn) as stub:
        _no_change_start(stub, name, stack, template)
        stub.add_response("get_stack_policy", {"StackPolicyBody": _guard_policy()}, {"StackName": name})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()  # no UpdateTerminationProtection, no SetStackPolicy
    assert code == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "protection verified: termination protection on, stack policy in place "
        "(Update:Replace/Update:Delete denied on Bucket, Logs)")


def test_dry_run_reports_missing_protection_without_repairing(prod, capsys):
    name, stack, template = _deployed_prod(prod, protection=False)
    cfn = _client()
    with Stubber(cfn) as stub:
        _no_change_start(stub, name, stack, template)
        stub.add_response("get_stack_policy", {})
        code = main.run(_args("--env", "prod", "--stack", "data", "--dry-run"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 0
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "protection missing: termination protection is off",
        "protection missing: the stack policy is missing",
        "protection: a deploy without --dry-run/--no-execute repairs it",
    ]


def test_denied_set_stack_policy_on_a_no_change_deploy_exits_1(prod, capsys):
    name, stack, template = _deployed_prod(prod, protection=True)
    cfn = _client()
    with Stubber(cfn) as stub:
        _no_change_start(stub, name, stack, template)
        stub.add_response("get_stack_policy", {})
        stub.add_client_error("set_stack_policy", "AccessDenied", "User is not authorized to perform "
                              "cloudformation:SetStackPolicy", http_status_code=403,
                              expected_params={"StackName": name, "StackPolicyBody": _guard_policy()})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    out, err = capsys.readouterr()
    assert code == 1
    assert "protection verified" not in out and "protection repaired" not in out
    assert err == (
        f"error: protection of {name} not repaired: the stack policy is missing and could not be set "
        f"(SetStackPolicy failed: AccessDenied: User is not authorized to perform cloudformation:SetStackPolicy "
        f"(the caller lacks this permission)); the stack is NOT fully protected (grant "
        f"cloudformation:UpdateTerminationProtection, GetStackPolicy and SetStackPolicy, then deploy again: "
        f"a deploy with no changes repairs it)\n")


def test_denied_termination_protection_still_sets_the_policy_and_exits_1(prod, capsys):
    name, stack, template = _deployed_prod(prod, protection=False)
    cfn = _client()
    with Stubber(cfn) as stub:
        _no_change_start(stub, name, stack, template)
        stub.add_client_error("update_termination_protection", "AccessDenied", "not authorized", http_status_code=403)
        stub.add_response("get_stack_policy", {})
        stub.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": _guard_policy()})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: protection of {name} not repaired: termination protection is off and could "
                          f"not be enabled (UpdateTerminationProtection failed: AccessDenied")
    assert len(err.splitlines()) == 1


def test_denied_policy_after_an_update_says_the_stack_is_unprotected(prod, capsys):
    """The update itself succeeded; the guard could not be restored afterwards: exit 1, not success."""
    name, stack, template = _deployed_prod(prod, protection=True)
    stack["Stacks"][0]["Parameters"][2]["ParameterValue"] = "audit"  # differs: a change set is made
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack)
        stub.add_response("get_template", {"TemplateBody": json.dumps(template)})
        stub.add_response("create_change_set", {"Id": "cs-id"})
        modify = {"Type": "Resource", "ResourceChange": {
            "Action": "Modify", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic",
            "Replacement": "False", "Scope": ["Properties"], "Details": []}}
        for _ in range(3):
            stub.add_response("describe_change_set", _change_set(name, changes=[modify]))
        stub.add_response("describe_stacks", stack)
        stub.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": _guard_policy()})
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_response("execute_change_set", {})
        stub.add_response("describe_stacks", _stack(name, "UPDATE_COMPLETE"))
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_client_error("set_stack_policy", "AccessDenied", "not authorized", http_status_code=403)
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{name}: UPDATE_COMPLETE" in out
    assert err.startswith(f"error: protection of {name} not applied: the stack policy could not be set "
                          f"(SetStackPolicy failed: AccessDenied: not authorized")
    assert "the stack is NOT fully protected" in err and len(err.splitlines()) == 1


def test_denied_policy_before_an_update_executes_nothing_and_deletes_the_change_set(prod, capsys):
    name, stack, template = _deployed_prod(prod, protection=True)
    stack["Stacks"][0]["Parameters"][2]["ParameterValue"] = "audit"
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack)
        stub.add_response("get_template", {"TemplateBody": json.dumps(template)})
        stub.add_response("create_change_set", {"Id": "cs-id"})
        for _ in range(3):
            stub.add_response("describe_change_set", _change_set(name))
        stub.add_response("describe_stacks", stack)
        stub.add_client_error("set_stack_policy", "AccessDenied", "not authorized", http_status_code=403)
        stub.add_response("delete_change_set", {}, {"StackName": name, "ChangeSetName": ANY})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()  # no ExecuteChangeSet
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: stack policy for {name} could not be set before the update (SetStackPolicy "
                          f"failed: AccessDenied: not authorized")
    import re
    assert re.search(r"; nothing was executed \(change set cfn-delivery-\S+ deleted\)$", err.strip()), err


# -- --execute-change-set: AWS's answers (LocalStack's GetTemplate ignores ChangeSetName) ----------

def _reviewed(name, template, suffix="events", execution="AVAILABLE", changes=()):
    body = _change_set(name, changes=changes)
    body["ChangeSetName"] = "reviewed"
    body["ExecutionStatus"] = execution
    body["Parameters"] = [{"ParameterKey": "ProjectName", "ParameterValue": name.split("-")[0]},
                          {"ParameterKey": "EnvironmentName", "ParameterValue": "prod"},
                          {"ParameterKey": "TopicSuffix", "ParameterValue": suffix}]
    return body


def test_reviewed_create_on_a_protected_environment_is_checked_confirmed_executed_and_protected(prod, capsys,
                                                                                                monkeypatch):
    import io

    name = prod.stack_name("prod", "data")
    template = json.loads((prod.root / "templates" / "data.yaml").read_text())
    cfn = _client()
    add = {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "Topic",
                                                  "ResourceType": "AWS::SNS::Topic", "Scope": [], "Details": []}}
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack(name, "REVIEW_IN_PROGRESS"), {"StackName": name})
        stub.add_response("describe_change_set", _reviewed(name, template, changes=[add]),
                          {"StackName": name, "ChangeSetName": "reviewed", "IncludePropertyValues": True})
        stub.add_response("get_template", {"TemplateBody": json.dumps(template)},
                          {"StackName": name, "ChangeSetName": "reviewed", "TemplateStage": "Original"})
        stub.add_response("describe_stacks", _stack(name, "REVIEW_IN_PROGRESS"))
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_response("execute_change_set", {}, {"StackName": name, "ChangeSetName": "reviewed",
                                                     "ClientRequestToken": "reviewed"})
        stub.add_response("describe_stacks", _stack(name, "CREATE_COMPLETE"))
        stub.add_response("describe_stack_events", {"StackEvents": [_event(name, "Topic", "CREATE_COMPLETE")]})
        stub.add_response("update_termination_protection", {"StackId": f"id/{name}"},
                          {"StackName": name, "EnableTerminationProtection": True})
        stub.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": _guard_policy()})
        code = main.run(_args("--env", "prod", "--stack", "data", "--execute-change-set", "reviewed"),
                        clients=_clients(cfn), stdin=io.StringIO(f"{name}\n"))
        stub.assert_no_pending_responses()
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "change set reviewed matches the local template, parameters and tags" in out
    assert f"type the stack name ({name}) to execute" in out
    assert "termination protection enabled" in out and f"{name}: CREATE_COMPLETE" in out


def test_reviewed_template_that_differs_from_the_local_one_is_refused(prod, capsys):
    name = prod.stack_name("prod", "data")
    template = json.loads((prod.root / "templates" / "data.yaml").read_text())
    reviewed_template = json.loads(json.dumps(template))
    del reviewed_template["Resources"]["Logs"]
    reviewed_template["Outputs"] = {}
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack(name, "UPDATE_COMPLETE", EnableTerminationProtection=True))
        stub.add_response("describe_change_set", _reviewed(name, template, suffix="audit"))
        stub.add_response("get_template", {"TemplateBody": json.dumps(reviewed_template)})
        code = main.run(_args("--env", "prod", "--stack", "data", "--execute-change-set", "reviewed", "--yes"),
                        clients=_clients(cfn))
        stub.assert_no_pending_responses()  # no ExecuteChangeSet, no DeleteChangeSet
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: change set reviewed no longer matches the local inputs: template (resources Logs; "
                          "sections Outputs); parameters TopicSuffix (change set 'audit', local 'events'); "
                          "nothing was executed and the change set is kept; ")
    assert len(err.splitlines()) == 1


def test_obsolete_change_set_is_refused(prod, capsys):
    name = prod.stack_name("prod", "data")
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack(name, "UPDATE_COMPLETE", EnableTerminationProtection=True))
        stub.add_response("describe_change_set", _reviewed(name, {}, execution="OBSOLETE"))
        code = main.run(_args("--env", "prod", "--stack", "data", "--execute-change-set", "reviewed", "--yes"),
                        clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 2
    assert capsys.readouterr().err.startswith(
        "error: change set reviewed cannot be executed (status CREATE_COMPLETE, execution OBSOLETE: the stack "
        "changed after it was created); create a new one with ")


# -- --replace-failed after a create whose rollback kept resources (DeletionPolicy Retain) ---------

def _kept_bucket_project(offline_project, bucket_name):
    project = offline_project
    project.add_stack("data")
    template = topic_template()
    template["Resources"]["Bucket"] = {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                                       "Properties": {"BucketName": bucket_name}}
    project.template("data", template)
    project.params("dev", "data")
    return project, project.stack_name("dev", "data")


def _rollback_events(name, physical):
    kept = _event(name, "Bucket", "DELETE_SKIPPED", rtype="AWS::S3::Bucket", n=3)
    kept["PhysicalResourceId"] = physical
    return {"StackEvents": [  # newest first, back to the stack's CREATE_IN_PROGRESS
        _event(name, name, "ROLLBACK_COMPLETE", rtype="AWS::CloudFormation::Stack", n=4), kept,
        _event(name, "Topic", "CREATE_FAILED", reason="boom", n=2),
        _event(name, name, "CREATE_IN_PROGRESS", rtype="AWS::CloudFormation::Stack", n=1)]}


def test_replace_failed_refuses_when_a_kept_resource_would_clash_by_name(offline_project, capsys):
    project, name = _kept_bucket_project(offline_project, {"Fn::Sub": "${ProjectName}-${EnvironmentName}-data"})
    physical = f"{project.name}-dev-data"
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack(name, "ROLLBACK_COMPLETE"))
        stub.add_response("describe_stack_events", _rollback_events(name, physical))
        code = main.run(_args("--env", "dev", "--stack", "data", "--yes", "--replace-failed"), clients=_clients(cfn))
        stub.assert_no_pending_responses()  # no DeleteStack
    assert code == 1
    assert capsys.readouterr().err == (
        f"error: stack {name} is ROLLBACK_COMPLETE and its failed create kept Bucket (AWS::S3::Bucket {physical}) "
        f"(DeletionPolicy Retain); the new stack would create Bucket under the same name and fail; delete it by hand "
        f"if it is not needed (or give the template another name), then rerun with --replace-failed; nothing was "
        f"deleted\n")


def test_replace_failed_names_kept_resources_and_recreates_when_names_do_not_clash(offline_project, capsys):
    project, name = _kept_bucket_project(offline_project, {"Fn::Sub": "${ProjectName}-${EnvironmentName}-data2"})
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack(name, "ROLLBACK_COMPLETE"))
        stub.add_response("describe_stack_events", _rollback_events(name, f"{project.name}-dev-data"))
        stub.add_response("delete_stack", {}, {"StackName": name})
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {name} does not exist")
        stub.add_client_error("create_change_set", "ValidationError", "stop here")  # the retry starts
        stub.add_response("delete_change_set", {})  # the cleanup path: nothing was left
        _missing(stub, name)
        code = main.run(_args("--env", "dev", "--stack", "data", "--yes", "--replace-failed"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    out, err = capsys.readouterr()
    assert code == 1 and "CreateChangeSet failed: ValidationError: stop here" in err
    assert (f"note: the failed create kept Bucket (AWS::S3::Bucket {project.name}-dev-data) (DeletionPolicy Retain); "
            f"they stay outside any stack after this delete; the new stack does not reuse their names") in out


def test_rollback_complete_without_replace_failed_names_what_was_kept(offline_project, capsys):
    project, name = _kept_bucket_project(offline_project, "fixed-name")
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack(name, "ROLLBACK_COMPLETE"))
        stub.add_response("describe_stack_events", _rollback_events(name, "fixed-name"))
        code = main.run(_args("--env", "dev", "--stack", "data", "--yes"), clients=_clients(cfn))
    assert code == 1
    assert "(its rollback kept Bucket (AWS::S3::Bucket fixed-name) (DeletionPolicy Retain): they exist outside the " \
           "stack and stay when it is deleted)" in capsys.readouterr().err


def test_execute_change_set_refused_as_obsolete_by_aws_is_a_concurrent_deploy(prod, capsys):
    """AWS refuses a change set made obsolete by another deployment: exit 1, named, change set deleted."""
    name, stack, template = _deployed_prod(prod, protection=True)
    stack["Stacks"][0]["Parameters"][2]["ParameterValue"] = "audit"
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack)
        stub.add_response("get_template", {"TemplateBody": json.dumps(template)})
        stub.add_response("create_change_set", {"Id": "cs-id"})
        for _ in range(3):
            stub.add_response("describe_change_set", _change_set(name))
        stub.add_response("describe_stacks", stack)
        stub.add_response("set_stack_policy", {})
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_client_error("execute_change_set", "InvalidChangeSetStatus",
                              "ChangeSet [cs-id] cannot be executed in its current status of [OBSOLETE]")
        stub.add_response("delete_change_set", {}, {"StackName": name, "ChangeSetName": ANY})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"error: change set (\S+) was not executed: ExecuteChangeSet failed: InvalidChangeSetStatus: "
                        r".*OBSOLETE\]; another deployment of \S+ is running or ran since it was created; follow it "
                        r"with `cfn-delivery deploy --env prod --stack data --watch`, then deploy again \(change set "
                        r"\1 deleted\)", err.strip()), err


def test_stack_ending_on_another_deployments_change_set_is_outcome_unknown_not_success(prod, capsys):
    """Our ExecuteChangeSet was accepted, but when the stack settles it runs another deployment's change
    set (a concurrent deploy won the race): never reported as success, exit 4, nothing protected on a guess."""
    name, stack, template = _deployed_prod(prod, protection=True)
    stack["Stacks"][0]["Parameters"][2]["ParameterValue"] = "audit"
    other = f"arn:aws:cloudformation:eu-west-1:123456789012:changeSet/cfn-delivery-other/{'0' * 8}"
    settled = json.loads(json.dumps(stack, default=str))
    settled["Stacks"][0].update(StackStatus="UPDATE_COMPLETE", ChangeSetId=other, CreationTime=NOW)
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack)
        stub.add_response("get_template", {"TemplateBody": json.dumps(template)})
        stub.add_response("create_change_set", {"Id": "cs-id"})
        for _ in range(3):
            stub.add_response("describe_change_set", dict(_change_set(name), ChangeSetId="cs-id"))
        stub.add_response("describe_stacks", stack)
        stub.add_response("set_stack_policy", {})
        stub.add_response("describe_stack_events", {"StackEvents": []})
        stub.add_response("execute_change_set", {})
        stub.add_response("describe_stacks", settled)
        stub.add_response("describe_stack_events", {"StackEvents": []})
        code = main.run(_args("--env", "prod", "--stack", "data", "--yes"), clients=_clients(cfn))
        stub.assert_no_pending_responses()
    assert code == 4
    captured = capsys.readouterr()
    assert re.fullmatch(rf"error: outcome unknown for {name}: the stack ended with another deployment's change set "
                        rf"\(cfn-delivery-other\), not this one \(cfn-delivery-\S+\); the operation continues in "
                        rf"CloudFormation; resume with `cfn-delivery deploy --env prod --stack data --watch`",
                        captured.err.strip()), captured.err
    assert f"{name}: UPDATE_COMPLETE" not in captured.out  # the success line of report()


def _report_plan(outputs):
    from types import SimpleNamespace
    return SimpleNamespace(stack_name="t-dev-base", template={"Resources": {}, "Outputs": outputs})


def test_outputs_read_late_are_printed(capsys):
    # LocalStack may answer CREATE_COMPLETE before it has resolved the outputs; they are read again.
    cfn = _client()
    deployer = main.Deployer(_args(), _clients(cfn), "rev", None)
    late = [{"OutputKey": "TopicArn", "OutputValue": "arn:aws:sns:eu-west-1:123456789012:t"}]
    with Stubber(cfn) as stubber:
        stubber.add_response("describe_stacks", _stack("t-dev-base", "CREATE_COMPLETE"), {"StackName": "t-dev-base"})
        stubber.add_response("describe_stacks", _stack("t-dev-base", "CREATE_COMPLETE", Outputs=late),
                             {"StackName": "t-dev-base"})
        code = deployer.report(_report_plan({"TopicArn": {"Value": {"Ref": "Topic"}}}),
                               _stack("t-dev-base", "CREATE_COMPLETE")["Stacks"][0], [])
        stubber.assert_no_pending_responses()
    assert code == 0
    assert "TopicArn  arn:aws:sns:eu-west-1:123456789012:t" in capsys.readouterr().out


def test_stack_without_unconditional_outputs_is_not_read_again(capsys, monkeypatch):
    cfn = _client()
    deployer = main.Deployer(_args(), _clients(cfn), "rev", None)
    reads = []
    monkeypatch.setattr(cfn, "describe_stacks", lambda **kw: reads.append(kw))
    final = _stack("t-dev-base", "UPDATE_COMPLETE")["Stacks"][0]
    assert deployer.report(_report_plan({}), final, []) == 0
    assert deployer.report(_report_plan({"Url": {"Condition": "HasUrl", "Value": "x"}}), final, []) == 0
    assert reads == []
    assert "Outputs:" not in capsys.readouterr().out
