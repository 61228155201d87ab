"""Teardown against LocalStack (a stack with a retained, versioned bucket; resume from the state
file; a whole run of a fake project) and, with Stubber, a stack that fails to delete."""
from __future__ import annotations

import datetime
import io
import json
import uuid

import boto3
import pytest
from botocore.stub import Stubber

from generator import cli
from generator.deploy import aws
from generator.integ import cli as integ_cli, state as statefile, teardown
from tests.localstack_server import aws_env, localstack  # noqa: F401  (session fixture)

from ..deploy.conftest import Project, naming_parameters, stack_or_none
from .conftest import offline_client, stubbed_clients

LOCAL_ACCOUNT = "000000000000"


@pytest.fixture
def local(localstack, monkeypatch):  # noqa: F811
    for key, value in aws_env(localstack.endpoint_url).items():
        if key.startswith("AWS_") or "proxy" in key.lower():
            monkeypatch.setenv(key, value)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    return aws.Clients(aws.Target(region="us-east-1", endpoint_url=localstack.endpoint_url, max_attempts=3),
                       session=session)


def retained_bucket_template(bucket):
    return {
        "Parameters": naming_parameters(),
        "Resources": {
            "DataBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                           "Properties": {"BucketName": bucket,
                                          "VersioningConfiguration": {"Status": "Enabled"}}},
            "Logs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                     "Properties": {"LogGroupName": {"Fn::Sub": "/${ProjectName}/${EnvironmentName}/audit"}}},
            "Topic": {"Type": "AWS::SNS::Topic"},
        },
        "Outputs": {"BucketName": {"Value": {"Ref": "DataBucket"}}},
    }


def create_stack(clients, name, bucket, project="demo"):
    cfn = clients.cfn
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(retained_bucket_template(bucket)),
                     Parameters=[{"ParameterKey": "ProjectName", "ParameterValue": project},
                                 {"ParameterKey": "EnvironmentName", "ParameterValue": "tools"}])
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def fill(s3, bucket):
    """Three versions of one key, a deleted key (a delete marker) and a plain object."""
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket=bucket, Key="data/file.txt", Body=body)
    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="old.txt")
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"y")
    versions = s3.list_object_versions(Bucket=bucket)
    assert len(versions.get("Versions", [])) == 5 and len(versions.get("DeleteMarkers", [])) == 1


def bucket_exists(s3, bucket):
    return any(b["Name"] == bucket for b in s3.list_buckets().get("Buckets", []))


