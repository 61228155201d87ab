"""Issue 11 items 7 and 8 for deploy: ``params validate`` runs deploy's own checks (same messages),
placeholders warn on validate and refuse a protected deploy, and ``--all-environments`` prints the
plan across environments and deploys it in that order; a missing prerequisite names the whole chain."""
from __future__ import annotations

import json

import pytest

from generator import cli

from .conftest import stack_or_none, topic_template
from .test_validation import CASES, _setup, no_client  # noqa: F401 (fixture)


def _validate(project, *argv):
    project.capsys.readouterr()
    code = cli.main(["params", "validate", *argv])
    captured = project.capsys.readouterr()
    return code, captured.out, captured.err


def _bad_file(project, content):
    if isinstance(content, str):
        project.params("dev", "base", raw=content)
        return
    content = dict(content)
    path = project.params("dev", "base", {k: v for k, v in content.items() if k != "drop"})
    if "drop" in content:
        data = json.loads(path.read_text())
        del data["Parameters"][content["drop"]]
        path.write_text(json.dumps(data))


@pytest.mark.parametrize("case", list(CASES))
def test_params_validate_and_a_dry_run_give_the_same_messages(offline_project, no_client, case):  # noqa: F811
    project = offline_project
    _setup(project)
    _bad_file(project, CASES[case][0])
    code, _, err = _validate(project, "--env", "dev")
    deployed = project.run("--env", "dev", "--all", "--dry-run")
    assert code == 2 and deployed.code == 2
    from_validate = err.splitlines()
    from_deploy = [line.removeprefix("error: ") for line in deployed.err.splitlines()]
    assert from_validate == from_deploy, (from_validate, from_deploy)
    assert from_validate[0].endswith(CASES[case][1])


def test_a_template_over_the_inline_limit_is_rejected_by_both(offline_project, no_client):  # noqa: F811
    project = offline_project
    template = topic_template()
    template["Metadata"] = {"Padding": ["x" * 1000] * 60}
    project.add_stack("base")
    project.template("base", template)
    project.params("dev", "base")
    code, _, err = _validate(project, "--env", "dev")
    deployed = project.run("--env", "dev", "--stack", "base", "--dry-run")
    assert code == 2 and deployed.code == 2
    assert err.strip() == deployed.err.strip().removeprefix("error: ")
    assert "51,200" in err or "51200" in err


MODEL = """project:
  name: {name}
environments:
  - name: tools
  - name: dev
    parameters:
      AlarmEmail: !placeholder team@corp.invalid
  - name: prod
    protected: true
    parameters:
      AlarmEmail: !placeholder oncall@corp.invalid
      AlarmArn: arn:aws:cloudwatch:eu-west-1:111122223333:alarm:x
applications: []
"""


def _placeholder_project(project):
    project.monkeypatch.chdir(project.root)  # files named relative to the project, as a user sees them
    project.write_model(MODEL.format(name=project.name))
    project.add_stack("base")
    project.template("base", topic_template(extra_parameters={
        "AlarmEmail": {"Type": "String", "Default": ""}, "AlarmArn": {"Type": "String", "Default": ""},
        "Owner": {"Type": "String", "Default": ""}}))
    project.params("tools", "base")
    project.params("dev", "base", {"AlarmEmail": "team@corp.invalid"})
    project.params("prod", "base", {"AlarmEmail": "oncall@corp.invalid",
                                    "AlarmArn": "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:x",
                                    "Owner": "someone@example.org"})


def test_placeholders_warn_on_validate(offline_project, no_client):  # noqa: F811
    project = offline_project
    _placeholder_project(project)
    code, out, err = _validate(project)
    assert code == 0, err
    assert err == ""
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4, out
    assert ("params/dev/base.json: Parameters.AlarmEmail = 'team@corp.invalid' is a placeholder; edit "
            "delivery.yaml:7: environments[1].parameters.AlarmEmail") in out
    assert ("params/prod/base.json: Parameters.AlarmEmail = 'oncall@corp.invalid' is a placeholder; edit "
            "delivery.yaml:11: environments[2].parameters.AlarmEmail") in out
    # a documentation account id, set in the model without the tag: still found, with its line
    assert ("params/prod/base.json: Parameters.AlarmArn = 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:x' is a "
            "placeholder; edit delivery.yaml:12: environments[2].parameters.AlarmArn") in out
    # an example.org address only in the file: named, with where to set it
    assert "params/prod/base.json: Parameters.Owner = 'someone@example.org' is a placeholder; set it in delivery.yaml" \
        in out
    assert "parameter files valid for: tools, dev, prod (4 placeholder warning(s)" in out


