"""Shared by the history and rollback tests: a model holding an application of the wanted kind (names are
read from it, never spelled), clients whose AWS calls are stubbed or served by moto, and the history
records in the contract's shape (``generator/operate/records.py``)."""
from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from generator import model as model_module, stackmodel
from generator.deploy import aws
from generator.stacks import deployments

REGION = "eu-west-1"
ACCOUNT = "123456789012"
KINDS = ("beanstalk", "ecs-bluegreen", "ecs-rolling", "lambda")


def model_files() -> list:
    root = Path(__file__).resolve().parents[2]
    return [root / "delivery.yaml", *sorted((root / "examples" / "models").glob("*.yaml"))]


def use_model_with(monkeypatch, kind: str):
    """Make the first model (the sample, then the examples) with an application of ``kind`` current;
    (model, application)."""
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(Path(__file__).resolve().parents[2]))
    for path in model_files():
        model = model_module.load(path)
        apps = [a for a in model.applications if a.kind == kind]
        if apps:
            monkeypatch.setenv(model_module.MODEL_ENV, str(path))
            return model_module.current(), apps[0]
    pytest.skip(f"no model with a {kind} application")


def wave(model, app, protected: bool) -> str:
    found = [e for e in app.waves if model.environment(e).protected == protected]
    if not found:
        pytest.skip(f"{app.name} has no {'protected' if protected else 'unprotected'} wave")
    return found[0]


def client(service: str):
    return boto3.session.Session().client(service, region_name=REGION, aws_access_key_id="a",
                                          aws_secret_access_key="b", endpoint_url="http://127.0.0.1:9")


def clients_with(**services) -> aws.Clients:
    clients = aws.Clients(aws.Target(region=REGION))
    for name, c in services.items():
        clients._clients[name] = c
    return clients


def stack_outputs(name: str, values: dict) -> dict:
    return {"Stacks": [{"StackName": name, "StackId": f"id/{name}", "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in values.items()]}]}


def table_name(model) -> str:
    return f"{model.project.name}-{model.tools}-HistoryTable-1A2B3C"


def stub_table_stack(stub, model):
    """DescribeStacks of the tools deployments stack, answering its table name output."""
    name = stackmodel.stack_name(model.project.name, model.tools, deployments.EXPORTS.stack)
    stub.add_response("describe_stacks", stack_outputs(name, {deployments.EXPORTS.table_name.key: table_name(model)}),
                      {"StackName": name})


def stub_identity(stub, model, env):
    declared = model.environment(env).account
    stub.add_response("get_caller_identity", {"Account": declared or ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/o",
                                              "UserId": "AIDA"}, {})


def item(app, env, when, execution, outcome="healthy", kind=None, artifact=None, digest="", source="Source=v1"):
    """One history item as the recorder writes it (the contract's attributes; ``artifact`` None: an older
    record, without the artifact attributes)."""
    values = {"Target": f"{app}#{env}", "DeployedAt": f"{when}#{execution}", "Application": app,
              "Environment": env, "ExecutionId": execution, "Pipeline": f"{app}-pipeline", "Version": source,
              "Outcome": outcome, "Detail": "HTTP 200" if outcome == "healthy" else "HTTP 503"}
    if artifact is not None:
        values.update(Kind=kind, ArtifactVersion=artifact, ImageDigest=digest, SourceVersion=source)
    typed = {k: {"S": v} for k, v in values.items()}
    typed.update({k: {"N": "1764547200"} for k in ("StartedAt", "EndedAt", "ExpiresAt")})
    return typed
