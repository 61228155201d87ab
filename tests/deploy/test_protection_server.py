"""Protection is a state, verified every time (against the local server).

LocalStack stores termination protection (so switching it off and seeing it repaired is real here)
but does not emulate Get/SetStackPolicy: the ``policies`` fixture records SetStackPolicy and answers
GetStackPolicy from the record; test_stubbed.py checks the real API calls and the refused repair."""
from __future__ import annotations

from .conftest import change_set_names, topic_template


def _protected(project, cfn, policies):
    project.add_stack("base")
    project.environment("prod", Protected=True)
    project.template("base", topic_template())
    project.params("prod", "base")
    assert project.run("--env", "prod", "--stack", "base", "--yes").code == 0
    name = project.stack_name("prod", "base")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["EnableTerminationProtection"] is True
    return name


def test_no_change_deploy_repairs_a_removed_policy_and_termination_protection(project, cfn, policies):
    name = _protected(project, cfn, policies)
    guard = policies[-1][1]
    policies.clear()  # the stack policy is gone (a denied SetStackPolicy, a console change)
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    change_sets = change_set_names(cfn, name)
    result = project.run("--env", "prod", "--stack", "base", "--yes")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        f"no changes: {name} already runs this template, parameters and tags (no change set created)",
        "protection repaired: termination protection was off; enabled it",
        "protection repaired: the stack policy was missing; set it "
        "(Update:Replace/Update:Delete denied on no stateful resources)",
    ]
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["EnableTerminationProtection"] is True
    assert policies == [(name, guard)]
    assert change_set_names(cfn, name) == change_sets
    # the next run finds it in place and changes nothing
    result = project.run("--env", "prod", "--stack", "base", "--yes")
    assert result.code == 0 and result.out.splitlines()[-1].startswith("protection verified: ")
    assert policies == [(name, guard)]


def test_dry_run_reports_without_repairing(project, cfn, policies):
    name = _protected(project, cfn, policies)
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    result = project.run("--env", "prod", "--stack", "base", "--dry-run")
    assert result.code == 0, result.err
    assert "protection missing: termination protection is off" in result.out
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["EnableTerminationProtection"] is False
