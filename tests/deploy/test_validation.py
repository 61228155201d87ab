"""Bad input: one clear line per problem, exit 2, and no API call (checked on the server, and by
failing if the tool so much as constructs a client)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from generator.deploy import aws

from .conftest import ROOT, closed_port_url, stack_or_none, topic_template


@pytest.fixture
def no_client(monkeypatch):
    def refuse(self, service):
        raise AssertionError(f"a {service} client was constructed before validation passed")

    monkeypatch.setattr(aws.Clients, "get", refuse)


def _setup(project):
    project.add_stack("base")
    project.template("base", topic_template({"Retention": {"Type": "Number", "MinValue": 1, "MaxValue": 30,
                                                           "Default": 7}}))


def _assert_untouched(cfn, project):
    name = project.stack_name("dev", "base")
    assert stack_or_none(cfn, name) is None
    listed = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]]
    assert name not in listed


CASES = {
    "malformed JSON": (
        '{\n  "Parameters": {\n    "ProjectName": "x",\n  }\n}\n',
        r"params/dev/base.json:4:3: invalid JSON: Expecting property name enclosed in double quotes; fix the syntax there",
    ),
    "unknown key": (
        {"TopicSufix": "events"},
        "params/dev/base.json: Parameters.TopicSufix: unknown parameter; the template declares: ProjectName, "
        "EnvironmentName, TopicSuffix, Retention",
    ),
    "missing required": (
        {"drop": "EnvironmentName"},
        'params/dev/base.json: Parameters.EnvironmentName: required (the template gives no default); '
        'add "EnvironmentName": "..."',
    ),
    "bad AllowedValues": (
        {"TopicSuffix": "metrics"},
        "params/dev/base.json: Parameters.TopicSuffix: 'metrics' is not an allowed value; use one of: events, alerts, audit",
    ),
    "bad pattern": (
        {"ProjectName": "Bad_Name"},
        "params/dev/base.json: Parameters.ProjectName: 'Bad_Name' does not match AllowedPattern "
        "^[a-z][a-z0-9-]{1,14}[a-z0-9]$; expected match ^[a-z][a-z0-9-]{1,14}[a-z0-9]$",
    ),
    "above MaxValue": (
        {"Retention": "31"},
        "params/dev/base.json: Parameters.Retention: 31 is above MaxValue 30; use a value <= 30",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_parameter_file_is_one_line_exit_2_and_no_api_call(project, cfn, no_client, case):
    _setup(project)
    content, expected = CASES[case]
    if isinstance(content, str):
        project.params("dev", "base", raw=content)
    else:
        content = dict(content)
        path = project.params("dev", "base", {k: v for k, v in content.items() if k != "drop"})
        if "drop" in content:
            data = json.loads(path.read_text())
            del data["Parameters"][content["drop"]]
            path.write_text(json.dumps(data))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and lines[0].endswith(expected), lines[0]
    assert str(project.root) in lines[0] or lines[0].startswith("error: params/")  # names the file
    _assert_untouched(cfn, project)


def test_every_problem_of_every_stack_is_listed(project, cfn, no_client):
    _setup(project)
    project.add_stack("other")
    project.template("other", topic_template())
    project.params("dev", "base", {"TopicSuffix": "nope", "Extra": "1"}, tags={"Owner": 5})
    project.params("dev", "other", {"EnvironmentName": "prod"})
    result = project.run("--env", "dev", "--all", "--yes")
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 4, lines
    assert any("Parameters.Extra: unknown parameter" in line for line in lines)
    assert any("Parameters.TopicSuffix: 'nope' is not an allowed value" in line for line in lines)
    assert any("Tags.Owner: value must be a string" in line for line in lines)
    assert any("params/dev/other.json: Parameters.EnvironmentName: 'prod' does not match" in line
               or "Parameters.EnvironmentName: 'prod' but the file is in params/dev/" in line for line in lines)
    _assert_untouched(cfn, project)


def test_environment_name_must_match_the_folder(project, cfn, no_client):
    _setup(project)
    project.params("dev", "base", {"EnvironmentName": "staging"})
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2
    assert result.err.strip().endswith(
        "params/dev/base.json: Parameters.EnvironmentName: 'staging' but the file is in params/dev/; set it to \"dev\"")


def test_reserved_tags_cannot_be_overridden(project, no_client):
    _setup(project)
    project.params("dev", "base", tags={"ManagedBy": "hand"})
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2
    assert "Tags.ManagedBy: the tool sets this tag to 'cfn-delivery'; remove it from the file" in result.err


BAD_MODEL = """project:
  name: {name}
