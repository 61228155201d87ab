"""Fixtures for the deploy tool's tests: a LocalStack server, a throw-away project root with
synthetic stacks (so the tests do not depend on the real stacks), and a runner."""
from __future__ import annotations

import io
import json
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator import cli, registry
from tests.localstack_server import aws_env, client, localstack  # noqa: F401  (session fixture)


def fake_stack(name, environments=None, requires=()):
    """A registry entry: what the deploy tool reads from a stack class (no ``model``: the registry
    takes its ``requires`` as given; ``environments`` None: every environment of the model)."""
    return type(f"Fake_{name}", (), {"name": name, "environments": environments, "requires": tuple(requires)})


def use_stacks(monkeypatch, stacks: list) -> list:
    """Make ``stacks`` (fake classes) the registry's stacks, whatever the model says."""
    monkeypatch.setattr(registry, "stacks", lambda model=None: stacks)
    return stacks


#: Environments of the test model (``Project.environment`` adds others).
ENVIRONMENTS = ("tools", "dev", "staging", "prod")

#: ``Project.environment`` keys (the former environment.json's) -> the model's keys.
MODEL_KEYS = {"Protected": "protected", "RollbackTriggers": "rollback_triggers",
              "MonitoringTimeInMinutes": "monitoring_minutes", "Region": "region", "Profile": "profile",
              "Account": "account"}


@dataclass
class Result:
    code: int
    out: str
    err: str


def closed_port_url() -> str:
    """An endpoint nothing listens on: a client built against it could not get an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Project:
    """A project root (``CFN_DELIVERY_ROOT``) with templates/ and params/<env>/ written by tests."""

    def __init__(self, root: Path, monkeypatch, capsys, endpoint_url=None):
        self.root = root
        self.name = "t" + uuid.uuid4().hex[:8]
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.endpoint_url = endpoint_url
        (root / "templates").mkdir(parents=True)
        (root / "params").mkdir()
        monkeypatch.setenv("CFN_DELIVERY_ROOT", str(root))
        monkeypatch.delenv("CFN_DELIVERY_MODEL", raising=False)
        self.stacks = use_stacks(monkeypatch, [])
        self.environments = {env: {"name": env} for env in ENVIRONMENTS}
        self.write_model()

    @property
    def model_path(self) -> Path:
        return self.root / "delivery.yaml"

    def write_model(self, raw=None) -> Path:
        """delivery.yaml: the project, the environments (with what ``environment`` set), no applications."""
        if raw is None:
            data = {"project": {"name": self.name}, "tools": "tools",
                    "environments": list(self.environments.values()), "applications": []}
            raw = yaml.safe_dump(data, sort_keys=False)
        self.model_path.write_text(raw)
        return self.model_path

    def stack_name(self, env, stack):
        return f"{self.name}-{env}-{stack}"

    def add_stack(self, name, environments=None, requires=()):
        self.stacks.append(fake_stack(name, environments, requires))

    def template(self, stack, template: dict):
        text = json.dumps(template, indent=1) if not isinstance(template, str) else template
        (self.root / "templates" / f"{stack}.yaml").write_text(text)

    def params(self, env, stack, parameters=None, tags=None, raw=None, project=None):
        folder = self.root / "params" / env
        folder.mkdir(exist_ok=True)
        path = folder / f"{stack}.json"
        if raw is not None:
            path.write_text(raw)
            return path
        values = {"ProjectName": project or self.name, "EnvironmentName": env}
        values.update(parameters or {})
        body = {"Parameters": values}
        if tags is not None:
            body["Tags"] = tags
        path.write_text(json.dumps(body, indent=2))
        return path

    def environment(self, env, **config):
        """The deploy settings of ``env`` in delivery.yaml (``Protected=True`` or ``protected=True``)."""
        entry = {"name": env}
        entry.update({MODEL_KEYS.get(key, key): value for key, value in config.items()})
        self.environments[env] = entry
        self.write_model()

    def run(self, *argv, stdin="", endpoint_url=None) -> Result:
        """``cfn-delivery deploy ...`` in-process against the server; exit code and output."""
        endpoint = endpoint_url or self.endpoint_url
        for key, value in aws_env(endpoint).items():
            if key.startswith("AWS_") or "proxy" in key.lower():
                self.monkeypatch.setenv(key, value)
        self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        self.capsys.readouterr()
        code = cli.main(["deploy", "--endpoint-url", endpoint, "--poll-seconds", "0.5", *argv])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def project(tmp_path, monkeypatch, capsys, localstack):  # noqa: F811
    return Project(tmp_path / "project", monkeypatch, capsys, localstack.endpoint_url)


@pytest.fixture
def offline_project(tmp_path, monkeypatch, capsys):
    """A project whose endpoint is a closed port: any API call would fail with exit 1, not 2."""
    return Project(tmp_path / "project", monkeypatch, capsys, closed_port_url())


@pytest.fixture
def policies(monkeypatch):
    """LocalStack does not emulate SetStackPolicy (InternalFailure "not yet emulated"): in server
    tests the call is recorded instead (tests/deploy/test_stubbed.py checks the real API call)."""
    from generator.deploy import protect

    recorded = []
    monkeypatch.setattr(protect, "set_policy", lambda cfn, name, policy: recorded.append((name, policy)))
    # GetStackPolicy is answered from what was recorded (the last policy set on that stack)
    monkeypatch.setattr(protect, "get_policy",
                        lambda cfn, name: next((pol for n, pol in reversed(recorded) if n == name), None))
    return recorded


@pytest.fixture
def cfn(localstack):  # noqa: F811
    return client("cloudformation", localstack.endpoint_url)


def naming_parameters():
    return {
        "ProjectName": {"Type": "String", "AllowedPattern": "^[a-z][a-z0-9-]{1,14}[a-z0-9]$"},
        "EnvironmentName": {"Type": "String", "AllowedPattern": "^[a-z][a-z0-9]{1,7}$"},
    }


def topic_template(extra_parameters=None, extra_resources=None, outputs=None):
    """A small template LocalStack creates offline: an SNS topic named from a parameter."""
    params = naming_parameters()
    params["TopicSuffix"] = {"Type": "String", "Default": "events", "AllowedValues": ["events", "alerts", "audit"]}
    params.update(extra_parameters or {})
    resources = {
        "Topic": {"Type": "AWS::SNS::Topic",
                  "Properties": {"TopicName": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-${TopicSuffix}"}}},
    }
    resources.update(extra_resources or {})
    out = {"TopicArn": {"Value": {"Ref": "Topic"},
                        "Export": {"Name": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-base-TopicArn"}}}}
    out.update(outputs or {})
    return {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": params, "Resources": resources, "Outputs": out}


def bucket_template(bucket_name):
    """A stateful resource (bucket, retained). Changing its literal name forces a replacement
    (LocalStack reports Replacement "False" when the name changes through a parameter)."""
    return {
        "Parameters": naming_parameters(),
        "Resources": {
            "DataBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                           "Properties": {"BucketName": bucket_name}},
            "Topic": {"Type": "AWS::SNS::Topic"},
        },
        "Outputs": {"BucketName": {"Value": {"Ref": "DataBucket"}}},
    }


def change_set_names(cfn, stack_name):
    try:
        return [s["ChangeSetName"] for s in cfn.list_change_sets(StackName=stack_name).get("Summaries", [])]
    except Exception as err:  # stack does not exist
        if "does not exist" in str(err):
            return []
        raise


def stack_or_none(cfn, stack_name):
    try:
        return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    except Exception as err:
        if "does not exist" in str(err):
            return None
        raise


ROOT = Path(__file__).resolve().parents[2]