def log_group_exists(logs, name):
    return any(g["logGroupName"] == name for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"])


def test_teardown_deletes_the_stack_then_the_retained_bucket_and_log_group(local, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    name, bucket, project = f"it{suffix}-tools-data", f"it{suffix}-retained", f"it{suffix}"
    create_stack(local, name, bucket, project)
    fill(local.s3, bucket)
    state = statefile.State(tmp_path / "state.json")
    state.add_stack(name, "tools", "data")
    prompts = []

    def ask(prompt):
        prompts.append(prompt)
        return "delete\n"

    work = teardown.Teardown(local, state, ask, out=lambda *a, **k: None, poll_seconds=0.5, timeout_seconds=120)
    assert work.run() is True, work.left
    assert stack_or_none(local.cfn, name) is None
    assert not bucket_exists(local.s3, bucket)
    assert not log_group_exists(local.get("logs"), f"/{project}/tools/audit")
    # one confirmation, for the retained resources (no termination protection here)
    assert len(prompts) == 1 and "delete" in prompts[0]
    saved = json.loads((tmp_path / "state.json").read_text())
    assert {(r["type"], r["id"], r["status"]) for r in saved["resources"]} == {
        ("AWS::S3::Bucket", bucket, "deleted"), ("AWS::Logs::LogGroup", f"/{project}/tools/audit", "deleted")}
    assert saved["stacks"][0]["status"] == "deleted"


def test_without_confirmation_the_retained_resources_stay_recorded(local, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    name, bucket = f"it{suffix}-tools-data", f"it{suffix}-retained"
    create_stack(local, name, bucket, f"it{suffix}")
    local.cfn.update_termination_protection(StackName=name, EnableTerminationProtection=True)
    state = statefile.State(tmp_path / "state.json")
    state.add_stack(name, "tools", "data")
    answers = iter(["disable\n", "no\n"])
    work = teardown.Teardown(local, state, lambda prompt: next(answers), out=lambda *a, **k: None,
                             poll_seconds=0.5, timeout_seconds=120)
    assert work.run() is False
    assert stack_or_none(local.cfn, name) is None                      # protection turned off, stack deleted
    assert bucket_exists(local.s3, bucket)                             # not confirmed: kept
    assert f"AWS::S3::Bucket {bucket}" in work.left
    assert [r["id"] for r in state.pending_resources() if r["type"] == "AWS::S3::Bucket"] == [bucket]
    # an interrupted teardown resumes from the state file: --teardown-only, account typed back
    args = cli.build_parser().parse_args(["integ", "--teardown-only", "--state-file", str(tmp_path / "state.json"),
                                          "--poll-seconds", "0.5"])
    code = integ_cli.run(args, clients=local, stdin=io.StringIO(f"{LOCAL_ACCOUNT}\ndelete\n"), interactive=True)
    assert code == 0
    assert not bucket_exists(local.s3, bucket)
    assert not (tmp_path / "state.json").exists()                      # nothing left: the record is removed


def test_protected_stacks_are_not_touched_without_confirmation(local, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    name, bucket = f"it{suffix}-tools-data", f"it{suffix}-retained"
    create_stack(local, name, bucket, f"it{suffix}")
    local.cfn.update_termination_protection(StackName=name, EnableTerminationProtection=True)
    state = statefile.State(tmp_path / "state.json")
    state.add_stack(name, "tools", "data")
    work = teardown.Teardown(local, state, lambda prompt: "", out=lambda *a, **k: None, poll_seconds=0.5)
    with pytest.raises(teardown.TeardownError, match="termination protection left on"):
        work.run()
    assert stack_or_none(local.cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    # leave LocalStack clean for the other tests
    local.cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    teardown.Teardown(local, state, lambda prompt: "delete", out=lambda *a, **k: None, poll_seconds=0.5).run()


def test_a_whole_run_of_a_fake_project_deploys_reports_and_tears_down(local, tmp_path, monkeypatch, capsys):
    """Plan -> deploy (the deploy tool's Deployer, protected environment) -> no pipeline -> teardown
    with termination protection turned off and the retained bucket deleted after confirmation."""
    from generator.deploy import protect

    monkeypatch.setattr(protect, "set_policy", lambda cfn, name, policy: None)   # not emulated by LocalStack
    project = Project(tmp_path / "project", monkeypatch, capsys, local.target.endpoint_url)
    bucket = f"{project.name}-retained"
    project.add_stack("data", ("tools",))
    project.template("data", retained_bucket_template(bucket))
    project.params("tools", "data")
    project.environment("tools", Protected=True)
    args = cli.build_parser().parse_args(["integ", "--state-file", str(tmp_path / "state.json"),
                                          "--poll-seconds", "1.5"])
    capsys.readouterr()
    code = integ_cli.run(args, clients=local, stdin=io.StringIO(f"{LOCAL_ACCOUNT}\ndisable\ndelete\n"),
                         interactive=True)
    out = capsys.readouterr().out
    assert code == 0, out
    name = project.stack_name("tools", "data")
    assert f"deploy tools:data" in out and "termination protection is on for" in out
    table = out[out.rindex("step "):]
    assert "deploy tools:data" in table and "teardown" in table and "PASSED" in table
    assert stack_or_none(local.cfn, name) is None
    assert not bucket_exists(local.s3, bucket)
    assert not (tmp_path / "state.json").exists()


def test_a_stack_that_fails_to_delete_is_deleted_again_retaining_the_failed_resources(tmp_path, clock):
    cfn = offline_client("cloudformation")
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    sid = "arn:aws:cloudformation:eu-west-1:123456789012:stack/demo-tools-ecr/1"

    def described(status, protection=False):
        return {"Stacks": [{"StackName": "demo-tools-ecr", "StackId": sid, "CreationTime": now,
                            "StackStatus": status, "EnableTerminationProtection": protection}]}

    resources = {"StackResourceSummaries": [
        {"LogicalResourceId": "Repository", "PhysicalResourceId": "demo-tools-app", "ResourceType": "AWS::ECR::Repository",
         "ResourceStatus": "DELETE_FAILED", "LastUpdatedTimestamp": now}]}
    with Stubber(cfn) as s:
        s.add_response("describe_stacks", described("CREATE_COMPLETE"), {"StackName": "demo-tools-ecr"})
        s.add_response("list_stack_resources", resources, {"StackName": "demo-tools-ecr"})
        s.add_response("delete_stack", {}, {"StackName": "demo-tools-ecr"})
        s.add_response("describe_stacks", described("DELETE_IN_PROGRESS"), {"StackName": sid})
        s.add_response("describe_stacks", described("DELETE_FAILED"), {"StackName": sid})
        s.add_response("list_stack_resources", resources, {"StackName": sid})
        s.add_response("delete_stack", {}, {"StackName": "demo-tools-ecr", "RetainResources": ["Repository"]})
        s.add_client_error("describe_stacks", "ValidationError", f"Stack with id {sid} does not exist",
                           expected_params={"StackName": sid})
        ecr = offline_client("ecr")
        with Stubber(ecr) as e:
            e.add_response("describe_repositories", {"repositories": [{"repositoryName": "demo-tools-app"}]},
                           {"repositoryNames": ["demo-tools-app"]})
            e.add_response("delete_repository", {"repository": {"repositoryName": "demo-tools-app"}},
                           {"repositoryName": "demo-tools-app", "force": True})
            state = statefile.State(tmp_path / "state.json")
            state.add_stack("demo-tools-ecr", "tools", "ecr")
            work = teardown.Teardown(stubbed_clients(("cloudformation", cfn), ("ecr", ecr)), state,
                                     lambda prompt: "delete", out=lambda *a, **k: None, poll_seconds=5,
                                     clock=clock, sleep=clock.sleep)
            assert work.run() is True
            e.assert_no_pending_responses()
        s.assert_no_pending_responses()
    assert state.pending_stacks() == [] and state.pending_resources() == []


def test_kms_keys_are_scheduled_for_deletion_with_the_shortest_window(tmp_path):
    kms = offline_client("kms")
    with Stubber(kms) as k:
        k.add_response("describe_key", {"KeyMetadata": {"KeyId": "k-1", "KeyState": "Enabled"}}, {"KeyId": "k-1"})
        k.add_response("describe_key", {"KeyMetadata": {"KeyId": "k-2", "KeyState": "PendingDeletion"}},
                       {"KeyId": "k-2"})   # already scheduled (the stack's own deletion does that): left alone
        k.add_response("schedule_key_deletion", {"KeyId": "k-1"}, {"KeyId": "k-1", "PendingWindowInDays": 7})
        state = statefile.State(tmp_path / "state.json")
        state.add_resource("AWS::KMS::Key", "k-1", "demo-tools-foundation")
        state.add_resource("AWS::KMS::Key", "k-2", "demo-dev-foundation")
        work = teardown.Teardown(stubbed_clients(("kms", kms)), state, lambda prompt: "delete",
                                 out=lambda *a, **k: None)
        assert work.run() is True
        k.assert_no_pending_responses()


def test_the_access_log_bucket_goes_last_and_is_emptied_again_when_late_logs_refill_it(tmp_path, clock):
    s3 = offline_client("s3")
    with Stubber(s3) as s:
        for bucket in ("demo-logs", "demo-source"):   # both still exist
            s.add_response("head_bucket", {}, {"Bucket": bucket})
        s.add_response("get_bucket_logging", {}, {"Bucket": "demo-logs"})
        s.add_response("get_bucket_logging", {"LoggingEnabled": {"TargetBucket": "demo-logs", "TargetPrefix": "s3/"}},
                       {"Bucket": "demo-source"})
        s.add_response("list_object_versions", {"Versions": []}, {"Bucket": "demo-source"})
        s.add_response("delete_bucket", {}, {"Bucket": "demo-source"})
        s.add_response("list_object_versions", {"Versions": [{"Key": "s3/a", "VersionId": "1"}]}, {"Bucket": "demo-logs"})
        s.add_response("delete_objects", {}, {"Bucket": "demo-logs", "Delete": {
            "Objects": [{"Key": "s3/a", "VersionId": "1"}], "Quiet": True}})
        s.add_client_error("delete_bucket", "BucketNotEmpty", "The bucket you tried to delete is not empty",
                           expected_params={"Bucket": "demo-logs"})
        s.add_response("list_object_versions", {"Versions": [{"Key": "s3/b", "VersionId": "2"}]}, {"Bucket": "demo-logs"})
        s.add_response("delete_objects", {}, {"Bucket": "demo-logs", "Delete": {
            "Objects": [{"Key": "s3/b", "VersionId": "2"}], "Quiet": True}})
        s.add_response("delete_bucket", {}, {"Bucket": "demo-logs"})
        state = statefile.State(tmp_path / "state.json")
        state.add_resource("AWS::S3::Bucket", "demo-logs", "demo-tools-foundation")
        state.add_resource("AWS::S3::Bucket", "demo-source", "demo-tools-artifacts")
        work = teardown.Teardown(stubbed_clients(("s3", s3)), state, lambda prompt: "delete", out=lambda *a, **k: None,
                                 poll_seconds=5, clock=clock, sleep=clock.sleep)
        assert work.run() is True
        s.assert_no_pending_responses()
    assert clock.sleeps == [5]