environments:
  - name: tools
  - name: dev
    {entry}
applications: []
"""


@pytest.mark.parametrize("entry, expected", [
    ('protected: "yes"', 'delivery.yaml:6: environments[1].protected: "yes" is not a boolean; expected true or '
                         'false (unquoted)'),
    ("protect: true", "delivery.yaml:6: environments[1].protect: unknown key 'protect'; allowed here: account, "
                      "bake_minutes, cost_center, monitoring_minutes, name, organizational_units, parameters, profile, "
                      "protected, region, "                      "rollback_triggers, tags"),
    ("rollback_triggers: [my-alarm]", 'delivery.yaml:6: environments[1].rollback_triggers[0]: "my-alarm" is not '
                                      'valid; expected a CloudWatch alarm ARN'),
    ("monitoring_minutes: 500", "delivery.yaml:6: environments[1].monitoring_minutes: 500 is not valid; expected "
                                "a whole number of minutes from 0 to 180"),
    ("region: Europe", 'delivery.yaml:6: environments[1].region: "Europe" is not valid; expected a region name '
                       'like eu-west-1'),
    ("protected: [true", "delivery.yaml:7: invalid YAML: expected ',' or ']', but got ':'; fix the syntax there"),
])
def test_bad_environment_config_in_the_model_is_exit_2(project, no_client, entry, expected):
    _setup(project)
    project.params("dev", "base")
    project.write_model(BAD_MODEL.format(name=project.name, entry=entry))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2
    assert len(result.err.splitlines()) == 1 and expected in result.err, result.err


def test_unknown_environment_and_stack_are_exit_2(project, no_client):
    _setup(project)
    project.params("dev", "base")
    result = project.run("--env", "qa", "--stack", "base")
    assert result.code == 2 and "unknown environment 'qa'" in result.err
    result = project.run("--env", "dev", "--stack", "nope")
    assert result.code == 2 and "unknown stack 'nope'; known stacks: base" in result.err
    project.add_stack("toolsonly", environments=("tools",))
    result = project.run("--env", "dev", "--stack", "toolsonly")
    assert result.code == 2 and "stack 'toolsonly' is not deployed in environment 'dev'" in result.err


def test_requires_cycle_is_exit_2(project, no_client):
    project.add_stack("a", requires=("b",))
    project.add_stack("b", requires=("a",))
    for stack in ("a", "b"):
        project.template(stack, topic_template())
        project.params("dev", stack)
    result = project.run("--env", "dev", "--all")
    assert result.code == 2 and "import cycle in environment 'dev': a -> b -> a" in result.err


def test_script_exits_2_before_any_connection(tmp_path):
    """The real entry point, in a subprocess, pointed at a closed port: exit 2, not a connection error."""
    root = tmp_path / "project"
    (root / "params" / "dev").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "foundation.yaml").write_text((ROOT / "templates" / "foundation.yaml").read_text())
    (root / "params" / "dev" / "foundation.json").write_text('{"Parameters": {"ProjectName": "shop",}}')
    from tests.localstack_server import aws_env

    env = aws_env(closed_port_url())
    env["CFN_DELIVERY_ROOT"] = str(root)
    env["CFN_DELIVERY_MODEL"] = str(ROOT / "delivery.yaml")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "deploy.py"), "--env", "dev", "--stack",
                           "foundation", "--endpoint-url", env["AWS_ENDPOINT_URL"], "--yes"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().endswith("params/dev/foundation.json:1:39: invalid JSON: Expecting property name "
                                        "enclosed in double quotes; fix the syntax there")
    assert "Traceback" not in proc.stderr and "Could not connect" not in proc.stderr