def test_placeholders_refuse_a_protected_deploy_before_any_call(offline_project, no_client):  # noqa: F811
    project = offline_project
    _placeholder_project(project)
    result = project.run("--env", "prod", "--stack", "base", "--yes")
    assert result.code == 2, result.err
    lines = result.err.splitlines()
    assert lines[0] == ("error: refusing to deploy protected environment 'prod': 3 placeholder value(s) that cannot "
                        "work in a real account; replace each in delivery.yaml (and drop its !placeholder tag), run "
                        "`make templates`, then deploy again:")
    assert len(lines) == 4
    assert "params/prod/base.json: Parameters.AlarmEmail = 'oncall@corp.invalid' is a placeholder; edit " \
           "delivery.yaml:11: environments[2].parameters.AlarmEmail" in lines[1]
    assert "Parameters.AlarmArn" in lines[2] and "Parameters.Owner" in lines[3]
    # the dev deploy (unprotected) is not refused: it warns and goes on to the server (closed port: exit 1)


def test_placeholders_only_warn_in_an_unprotected_environment(project):
    _placeholder_project(project)
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 0, result.err
    assert "warning: params/dev/base.json: Parameters.AlarmEmail = 'team@corp.invalid' is a placeholder" in result.out


def _edge_template():
    edge = topic_template()
    edge["Resources"]["Topic"]["Properties"]["TopicName"] = {"Fn::Sub": "${ProjectName}-${EnvironmentName}-edge"}
    edge["Outputs"] = {}
    return edge


def _two_environment_project(project):
    project.add_stack("edge", environments=("dev",), requires=("tools:base",))  # listed first: the plan reorders
    project.add_stack("base", environments=("tools", "dev"))
    project.template("base", topic_template())
    project.template("edge", _edge_template())
    project.params("tools", "base")
    project.params("dev", "base")
    project.params("dev", "edge")


def _plan_lines(out):
    return [line.strip().split("  (")[0] for line in out.splitlines() if line.startswith("  ") and ". " in line][:3]


def test_all_environments_prints_the_plan_then_deploys_it_in_order(project, cfn):
    _two_environment_project(project)
    result = project.run("--all-environments", "--dry-run")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "plan: 3 stack(s) across tools, dev, staging, prod, in this order:"
    # the import graph orders the plan (edge needs tools:base only; the model's order breaks ties)
    assert _plan_lines(result.out) == ["1. tools:base", "2. dev:edge", "3. dev:base"]
    assert "== dev/edge: skipped in this dry run: needs tools:base, which this plan deploys first" in result.out
    assert stack_or_none(cfn, project.stack_name("tools", "base")) is None

    result = project.run("--env", "tools", "--env", "dev", "--yes")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "plan: 3 stack(s) across tools, dev, in this order:"
    out = result.out
    assert out.index("== tools/base") < out.index("== dev/edge") < out.index("== dev/base")
    assert "plan done: 3 of 3 stack(s)" in out
    for env, stack in (("tools", "base"), ("dev", "base"), ("dev", "edge")):
        assert cfn.describe_stacks(StackName=project.stack_name(env, stack))["Stacks"][0]["StackStatus"] == \
            "CREATE_COMPLETE"
    # now everything exists: a dry run of the whole plan skips nothing
    result = project.run("--all-environments", "--dry-run")
    assert result.code == 0, result.err
    assert "skipped" not in result.out


def test_a_plan_problem_anywhere_is_exit_2_before_any_call(offline_project, no_client):  # noqa: F811
    project = offline_project
    _two_environment_project(project)
    project.params("tools", "base", {"TopicSuffix": "nope"})
    result = project.run("--all-environments", "--yes")
    assert result.code == 2
    assert "params/tools/base.json: Parameters.TopicSuffix: 'nope' is not an allowed value" in result.err
    assert project.run("--all-environments", "--env", "dev").code == 2
    assert project.run("--env", "tools", "--env", "dev", "--stack", "base").code == 2


def test_a_missing_prerequisite_names_the_whole_chain(project, cfn):
    project.add_stack("store", environments=("tools",))
    project.add_stack("images", environments=("tools",), requires=("store",))
    project.add_stack("app", environments=("dev",), requires=("tools:images",))
    for stack in ("store", "images", "app"):
        template = topic_template()
        template["Resources"]["Topic"]["Properties"]["TopicName"] = {
            "Fn::Sub": "${ProjectName}-${EnvironmentName}-" + stack}
        template["Outputs"] = {}
        project.template(stack, template)
    project.params("tools", "store")
    project.params("tools", "images")
    project.params("dev", "app")
    result = project.run("--env", "dev", "--stack", "app", "--yes")
    assert result.code == 1
    assert (f"requires tools:images, but stack {project.name}-tools-images does not exist; the whole chain is "
            f"missing; deploy, in this order: tools:store -> tools:images (cfn-delivery deploy --env tools --stack "
            f"store, then cfn-delivery deploy --env tools --stack images), or all at once: cfn-delivery deploy "
            f"--env dev --env tools") in result.err
    assert stack_or_none(cfn, project.stack_name("dev", "app")) is None
    # once store exists, only images is missing: the one step
    assert project.run("--env", "tools", "--stack", "store", "--yes").code == 0
    result = project.run("--env", "dev", "--stack", "app", "--yes")
    assert result.code == 1
    assert "deploy it first: cfn-delivery deploy --env tools --stack images" in result.err
