"""`diff --env` flags `export-in-use` against the local server: an exporting stack and a stack
importing three of its exports are deployed (tests/fixtures/diff-deployed/export-in-use); the
working tree's template removes one imported export, changes another's value, replaces the resource
a third refers to, and removes an export nobody imports. The exact JSON is expected.json (the
random project name written as PROJECT).

The server's own ListImports answers nothing, so a botocore hook answers it as AWS does, from the
templates deployed there (tests/aws_hooks.py). The same fixture goes through `deploy`, which
refuses it for the same exports: one stack model (generator.stackmodel.exports) for both."""
from __future__ import annotations

import json

import pytest

from generator import cli, yamlio
from generator.review import sources
from tests.aws_hooks import error, hooks, list_imports_from  # noqa: F401  (fixture)
from tests.deploy.conftest import Project
from tests.helpers import ROOT
from tests.localstack_server import aws_env, client, localstack  # noqa: F401  (session fixture)

CASE = ROOT / "tests" / "fixtures" / "diff-deployed" / "export-in-use"
EXPORTER, IMPORTER, ENV = "base", "app", "dev"


def _create(cfn, name, path, parameters):
    cfn.create_stack(StackName=name, TemplateBody=path.read_text(),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


@pytest.fixture
def deployed(tmp_path, monkeypatch, capsys, localstack, hooks):  # noqa: F811
    """The exporting and the importing stack on the server; the working tree renders after.yaml."""
    project = Project(tmp_path / "project", monkeypatch, capsys, localstack.endpoint_url)
    cfn = client("cloudformation", localstack.endpoint_url)
    for stack in (EXPORTER, IMPORTER):
        project.add_stack(stack)
        project.params(ENV, stack)
    values = {"ProjectName": project.name, "EnvironmentName": ENV}
    _create(cfn, project.stack_name(ENV, EXPORTER), CASE / "before.yaml", values)
    _create(cfn, project.stack_name(ENV, IMPORTER), CASE / "importer.yaml", values)
    after = yamlio.load_file(CASE / "after.yaml")
    monkeypatch.setattr(sources, "working_templates", lambda names: {n: after for n in names})
    project.template(EXPORTER, (CASE / "after.yaml").read_text())  # what deploy reads
    hooks.append(("before-call.cloudformation.ListImports", list_imports_from(cfn)))
    for key, value in aws_env(localstack.endpoint_url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NO_COLOR", "1")
    try:
        yield project
    finally:
        for stack in (IMPORTER, EXPORTER):
            cfn.delete_stack(StackName=project.stack_name(ENV, stack))
            cfn.get_waiter("stack_delete_complete").wait(StackName=project.stack_name(ENV, stack),
                                                         WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def diff(project, *extra):
    project.capsys.readouterr()
    code = cli.main(["diff", "--env", ENV, "--stack", EXPORTER, "--endpoint-url", project.endpoint_url,
                     "--region", "us-east-1", *extra])
    out, err = project.capsys.readouterr()
    return code, out.replace(project.name, "PROJECT"), err.replace(project.name, "PROJECT")


def test_exports_in_use_give_exactly_the_expected_json(deployed):
    code, out, err = diff(deployed, "--format", "json")
    assert code == 0, err
    assert json.loads(out) == json.loads((CASE / "expected.json").read_text())


def test_headline_each_imported_export_is_flagged_and_the_unused_one_is_not(deployed):
    code, out, err = diff(deployed, "--format", "json")
    outputs = {o["name"]: (o["change"], o["risks"]) for o in json.loads(out)["outputs"]}
    assert outputs == {"TopicArn": ("value", ["export-in-use"]),         # Topic replaced: a new ARN
                       "QueueUrl": ("remove", ["output", "export-in-use"]),
                       "SchemaVersion": ("modify", ["export-in-use"]),
                       "Spare": ("remove", ["output"])}                  # nobody imports it
    assert "export-in-use" in json.loads(out)["risks"]


def test_text_names_the_importer_and_fail_on_exits_3(deployed):
    code, out, err = diff(deployed, "--fail-on", "export-in-use")
    assert code == 3 and err == "--fail-on: found export-in-use\n"
    assert ("! export-in-use: export 'PROJECT-dev-base-QueueUrl' removed but PROJECT-dev-app imports it; "
            "CloudFormation refuses this update") in out


def test_deploy_refuses_the_same_change(deployed):
    """deploy and review read one model: the exports review flags are the ones deploy refuses."""
    result = deployed.run("--env", ENV, "--stack", EXPORTER, "--yes")
    assert result.code == 2, result
    assert result.err.startswith(
        "error: export-in-use: export '{0}-dev-base-QueueUrl' (output QueueUrl) removed but {0}-dev-app imports it; "
        "export '{0}-dev-base-SchemaVersion' (output SchemaVersion) value changes but {0}-dev-app imports it; "
        .format(deployed.name)), result.err


def test_denied_list_imports_is_one_line_exit_2(deployed, hooks):
    hooks[:] = [("before-call.cloudformation.ListImports",
                 lambda **kw: error("AccessDenied", "User is not authorized to perform: cloudformation:ListImports",
                                    403))]
    code, out, err = diff(deployed, "--format", "json")
    assert code == 2 and out == ""
    assert err == ("error: stack 'PROJECT-dev-base': User is not authorized to perform: cloudformation:ListImports "
                   "(grant cloudformation:ListImports)\n")



def test_only_a_replacement_behind_an_imported_export(deployed, monkeypatch):
    """The export's text is unchanged; the resource it refers to is replaced. Review decides the
    replacement from the schemas, deploy from the change set: both flag the same export, and deploy
    deletes its change set."""
    template = yamlio.load_file(CASE / "before.yaml")
    template["Resources"]["Topic"]["Properties"]["TopicName"] = {"Fn::Sub": "${ProjectName}-${EnvironmentName}-x"}
    monkeypatch.setattr(sources, "working_templates", lambda names: {n: template for n in names})
    deployed.template(EXPORTER, template)
    code, out, err = diff(deployed, "--format", "json")
    data = json.loads(out)
    assert [(r["logical_id"], r["replacement"]) for r in data["resources"]] == [("Topic", True)]
    assert [(o["name"], o["change"], o["risks"]) for o in data["outputs"]] == [("TopicArn", "value", ["export-in-use"])]
    assert data["outputs"][0]["notes"] == [
        "export-in-use: export 'PROJECT-dev-base-TopicArn' value changes (Topic replaced) but PROJECT-dev-app imports "
        "it; CloudFormation refuses this update (it fails and rolls back): deploy the importing stacks without that "
        "Fn::ImportValue first, or keep the export and its value"]

    result = deployed.run("--env", ENV, "--stack", EXPORTER, "--yes")
    assert result.code == 2, result
    assert result.err.startswith(
        "error: export-in-use: export '{0}-dev-base-TopicArn' (output TopicArn) value changes (Topic replaced) but "
        "{0}-dev-app imports it; ".format(deployed.name)), result.err
    assert result.err.rstrip().endswith(" deleted)")  # the change set it made to see the replacement
    cfn = client("cloudformation", deployed.endpoint_url)
    assert cfn.list_change_sets(StackName=deployed.stack_name(ENV, EXPORTER))["Summaries"] == []
