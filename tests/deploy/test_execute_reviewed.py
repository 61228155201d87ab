"""``--execute-change-set``: execute the change set left by ``--no-execute`` only while it still matches
the local template and parameters (against the local server).

LocalStack's GetTemplate with ChangeSetName returns the stack's template, not the change set's (and
nothing for a CREATE change set): a reviewed template change and a reviewed create are covered with
the Stubber in test_stubbed.py."""
from __future__ import annotations

import re

from .conftest import change_set_names, stack_or_none, topic_template


def _params(cfn, name):
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}


def _left_for_review(result) -> str:
    assert result.code == 0, result.err
    return re.search(r"--execute-change-set (\S+)", result.out).group(1)


def _deployed(project, cfn):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    return project.stack_name("dev", "base")


def test_reviewed_change_set_is_executed(project, cfn):
    name = _deployed(project, cfn)
    project.params("dev", "base", {"TopicSuffix": "audit"})
    change_set = _left_for_review(project.run("--env", "dev", "--stack", "base", "--no-execute"))
    assert _params(cfn, name)["TopicSuffix"] == "events"
    result = project.run("--env", "dev", "--stack", "base", "--execute-change-set", change_set, "--yes")
    assert result.code == 0, result.err
    assert f"change set {change_set} matches the local template, parameters and tags" in result.out
    assert "Modify  Topic" in result.out                       # shown again before executing
    assert f"executing change set {change_set}; stack events:" in result.out
    assert f"{name}: UPDATE_COMPLETE" in result.out
    assert _params(cfn, name)["TopicSuffix"] == "audit"
    # the same deploy again finds nothing to do
    assert "no changes" in project.run("--env", "dev", "--stack", "base", "--yes").out


def test_changed_parameter_file_is_refused_and_nothing_is_deleted(project, cfn):
    name = _deployed(project, cfn)
    project.params("dev", "base", {"TopicSuffix": "audit"})
    change_set = _left_for_review(project.run("--env", "dev", "--stack", "base", "--no-execute"))
    project.params("dev", "base", {"TopicSuffix": "alerts"})  # edited after the review
    result = project.run("--env", "dev", "--stack", "base", "--execute-change-set", change_set, "--yes")
    assert result.code == 2
    assert result.err == (
        f"error: change set {change_set} no longer matches the local inputs: parameters TopicSuffix (change set "
        f"'audit', local 'alerts'); nothing was executed and the change set is kept; create a new one with "
        f"`cfn-delivery deploy --env dev --stack base --no-execute`, review it, then execute that\n")
    assert change_set in change_set_names(cfn, name)
    left = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
    assert left["ExecutionStatus"] == "AVAILABLE"
    assert _params(cfn, name)["TopicSuffix"] == "events"
    # back to the reviewed values: it executes
    project.params("dev", "base", {"TopicSuffix": "audit"})
    assert project.run("--env", "dev", "--stack", "base", "--execute-change-set", change_set, "--yes").code == 0
    assert _params(cfn, name)["TopicSuffix"] == "audit"


def test_changed_template_is_refused(project, cfn):
    name = _deployed(project, cfn)
    project.params("dev", "base", {"TopicSuffix": "audit"})
    change_set = _left_for_review(project.run("--env", "dev", "--stack", "base", "--no-execute"))
    project.template("base", topic_template(extra_resources={"Extra": {"Type": "AWS::SNS::Topic"}}))
    result = project.run("--env", "dev", "--stack", "base", "--execute-change-set", change_set, "--yes")
    assert result.code == 2
    assert len(result.err.splitlines()) == 1
    assert "no longer matches the local inputs: template (resources Extra); nothing was executed" in result.err
    assert change_set in change_set_names(cfn, name)
    assert set(cfn.get_template(StackName=name)["TemplateBody"]["Resources"]) == {"Topic"}


def test_unknown_change_set_is_exit_2(project, cfn):
    name = _deployed(project, cfn)
    result = project.run("--env", "dev", "--stack", "base", "--execute-change-set", "cfn-delivery-nope", "--yes")
    assert result.code == 2
    assert result.err.startswith(f"error: change set cfn-delivery-nope not found on stack {name}; ")
    assert len(result.err.splitlines()) == 1


def test_no_confirmation_keeps_the_change_set(project, cfn):
    name = _deployed(project, cfn)
    project.params("dev", "base", {"TopicSuffix": "audit"})
    change_set = _left_for_review(project.run("--env", "dev", "--stack", "base", "--no-execute"))
    result = project.run("--env", "dev", "--stack", "base", "--execute-change-set", change_set, stdin="n\n")
    assert result.code == 3
    assert f"change set {change_set} kept" in result.err
    assert change_set in change_set_names(cfn, name)
    assert stack_or_none(cfn, name)["StackStatus"] == "CREATE_COMPLETE"


def test_usage_errors(offline_project):
    project = offline_project
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    result = project.run("--env", "dev", "--all", "--execute-change-set", "x")
    assert (result.code, result.err) == (2, "error: --execute-change-set executes one stack's change set: "
                                            "give --stack <name>\n")
    result = project.run("--env", "dev", "--stack", "base", "--execute-change-set", "x", "--replace-failed")
    assert result.code == 2 and "cannot be combined with --execute-change-set" in result.err
