"""Checks the LocalStack harness and records CloudFormation behaviours of
LocalStack 2026.3.0 (v2 engine) that the deploy tool relies on."""

import json
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from localstack_server import client, localstack  # noqa: E402,F401  (fixture)

NO_CHANGES_REASON = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _template(bucket_name):
    return json.dumps(
        {
            "Resources": {
                "Bucket": {
                    "Type": "AWS::S3::Bucket",
                    "Properties": {
                        "BucketName": bucket_name,
                        "VersioningConfiguration": {"Status": "Enabled"},
                    },
                },
                "Topic": {"Type": "AWS::SNS::Topic"},
            },
            "Outputs": {
                "BucketName": {"Value": {"Ref": "Bucket"}},
                "TopicArn": {"Value": {"Ref": "Topic"}},
            },
        }
    )


def _wait_change_set(cf, stack, name, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        cs = cf.describe_change_set(StackName=stack, ChangeSetName=name)
        if cs["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            return cs
        assert time.monotonic() < deadline, cs
        time.sleep(0.2)


def _wait_stack(cf, stack, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        s = cf.describe_stacks(StackName=stack)["Stacks"][0]
        if not s["StackStatus"].endswith("_IN_PROGRESS"):
            return s
        assert time.monotonic() < deadline, s
        time.sleep(0.2)


def test_server_binds_loopback_only(localstack):
    assert localstack.endpoint_url.startswith("http://127.0.0.1:")
    assert localstack.health()["services"]["cloudformation"] in ("available", "running")
    print(f"\nLocalStack ready in {localstack.startup_seconds:.2f}s at {localstack.endpoint_url}")


def test_client_refuses_non_loopback():
    with pytest.raises(ValueError):
        client("s3", "https://s3.amazonaws.com")


def test_change_set_lifecycle(localstack):
    cf = client("cloudformation", localstack.endpoint_url)
    stack, bucket = _name("harness"), _name("harness-bucket")

    cf.create_change_set(
        StackName=stack,
        ChangeSetName="create",
        ChangeSetType="CREATE",
        TemplateBody=_template(bucket),
    )
    cf.get_waiter("change_set_create_complete").wait(
        StackName=stack, ChangeSetName="create", WaiterConfig={"Delay": 1}
    )
    cf.execute_change_set(StackName=stack, ChangeSetName="create")
    cf.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cf.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    }
    assert outputs["BucketName"] == bucket
    assert outputs["TopicArn"].startswith("arn:aws:sns:us-east-1:000000000000:")
    s3 = client("s3", localstack.endpoint_url)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    # no-op change set: FAILED with AWS's exact wording
    cf.create_change_set(
        StackName=stack, ChangeSetName="noop", TemplateBody=_template(bucket)
    )
    noop = _wait_change_set(cf, stack, "noop")
    print(f"\nno-op change set: Status={noop['Status']} ExecutionStatus="
          f"{noop['ExecutionStatus']} StatusReason={noop.get('StatusReason')!r}")
    assert noop["Status"] == "FAILED"
    assert noop["StatusReason"] == NO_CHANGES_REASON

    # renaming the bucket: Modify + Replacement "True"
    cf.create_change_set(
        StackName=stack, ChangeSetName="rename", TemplateBody=_template(bucket + "-2")
    )
    rename = _wait_change_set(cf, stack, "rename")
    assert rename["Status"] == "CREATE_COMPLETE", rename
    changes = [c["ResourceChange"] for c in rename["Changes"]]
    print(f"rename change set: {changes}")
    assert [(c["LogicalResourceId"], c["Action"], c.get("Replacement")) for c in changes] == [
        ("Bucket", "Modify", "True")
    ]
    cf.delete_change_set(StackName=stack, ChangeSetName="rename")
    cf.delete_stack(StackName=stack)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})


def test_failing_resource_rolls_back(localstack):
    cf = client("cloudformation", localstack.endpoint_url)
    stack = _name("harness-fail")
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            # PutParameter rejects an empty value -> CREATE_FAILED at execute time
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "DependsOn": "Topic",
                "Properties": {"Type": "String", "Value": ""},
            },
        }
    }
    cf.create_change_set(
        StackName=stack,
        ChangeSetName="create",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
    )
    assert _wait_change_set(cf, stack, "create")["Status"] == "CREATE_COMPLETE"
    cf.execute_change_set(StackName=stack, ChangeSetName="create")
    final = _wait_stack(cf, stack)
    events = cf.describe_stack_events(StackName=stack)["StackEvents"]
    print(f"\nfailed stack: {final['StackStatus']} reason={final.get('StackStatusReason')!r}")
    for e in reversed(events):
        print(f"  {e['LogicalResourceId']:<28} {e['ResourceType']:<28} "
              f"{e['ResourceStatus']:<20} {e.get('ResourceStatusReason')!r}")
    assert final["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"
              and e["LogicalResourceId"] == "Param"]
    assert failed and "PutParameter" in failed[0]["ResourceStatusReason"]
    cf.delete_stack(StackName=stack)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1})
