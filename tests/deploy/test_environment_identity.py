"""An environment's ``account`` and ``region`` in delivery.yaml against where deploy goes.

LocalStack namespaces accounts by access key id (a 12-digit key id is the account) and stacks by
region, so the server tells which account and region a stack went to."""
from __future__ import annotations

import boto3
import pytest

from generator.stackmodel import aws
from tests.localstack_server import TEST_REGION

from . import conftest
from .conftest import stack_or_none, topic_template
from .test_validation import no_client  # noqa: F401 (fixture)

ACCOUNT = "111111111111"
OTHER = "222222222222"


@pytest.fixture
def as_account(monkeypatch):
    """``as_account(id)``: the next ``project.run`` uses credentials of account ``id``."""
    chosen = {}
    real = conftest.aws_env

    def env_with_account(endpoint):
        values = real(endpoint)
        if chosen.get("id"):
            values["AWS_ACCESS_KEY_ID"] = chosen["id"]
        return values

    monkeypatch.setattr(conftest, "aws_env", env_with_account)
    return lambda account: chosen.update(id=account)


@pytest.fixture
def services(monkeypatch):
    """The services deploy built a client for, in order."""
    built, real = [], aws.Clients.get

    def get(self, service):
        built.append(service)
        return real(self, service)

    monkeypatch.setattr(aws.Clients, "get", get)
    return built


def cfn_of(project, account, region=TEST_REGION):
    """CloudFormation of ``account`` (an access key id; ``test``: LocalStack's default account) in ``region``."""
    return boto3.client("cloudformation", endpoint_url=project.endpoint_url, region_name=region,
                        aws_access_key_id=account, aws_secret_access_key="test")


def _one_stack(project, env="dev", **config):
    project.monkeypatch.chdir(project.root)  # files named relative to the project, as a user sees them
    project.add_stack("base")
    project.template("base", topic_template())
    for e in ("tools", env):
        project.params(e, "base")
    if config:
        project.environment(env, **config)


def test_credentials_of_another_account_are_refused_before_any_cloudformation_call(project, as_account, services):
    _one_stack(project, account=ACCOUNT)
    as_account(OTHER)
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2, result.out + result.err
    [line] = result.err.splitlines()
    assert line.startswith("error: delivery.yaml:") and ": environments[1].account: " in line, line
    assert f"environment 'dev' lives in account {ACCOUNT}, but the credentials in use belong to account {OTHER}" in line
    assert "--profile" in line and "nothing was changed" in line
    assert services == ["sts"]  # the identity check is the first call; CloudFormation was never asked
    for account in (ACCOUNT, OTHER):
        assert stack_or_none(cfn_of(project, account), project.stack_name("dev", "base")) is None


def test_credentials_of_the_environments_account_deploy_there(project, as_account, services):
    _one_stack(project, account=ACCOUNT)
    as_account(ACCOUNT)
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 0, result.err
    assert f"account {ACCOUNT}: the credentials in use are environment 'dev''s" in result.out
    assert services[0] == "sts"
    name = project.stack_name("dev", "base")
    assert stack_or_none(cfn_of(project, ACCOUNT), name)["StackStatus"] == "CREATE_COMPLETE"
    assert stack_or_none(cfn_of(project, OTHER), name) is None


def test_no_account_in_the_model_makes_no_identity_call(project, services):
    _one_stack(project)
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 0, result.err
    assert "sts" not in services and "account " not in result.out


def test_a_plan_checks_every_account_before_its_first_change(project, as_account):
    _one_stack(project, account=ACCOUNT)
    project.params("tools", "base")
    as_account(OTHER)
    result = project.run("--env", "tools", "--env", "dev", "--yes")
    assert result.code == 2
    assert f"environments[1].account: environment 'dev' lives in account {ACCOUNT}" in result.err
    # tools comes first in the plan and has no account: it was not deployed either
    assert stack_or_none(cfn_of(project, OTHER), project.stack_name("tools", "base")) is None


def test_another_region_than_the_environments_is_refused_offline(offline_project, no_client):  # noqa: F811
    project = offline_project
    _one_stack(project, region="eu-west-1")
    result = project.run("--env", "dev", "--stack", "base", "--region", "eu-central-1", "--dry-run")
    assert result.code == 2
    [line] = result.err.splitlines()
    assert ": environments[1].region: environment 'dev' lives in region eu-west-1, but --region eu-central-1" in line
    assert "drop --region" in line


def test_the_environments_region_is_the_clients_region(project):
    _one_stack(project, region="eu-west-1")
    result = project.run("--env", "dev", "--stack", "base", "--yes")  # AWS_REGION is the test region
    assert result.code == 0, result.err
    name = project.stack_name("dev", "base")
    assert stack_or_none(cfn_of(project, "test", "eu-west-1"), name)["StackStatus"] == "CREATE_COMPLETE"
    assert stack_or_none(cfn_of(project, "test"), name) is None
    # the same region given explicitly is fine
    assert project.run("--env", "dev", "--stack", "base", "--region", "eu-west-1", "--dry-run").code == 0


def test_a_plan_refuses_another_region_before_any_call(offline_project, no_client):  # noqa: F811
    project = offline_project
    _one_stack(project, region="eu-west-1")
    result = project.run("--env", "tools", "--env", "dev", "--region", "eu-central-1", "--yes")
    assert result.code == 2
    assert "environments[1].region: environment 'dev' lives in region eu-west-1, but --region eu-central-1" \
        in result.err
