"""``cfn-delivery deploy`` and the stacks an application's pipeline updates (``infrastructure: pipeline``,
docs/infrastructure.md): a named one is refused (exit 3) before any change set, ``--all`` and a plan across
environments skip and list them, a stack not created yet is created (the pipeline cannot create it), and
``--include-pipeline-owned`` deploys one anyway. The CloudFormation client is stubbed: a call the test did not
expect (a change set) fails the test."""
from __future__ import annotations

import json
import re

import pytest
from botocore.stub import ANY, Stubber

from generator import model
from generator.deploy import main, owned

from .conftest import fake_stack, topic_template
from .test_stubbed import _args, _change_set, _client, _clients, _missing, _stack

APP = model.Application(name="api", kind="ecs-bluegreen", waves=("staging", "prod"), infrastructure="pipeline")
SERVICE = "api-service"


def _owned_stack(name=SERVICE, app=APP, environments=("staging", "prod")):
    """A target stack of ``app`` (what the registry marks ``runtime_stack``), deployed in ``environments``."""
    cls = fake_stack(name, environments)
    cls.app, cls.runtime_stack = app, True
    return cls


@pytest.fixture
def project(offline_project):
    project = offline_project
    project.stacks.append(_owned_stack())
    project.template(SERVICE, topic_template())
    for env in ("staging", "prod"):
        project.params(env, SERVICE)
    return project


def _deployed(project, env, stack):
    """A created stack that runs exactly the local template, parameters and tags (deploy: no changes)."""
    name = project.stack_name(env, stack)
    return _stack(name, "UPDATE_COMPLETE", Parameters=[
        {"ParameterKey": "ProjectName", "ParameterValue": project.name},
        {"ParameterKey": "EnvironmentName", "ParameterValue": env},
        {"ParameterKey": "TopicSuffix", "ParameterValue": "events"}],
        Tags=[{"Key": "Project", "Value": project.name}, {"Key": "Environment", "Value": env},
              {"Key": "ManagedBy", "Value": "cfn-delivery"}])


def _unchanged(stub, project, env, stack):
    stub.add_response("describe_stacks", _deployed(project, env, stack))
    stub.add_response("get_template", {"TemplateBody": json.dumps(topic_template())})


def _run(cfn, *argv):
    return main.run(_args(*argv), clients=_clients(cfn))


@pytest.mark.parametrize("extra", [(), ("--dry-run",), ("--no-execute",)])
def test_a_named_pipeline_owned_stack_is_refused_before_any_change_set(project, capsys, extra):
    name = project.stack_name("prod", SERVICE)
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _deployed(project, "prod", SERVICE), {"StackName": name})
        code = _run(cfn, "--env", "prod", "--stack", SERVICE, "--yes", *extra)
        stub.assert_no_pending_responses()
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and "applications[api].infrastructure: is 'pipeline'" in err
    assert f"stack {name} ({SERVICE} in prod)" in err and "nothing was changed" in err
    assert "run `cfn-delivery publish --app api`" in err and err.endswith(f"pass {owned.OVERRIDE_FLAG} (break-glass)")


def test_executing_a_reviewed_change_set_of_a_pipeline_owned_stack_is_refused(project, capsys):
    cfn = _client()
    with Stubber(cfn) as stub:  # no DescribeChangeSet, no ExecuteChangeSet
        stub.add_response("describe_stacks", _deployed(project, "prod", SERVICE))
        code = _run(cfn, "--env", "prod", "--stack", SERVICE, "--yes", "--execute-change-set", "cfn-delivery-x")
        stub.assert_no_pending_responses()
    assert code == 3 and "applications[api].infrastructure" in capsys.readouterr().err


def test_all_skips_and_lists_pipeline_owned_stacks_and_deploys_the_others(project, capsys):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("prod", "base")
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _deployed(project, "prod", SERVICE))  # created: left to the pipeline
        _unchanged(stub, project, "prod", "base")  # the other stack is deployed as usual
        code = _run(cfn, "--env", "prod", "--all", "--yes")
        stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"== prod/{SERVICE}: skipped: the api pipeline updates it" in out
    assert f"no changes: {project.stack_name('prod', 'base')}" in out
    assert out.strip().splitlines()[-1] == owned.summary([SERVICE])
    assert f"({SERVICE})" in owned.summary([SERVICE]) and owned.OVERRIDE_FLAG in owned.summary([SERVICE])


