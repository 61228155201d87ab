"""Before anything is touched: no credentials (exit 0 with the message), the account id typed
back, placeholders and unknown network ids refused, a state file of another account refused."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from botocore.stub import Stubber

from generator import cli
from generator.integ import cli as integ_cli, preflight

from ..deploy.conftest import Project, topic_template
from .conftest import offline_client, stubbed_clients

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACCOUNT = "210987654321"


def test_no_credentials_exits_0_with_the_message(tmp_path):
    """``cfn-delivery integ`` (what ``make integ`` runs) with nothing in the credential chain."""
    empty_config, empty_credentials = tmp_path / "config", tmp_path / "credentials"
    empty_config.write_text("")
    empty_credentials.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and "proxy" not in k.lower()}
    env.update(AWS_CONFIG_FILE=str(empty_config), AWS_SHARED_CREDENTIALS_FILE=str(empty_credentials),
               AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path), NO_PROXY="*")
    proc = subprocess.run([sys.executable, "-m", "generator.cli", "integ"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == preflight.NO_CREDENTIALS
    assert "SANDBOX" in proc.stdout


def test_the_subcommand_is_registered_with_its_flags(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["integ", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--approve", "--teardown-only", "--no-teardown", "--env", "--state-file", "--profile", "--region"):
        assert flag in text


def test_an_unknown_environment_is_a_usage_error(demo, sts):
    client, _ = sts
    code, _, err = _run(demo, stubbed_clients(("sts", client)), "--env", "nope")
    assert code == 2 and "unknown environment 'nope'" in err


def test_the_makefile_target_runs_the_subcommand():
    text = open(os.path.join(ROOT, "Makefile")).read()
    assert "\ninteg: $(STAMP)\n\t$(BIN)/cfn-delivery integ $(ARGS)\n" in text


@pytest.fixture
def demo(tmp_path, monkeypatch, capsys):
    project = Project(tmp_path / "project", monkeypatch, capsys, "http://127.0.0.1:9")
    project.add_stack("base", ("tools",))
    project.template("base", topic_template())
    project.params("tools", "base")
    return project


def _run(project, clients, *argv, stdin="", interactive=True):
    args = cli.build_parser().parse_args(["integ", "--state-file", str(project.root / "state.json"), *argv])
    project.capsys.readouterr()
    code = integ_cli.run(args, clients=clients, stdin=io.StringIO(stdin), interactive=interactive)
    out = project.capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def sts():
    client = offline_client("sts")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _identity(stubber):
    stubber.add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/me",
                                                 "UserId": "AIDA"}, {})


def test_a_wrong_account_id_is_refused_and_nothing_is_touched(demo, sts):
    client, stubber = sts
    _identity(stubber)   # the only call allowed: any other one would hit the stubber unprepared
    code, out, err = _run(demo, stubbed_clients(("sts", client)), stdin="123456789012\n")
    assert code == 3
    assert f"account {ACCOUNT} in eu-west-1" in out and "type the account id" in out
    assert f"'123456789012' is not {ACCOUNT}; nothing was touched" in err
    assert not (demo.root / "state.json").exists()


def test_no_answer_is_refused(demo, sts):
    client, stubber = sts
    _identity(stubber)
    code, _, err = _run(demo, stubbed_clients(("sts", client)), stdin="")
    assert code == 3 and "no answer" in err


def test_without_a_terminal_it_refuses(demo, sts, monkeypatch):
    client, stubber = sts
    _identity(stubber)
    code, _, err = _run(demo, stubbed_clients(("sts", client)), stdin=ACCOUNT + "\n", interactive=False)
    assert code == 3 and "stdin is not a terminal" in err
    monkeypatch.setenv("CI", "true")
    assert not preflight.interactive(io.StringIO(ACCOUNT))


def test_placeholders_are_refused_before_any_call(demo, sts):
    client, _ = sts   # no response stubbed: a call would fail the test
    demo.template("base", topic_template(extra_parameters={
        "NotificationEmail": {"Type": "String", "Default": ""},
        "AlarmArn": {"Type": "String", "Default": ""}}))
    demo.params("tools", "base", {"NotificationEmail": "team@example.com",
                                  "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x"})
    code, _, err = _run(demo, stubbed_clients(("sts", client)), stdin=ACCOUNT + "\n")
    assert code == 2
    assert "params/tools/base.json: NotificationEmail = 'team@example.com' is a sample value" in err
    assert "params/tools/base.json: AlarmArn" in err
    assert "nothing was touched" in err


def test_network_ids_the_account_lacks_are_refused(demo, sts):
    client, stubber = sts
    _identity(stubber)
    demo.template("base", topic_template(extra_parameters={
        "VpcId": {"Type": "AWS::EC2::VPC::Id"}, "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"}}))
    demo.params("tools", "base", {"VpcId": "vpc-0b1c2d3e4f5a60718", "Subnets": "subnet-0aaa1111bbbb22223,subnet-0b1c2d3e4f5a60711"})
    ec2 = offline_client("ec2")
    with Stubber(ec2) as e:
        e.add_client_error("describe_vpcs", "InvalidVpcID.NotFound", "The vpc ID 'vpc-0b1c2d3e4f5a60718' does not exist",
                           expected_params={"VpcIds": ["vpc-0b1c2d3e4f5a60718"]})
        e.add_response("describe_subnets", {"Subnets": [{"SubnetId": "subnet-0aaa1111bbbb22223"}]},
                       {"SubnetIds": ["subnet-0aaa1111bbbb22223"]})
        e.add_client_error("describe_subnets", "InvalidSubnetID.NotFound", "does not exist",
                           expected_params={"SubnetIds": ["subnet-0b1c2d3e4f5a60711"]})
        code, _, err = _run(demo, stubbed_clients(("sts", client), ("ec2", ec2)), stdin=ACCOUNT + "\n")
        e.assert_no_pending_responses()
    assert code == 2
    assert "VpcId: vpc-0b1c2d3e4f5a60718 does not exist in this account and region" in err
    assert "Subnets: subnet-0b1c2d3e4f5a60711 does not exist" in err
    assert "subnet-0aaa1111bbbb22223" not in err
    assert "nothing was deployed" in err


def test_a_state_file_of_another_account_is_refused(demo, sts):
    client, stubber = sts
    _identity(stubber)
    (demo.root / "state.json").write_text(json.dumps({"version": 1, "account": "111111111111", "region": "eu-west-1",
                                                      "stacks": [{"name": "x", "env": "tools", "stack": "base",
                                                                  "status": "deployed"}], "resources": []}))
    code, _, err = _run(demo, stubbed_clients(("sts", client)), "--teardown-only", stdin=ACCOUNT + "\n")
    assert code == 3 and "records a run in account 111111111111" in err


def test_teardown_only_with_an_empty_state_has_nothing_to_do(demo, sts):
    client, _ = sts
    code, out, _ = _run(demo, stubbed_clients(("sts", client)), "--teardown-only")
    assert code == 0 and "nothing to tear down" in out


def test_a_cycle_in_the_registry_is_reported_before_any_call(demo, sts):
    client, _ = sts
    demo.stacks[:] = []
    demo.add_stack("a", ("tools",), ["staging:b"])
    demo.add_stack("b", ("staging",), ["tools:a"])
    demo.params("staging", "b")
    code, _, err = _run(demo, stubbed_clients(("sts", client)))
    assert code == 2 and "cycle" in err
