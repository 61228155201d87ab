"""``cfn-delivery history`` against moto's DynamoDB (in-process): the table is created with the generated
``deployments`` template's key schema, the records are written in the recorder's contract shape, and the
command must list them newest first (a Query on ``Target``), as a table or as JSON."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from generator import cli, registry, render
from generator.operate import cli as operate, records

from .conftest import (REGION, client, clients_with, item, stub_identity, stub_table_stack, table_name,
                       use_model_with)


@pytest.fixture
def moto_env(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def create_table(dynamodb, model):
    """The table as the generated template declares it (key schema, attribute types, billing mode)."""
    table = render.rendered(registry.get("deployments"))[0]["Resources"]
    (props,) = [r["Properties"] for r in table.values() if r["Type"] == "AWS::DynamoDB::Table"]
    dynamodb.create_table(TableName=table_name(model), BillingMode=props["BillingMode"],
                          AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"])


def run(model, argv, dynamodb):
    cfn, sts = client("cloudformation"), client("sts")
    args = cli.build_parser().parse_args(["history", *argv])
    with Stubber(cfn) as cfn_stub, Stubber(sts) as sts_stub:
        stub_identity(sts_stub, model, model.tools)
        stub_table_stack(cfn_stub, model)
        code = operate.run_history(args, clients=clients_with(cloudformation=cfn, sts=sts, dynamodb=dynamodb))
        cfn_stub.assert_no_pending_responses()
    return code


def test_history_lists_the_records_newest_first(moto_env, monkeypatch, capsys):
    model, app = use_model_with(monkeypatch, "ecs-rolling")
    env, other = app.waves[-1], app.waves[0]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_table(dynamodb, model)
    arn = f"arn:aws:ecs:{REGION}:123456789012:task-definition/{model.project.name}-{env}-{app.name}"
    for when, execution, outcome, artifact in [
            ("2026-11-28T09:00:00Z", "e1", "healthy", None),  # an older record: no artifact version
            ("2026-11-29T09:00:00Z", "e2", "healthy", f"{arn}:7"),
            ("2026-11-30T09:00:00Z", "e3", "unhealthy", f"{arn}:8")]:
        dynamodb.put_item(TableName=table_name(model), Item=item(app.name, env, when, execution, outcome, app.kind,
                                                                 artifact, digest="sha256:" + "ab" * 32))
    dynamodb.put_item(TableName=table_name(model),  # another environment's record is not listed
                      Item=item(app.name, other, "2026-12-01T09:00:00Z", "x", "healthy", app.kind, f"{arn}:9"))
    assert run(model, ["--app", app.name, "--env", env], dynamodb) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["DEPLOYED", "AT", "OUTCOME", "ARTIFACT", "VERSION", "IMAGE", "DIGEST", "SOURCE",
                                "VERSION", "EXECUTION", "ID"]
    rows = [line.split() for line in lines[2:5]]
    assert [r[0] for r in rows] == ["2026-11-30T09:00:00Z", "2026-11-29T09:00:00Z", "2026-11-28T09:00:00Z"]
    assert rows[0][1:] == ["unhealthy", f"{model.project.name}-{env}-{app.name}:8", "sha256:abababababab",
                           "Source=v1", "e3"]
    assert rows[2][2] == "-"  # listed, never a candidate (the footnote says so)
    assert "never a rollback candidate" in lines[-1]
    assert "x" not in [r[-1] for r in rows]


def test_history_limit_and_json(moto_env, monkeypatch, capsys):
    model, app = use_model_with(monkeypatch, "beanstalk")
    env = app.waves[0]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_table(dynamodb, model)
    for n in range(1, 6):
        dynamodb.put_item(TableName=table_name(model), Item=item(app.name, env, f"2026-11-2{n}T09:00:00Z", f"e{n}",
                                                                 kind=app.kind, artifact=f"label-{n}"))
    assert run(model, ["--app", app.name, "--env", env, "--limit", "2", "--json"], dynamodb) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["ArtifactVersion"] for r in found] == ["label-5", "label-4"]
    assert found[0]["Kind"] == app.kind and found[0]["Outcome"] == "healthy" and found[0]["StartedAt"] == 1764547200


def test_history_of_an_environment_without_records(moto_env, monkeypatch, capsys):
    model, app = use_model_with(monkeypatch, "ecs-bluegreen")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_table(dynamodb, model)
    assert run(model, ["--app", app.name, "--env", app.waves[0]], dynamodb) == 0
    assert capsys.readouterr().out.startswith(f"no deployment of {app.name} in {app.waves[0]} recorded")


@pytest.mark.parametrize("command", ["history", "rollback"])
def test_unknown_application_or_environment_is_one_line_exit_2(monkeypatch, capsys, command):
    model, app = use_model_with(monkeypatch, "beanstalk")
    for argv, key in [(["--app", app.name + "x", "--env", app.waves[0]], "applications"),
                      (["--app", app.name, "--env", "zz9"], "environments"),
                      (["--app", app.name, "--env", model.tools], f"applications[{app.name}].waves")]:
        assert cli.main([command, *argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"error: {model.path}: {key}") and "give --" in err


def test_query_follows_pages_and_stops_at_the_limit():
    dynamodb = client("dynamodb")
    page = lambda *ns: [item("a", "e", f"2026-11-2{n}T00:00:00Z", f"e{n}") for n in ns]  # noqa: E731
    with Stubber(dynamodb) as stub:
        stub.add_response("query", {"Items": page(9, 8), "LastEvaluatedKey": {"Target": {"S": "a#e"}}})
        stub.add_response("query", {"Items": page(7, 6)})
        found = list(records.query(dynamodb, "t", "a", "e", limit=3))
    assert [r["ExecutionId"] for r in found] == ["e9", "e8", "e7"]
    with Stubber(dynamodb) as stub:
        stub.add_response("query", {"Items": page(9), "LastEvaluatedKey": {"Target": {"S": "a#e"}}})
        stub.add_response("query", {"Items": page(7)})
        assert len(list(records.query(dynamodb, "t", "a", "e"))) == 2
        stub.assert_no_pending_responses()


# -- --copy-from: the records an earlier table holds (a rename leaves one behind) ------------------------------------
def _tables(model):
    """The current table and an earlier one, both with the generated key schema."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_table(dynamodb, model)
    table = render.rendered(registry.get("deployments"))[0]["Resources"]
    (props,) = [r["Properties"] for r in table.values() if r["Type"] == "AWS::DynamoDB::Table"]
    old = f"{model.project.name}-{model.tools}-HistoryTable-OLD"
    dynamodb.create_table(TableName=old, BillingMode=props["BillingMode"],
                          AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"])
    return dynamodb, old


def _scan(dynamodb, table):
    return sorted((i["Target"]["S"], i["DeployedAt"]["S"], i["Outcome"]["S"])
                  for i in dynamodb.scan(TableName=table)["Items"])


def test_copy_from_an_earlier_table_adds_the_missing_records_and_never_overwrites(moto_env, monkeypatch, capsys):
    model, app = use_model_with(monkeypatch, "lambda")
    env, other = app.waves[-1], app.waves[0]
    dynamodb, old = _tables(model)
    current = table_name(model)
    for when, execution in [("2026-11-01T09:00:00Z", "o1"), ("2026-11-02T09:00:00Z", "o2")]:
        dynamodb.put_item(TableName=old, Item=item(app.name, env, when, execution, kind=app.kind, artifact="3"))
    dynamodb.put_item(TableName=old, Item=item(app.name, other, "2026-11-03T09:00:00Z", "o3", kind=app.kind,
                                               artifact="4"))  # another environment: not this run's
    # the same key already in the current table, with another outcome: kept as it is
    dynamodb.put_item(TableName=current, Item=item(app.name, env, "2026-11-02T09:00:00Z", "o2", "unhealthy",
                                                   app.kind, "3"))

    assert run(model, ["--app", app.name, "--env", env, "--copy-from", old, "--dry-run"], dynamodb) == 0
    out = capsys.readouterr().out
    assert f"would copy 1 record(s) of {app.name} in {env} from {old} into {current}; 1 already there" in out
    assert "nothing was written" in out
    assert len(_scan(dynamodb, current)) == 1

    assert run(model, ["--app", app.name, "--env", env, "--copy-from", old], dynamodb) == 0
    out = capsys.readouterr().out
    assert f"copied 1 record(s) of {app.name} in {env} from {old} into {current}; 1 already there" in out
    assert "2026-11-01T09:00:00Z" in out  # then listed from the current table
    assert _scan(dynamodb, current) == [(f"{app.name}#{env}", "2026-11-01T09:00:00Z#o1", "healthy"),
                                        (f"{app.name}#{env}", "2026-11-02T09:00:00Z#o2", "unhealthy")]
    assert len(_scan(dynamodb, old)) == 3  # the earlier table is only read

    assert run(model, ["--app", app.name, "--env", env, "--copy-from", old], dynamodb) == 0
    assert "copied 0 record(s)" in capsys.readouterr().out  # a second run is a no-op


@pytest.mark.parametrize("extra,message", [
    (["--dry-run"], "--dry-run applies to --copy-from only"),
    (["--copy-from", " "], "--copy-from needs the name"),
])
def test_copy_from_refuses_bad_flags_before_any_call(monkeypatch, capsys, extra, message):
    model, app = use_model_with(monkeypatch, "beanstalk")
    args = cli.build_parser().parse_args(["history", "--app", app.name, "--env", app.waves[0], *extra])
    assert operate.run_history(args, clients=clients_with()) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line


def test_copy_from_the_current_table_is_refused(moto_env, monkeypatch, capsys):
    model, app = use_model_with(monkeypatch, "ecs-rolling")
    dynamodb, _ = _tables(model)
    assert run(model, ["--app", app.name, "--env", app.waves[0], "--copy-from", table_name(model)], dynamodb) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "that is the current history table" in line


def test_copy_from_a_missing_table_fails_with_one_line(moto_env, monkeypatch, capsys):
    model, app = use_model_with(monkeypatch, "ecs-bluegreen")
    dynamodb, _ = _tables(model)
    assert run(model, ["--app", app.name, "--env", app.waves[0], "--copy-from", "no-such-table"], dynamodb) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no-such-table" in line or "ResourceNotFound" in line