def test_a_plan_across_environments_skips_them_in_every_wave(project, capsys):
    cfn = _client()
    with Stubber(cfn) as stub:
        for env in ("staging", "prod"):  # plan order: staging before prod
            stub.add_response("describe_stacks", _deployed(project, env, SERVICE),
                              {"StackName": project.stack_name(env, SERVICE)})
        code = _run(cfn, "--env", "staging", "--env", "prod", "--yes")
        stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.strip().splitlines()[-1] == owned.summary([f"staging:{SERVICE}", f"prod:{SERVICE}"])


def test_a_stack_not_created_yet_is_created_by_deploy(project, capsys):
    """The pipeline cannot create it (its stacks import the target's exports), so deploy does: no flag."""
    name = project.stack_name("staging", SERVICE)
    cfn = _client()
    with Stubber(cfn) as stub:
        _missing(stub, name)  # the ownership check
        _missing(stub, name)  # the stack's state: CREATE
        stub.add_response("create_change_set", {"Id": "cs-id"}, {
            "StackName": name, "ChangeSetName": ANY, "ChangeSetType": "CREATE", "Description": ANY,
            "TemplateBody": ANY, "Parameters": ANY, "Tags": ANY})
        for _ in range(3):  # waiter, final status, full description
            stub.add_response("describe_change_set", _change_set(name))
        code = _run(cfn, "--env", "staging", "--stack", SERVICE, "--no-execute")
        stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{name} is not created yet: deploy creates it (the api pipeline cannot" in out
    assert "change set left for review" in out


def test_a_stack_whose_first_create_never_completed_is_not_the_pipelines_yet(project, capsys):
    """REVIEW_IN_PROGRESS (a CREATE change set never executed): deploy's own handling applies, not the refusal."""
    name = project.stack_name("staging", SERVICE)
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack(name, "REVIEW_IN_PROGRESS"))
        stub.add_response("describe_stacks", _stack(name, "REVIEW_IN_PROGRESS"))
        code = _run(cfn, "--env", "staging", "--stack", SERVICE, "--yes")
        stub.assert_no_pending_responses()
    captured = capsys.readouterr()
    assert code == 1 and "rerun with --replace-failed" in captured.err, captured.err
    assert "infrastructure" not in captured.err and "is not created yet" in captured.out


def test_include_pipeline_owned_deploys_it_with_a_warning(project, capsys):
    cfn = _client()
    with Stubber(cfn) as stub:
        _unchanged(stub, project, "prod", SERVICE)
        code = _run(cfn, "--env", "prod", "--stack", SERVICE, "--yes", owned.OVERRIDE_FLAG)
        stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert code == 0, out
    name = project.stack_name("prod", SERVICE)
    assert re.search(rf"^warning: {owned.OVERRIDE_FLAG}: the api pipeline updates {name}", out, re.M)
    assert f"no changes: {project.stack_name('prod', SERVICE)}" in out


@pytest.mark.parametrize("stack", [
    _owned_stack(app=model.Application(name="api", kind="ecs-bluegreen", waves=("staging", "prod"))),  # deploy
    _owned_stack(environments=("dev",)),  # an extra environment of the application: not a wave
])
def test_stacks_the_pipeline_does_not_update_deploy_as_before(offline_project, capsys, stack):
    project = offline_project
    project.stacks.append(stack)
    project.template(SERVICE, topic_template())
    env = stack.environments[0]
    project.params(env, SERVICE)
    cfn = _client()
    with Stubber(cfn) as stub:
        _unchanged(stub, project, env, SERVICE)  # no ownership check: straight to the stack's state
        code = _run(cfn, "--env", env, "--stack", SERVICE, "--yes")
        stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert code == 0 and "pipeline" not in out, out


def test_a_dry_run_says_a_real_deploy_creates_the_stack(project):
    """A dry run creates nothing: its notice says which deploy would create the missing pipeline-owned stack."""
    from types import SimpleNamespace

    from generator.deploy import owned

    p = SimpleNamespace(stack_name=project.stack_name("staging", SERVICE), env="staging", stack=SERVICE)
    assert ": deploy creates it (" in owned.first_creation(p, APP)
    dry = owned.first_creation(p, APP, dry_run=True)
    assert ": a deploy without --dry-run creates it (" in dry and ": deploy creates it" not in dry
