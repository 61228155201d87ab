"""``aws cloudformation deploy`` (the AWS CLI from PyPI, v1, installed in the LocalStack venv) deploys
the foundation template with the values of params/dev/foundation.json, as the README shows; then the
deploy tool finds the stack identical (same template, parameters and tags)."""
from __future__ import annotations

import json
import subprocess

import pytest

from generator import cli
from tests.localstack_server import aws_env, client, start_localstack, venv_dir

from .conftest import ROOT

#: The ``aws`` command, run by its own Python with botocore's waiters sleeping at most a second between
#: polls: ``cloudformation deploy`` waits 5 s per change-set poll and 30 s per stack poll
#: (awscli/customizations/cloudformation/deployer.py), half a minute of this test for a stack LocalStack
#: creates in seconds. Same command line, same calls, same attempt counts; only the pause between polls.
AWS_CLI_POLLING_EVERY_SECOND = """
import sys, time, types
import botocore.waiter
botocore.waiter.time = types.SimpleNamespace(sleep=lambda seconds: time.sleep(min(seconds, 1.0)))
import awscli.clidriver
sys.exit(awscli.clidriver.main())
"""


@pytest.fixture(scope="module")
def server():
    try:
        srv = start_localstack()  # its own server: the real "shop" names must not clash with other tests
    except RuntimeError as err:
        pytest.fail(f"LocalStack could not be started: {err}", pytrace=False)
    yield srv
    srv.stop()


def _overrides(capsys, *extra):
    capsys.readouterr()
    assert cli.main(["params", "overrides", "--env", "dev", "--stack", "foundation", *extra]) == 0
    return capsys.readouterr().out


def test_aws_cli_deploys_foundation_with_the_dev_parameter_file(server, tmp_path, capsys, monkeypatch):
    aws = venv_dir() / "bin" / "aws"
    assert aws.exists(), f"{aws} missing: scripts/localstack_venv.sh installs awscli"
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("CFN_DELIVERY_ROOT", raising=False)
    (tmp_path / "overrides.json").write_text(_overrides(capsys))
    (tmp_path / "tags.json").write_text(_overrides(capsys, "--tags"))
    env = aws_env(server.endpoint_url)
    command = [str(aws.parent / "python"), "-c", AWS_CLI_POLLING_EVERY_SECOND, "cloudformation", "deploy", "--stack-name", "shop-dev-foundation",
               "--template-file", "templates/foundation.yaml",
               "--parameter-overrides", f"file://{tmp_path / 'overrides.json'}",
               "--tags", f"file://{tmp_path / 'tags.json'}",
               "--capabilities", "CAPABILITY_NAMED_IAM", "--endpoint-url", server.endpoint_url]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Successfully created/updated stack - shop-dev-foundation" in proc.stdout

    cfn = client("cloudformation", server.endpoint_url)
    stack = cfn.describe_stacks(StackName="shop-dev-foundation")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    expected = json.loads((ROOT / "params" / "dev" / "foundation.json").read_text())
    deployed = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert {k: deployed[k] for k in expected["Parameters"]} == expected["Parameters"]
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags == dict(expected["Tags"], Project="shop", Environment="dev", ManagedBy="cfn-delivery")

    # the deploy tool sees the same stack: nothing to do, no change set
    for key, value in env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    before = cfn.list_change_sets(StackName="shop-dev-foundation")["Summaries"]
    capsys.readouterr()
    code = cli.main(["deploy", "--env", "dev", "--stack", "foundation", "--endpoint-url", server.endpoint_url,
                     "--poll-seconds", "0.5"])
    out = capsys.readouterr().out
    assert code == 0 and "no changes" in out and "no change set created" in out
    assert cfn.list_change_sets(StackName="shop-dev-foundation")["Summaries"] == before
