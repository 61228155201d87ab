"""botocore event hooks for tests: answer an AWS call as AWS would (an error, a result) before it
leaves the client, on every client the tool builds (``generator.stackmodel.Clients``).

    from tests.aws_hooks import hooks, error, answer  # noqa: F401  (fixture)

    def test_x(hooks):
        hooks.append(("before-call.cloudformation.ListImports", lambda **kw: answer({"Imports": ["s"]})))
"""
from __future__ import annotations

import pytest
from botocore.awsrequest import AWSResponse

from generator.stackmodel import aws as model_aws


class Raw:
    """A raw HTTP body botocore can stream."""

    def __init__(self, body):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def answer(parsed: dict, status: int = 200):
    """A before-call return value: botocore hands ``parsed`` back as the operation's result."""
    return AWSResponse("http://127.0.0.1", status, {}, Raw(b"")), parsed


def error(code, message, status=400):
    """A before-call answer: botocore raises ClientError(code) as if AWS had answered it."""
    return answer({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                  status)


@pytest.fixture
def hooks(monkeypatch):
    """``hooks.append((event, handler))``: registered on every client the tool builds."""
    registered = []
    original = model_aws.Clients.get

    def get(self, service):
        fresh = service not in self._clients
        client = original(self, service)
        if fresh:
            for event, handler in registered:
                client.meta.events.register(event, handler)
        return client

    monkeypatch.setattr(model_aws.Clients, "get", get)
    return registered


#: Stack states whose template is deployed (what ListImports looks at).
SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
           "IMPORT_ROLLBACK_COMPLETE")


def _imported_names(value, known: dict, found: set):
    from generator.stackmodel import exports

    if isinstance(value, dict):
        if set(value) == {"Fn::ImportValue"}:
            name = exports.resolve(value["Fn::ImportValue"], known)
            if isinstance(name, str):
                found.add(name)
            return
        for item in value.values():
            _imported_names(item, known, found)
    elif isinstance(value, list):
        for item in value:
            _imported_names(item, known, found)


def list_imports_from(cfn):
    """A ``before-call.cloudformation.ListImports`` handler that answers as AWS does, from the
    stacks deployed on the local server (whose own ListImports always answers an empty list): the
    stacks whose template imports the export (``Fn::ImportValue``, resolved with their parameters),
    else AWS's ``ValidationError: Export '...' is not imported by any stack.``"""
    from generator import stackmodel
    from generator.stackmodel import exports

    def handler(params, **kwargs):
        wanted = params["body"]["ExportName"]
        users = []
        for page in cfn.get_paginator("list_stacks").paginate(StackStatusFilter=list(SETTLED)):
            for summary in page["StackSummaries"]:
                stack = stackmodel.describe_stack(cfn, summary["StackName"])
                if stack is None:
                    continue
                known = exports.pseudo_parameters(stack)
                known.update({p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters") or []})
                found = set()
                _imported_names(stackmodel.deployed_template(cfn, stack["StackName"]).get("Resources"), known, found)
                if wanted in found:
                    users.append(stack["StackName"])
        if users:
            return answer({"Imports": sorted(users)})
        return error("ValidationError", f"Export '{wanted}' is not imported by any stack.")
    return handler
