"""`diff --env/--stack` against a stack deployed on the local CloudFormation server.

The real `foundation` template, rendered from the code, is deployed with one resource
property changed and one parameter value different from params/dev/foundation.json; the diff
of the working tree against that deployed stack must report exactly those two things."""
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from generator import render, registry, yamlio
from tests.helpers import ROOT, copy_model
from tests.localstack_server import aws_env, client, localstack  # noqa: F401  (session fixture)


def run(*args, env):
    return subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180, env=env)


@pytest.fixture
def deployed_foundation(localstack, tmp_path):  # noqa: F811
    project = "rv" + uuid.uuid4().hex[:6]
    copy_model(tmp_path)
    shutil.copytree(ROOT / "params", tmp_path / "params")
    path = tmp_path / "params" / "dev" / "foundation.json"
    data = json.loads(path.read_text())
    data["Parameters"]["ProjectName"] = project
    path.write_text(json.dumps(data))

    template = yamlio.load(render.render(registry.get("foundation")))
    template["Resources"]["NotificationsTopic"]["Properties"]["DisplayName"] = "Deployed display name"
    parameters = dict(data["Parameters"], LogRetentionDays="90")
    assert data["Parameters"]["LogRetentionDays"] != "90"
    name = f"{project}-dev-foundation"
    cf = client("cloudformation", localstack.endpoint_url)
    cf.create_stack(StackName=name, TemplateBody=yamlio.dump(template), Capabilities=["CAPABILITY_NAMED_IAM"],
                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    cf.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 180})
    env = dict(aws_env(localstack.endpoint_url), CFN_DELIVERY_ROOT=str(tmp_path), NO_COLOR="1")
    env.pop("AWS_ENDPOINT_URL", None)  # the command must use --endpoint-url, not the environment
    try:
        yield name, env, localstack.endpoint_url, data["Parameters"]["LogRetentionDays"]
    finally:
        cf.delete_stack(StackName=name)


def test_diff_against_deployed_stack_reports_the_changed_resource(deployed_foundation):
    name, env, endpoint, file_retention = deployed_foundation
    result = run("diff", "--env", "dev", "--stack", "foundation", "--endpoint-url", endpoint,
                 "--region", "us-east-1", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["base"] == f"deployed {name}"
    # the template change, and what the parameter value change does to the resource using it
    # (deployed with 90 days: a shorter retention in the parameter file deletes older events)
    shorter = ["retention-reduced"] if int(file_retention) < 90 else []
    assert [(r["logical_id"], r["change"], r["replacement"], r["properties"], r["risks"]) for r in data["resources"]] == [
        ("NotificationsTopic", "modify", False, ["DisplayName"], []),
        ("AuditLogGroup", "modify", False, ["RetentionInDays"], shorter)]
    assert data["resources"][0]["values"] == [{"path": "DisplayName", "old": "Deployed display name",
                                               "new": "Alarms and pipeline events"}]
    assert data["resources"][1]["values"] == [{"path": "RetentionInDays", "old": "90", "new": file_retention}]
    assert [(p["name"], p["change"], p["values"]) for p in data["parameters"]] == [
        ("LogRetentionDays", "value", [{"path": "Value", "old": "90", "new": file_retention}])]
    assert data["outputs"] == [] and data["other"] == []

    text = run("diff", "--env", "dev", "--stack", "foundation", "--endpoint-url", endpoint, "--region", "us-east-1", env=env)
    assert text.returncode == 0
    assert "DisplayName: Deployed display name -> Alarms and pipeline events" in text.stdout


def test_changed_project_name_shows_the_replacements_it_causes(deployed_foundation):
    """Same template, another ProjectName in the parameter file: every named resource is replaced."""
    name, env, endpoint, file_retention = deployed_foundation
    path = Path(env["CFN_DELIVERY_ROOT"]) / "params" / "dev" / "foundation.json"
    data = json.loads(path.read_text())
    data["Parameters"]["ProjectName"] += "x"
    path.write_text(json.dumps(data))
    result = run("diff", "--env", "dev", "--stack", "foundation", "--stack-name", name, "--endpoint-url", endpoint,
                 "--region", "us-east-1", "--format", "json", "--fail-on", "data-loss", env=env)
    assert result.returncode == 3, result.stderr
    resources = {r["logical_id"]: (r["replacement"], r["risks"]) for r in json.loads(result.stdout)["resources"]}
    assert resources["AccessLogBucket"] == (True, ["data-loss"])
    assert resources["AuditLogGroup"] == (True, ["data-loss"] + (["retention-reduced"] if int(file_retention) < 90 else []))
    assert resources["NotificationsTopic"] == (True, [])


def test_missing_deployed_stack_is_a_usage_error(localstack, tmp_path):  # noqa: F811
    copy_model(tmp_path)
    shutil.copytree(ROOT / "params", tmp_path / "params")
    env = dict(aws_env(localstack.endpoint_url), CFN_DELIVERY_ROOT=str(tmp_path))
    result = run("diff", "--env", "dev", "--stack", "foundation", "--stack-name", "no-such-stack",
                 "--endpoint-url", localstack.endpoint_url, "--region", "us-east-1", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: stack 'no-such-stack': ") and result.stderr.count("\n") == 1
