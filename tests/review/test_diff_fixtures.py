"""Before/after template pairs with the exact JSON `cfn-delivery diff --format json` must print.

Each case folder holds before.yaml, after.yaml and expected.json (written by hand-checking
the tool's output once; a change in behaviour shows up as a diff of that file)."""
import contextlib
import io
import json
import os

import pytest

from generator import cli
from tests.helpers import ROOT

CASES = ROOT / "tests" / "fixtures" / "diff"
REQUIRED = {
    "bucket-renamed": ("modify", True, ["data-loss"]),
    "log-retention": ("modify", False, []),
    "role-gains-action": ("modify", False, ["iam-broadening"]),
    "role-loses-action": ("modify", False, ["iam-narrowing"]),
    "sg-open-world": ("modify", False, ["network-exposure"]),
    "egress-open-world": None,
    "retention-shortened": None,
    "condition-turns-true": None,
    "condition-turns-false": None,
    "option-setting-changed": ("modify", False, []),
    "statement-by-action": ("modify", False, ["iam-broadening"]),
    "table-removed": ("remove", False, ["data-loss"]),
    "table-key-changed": ("modify", True, ["data-loss"]),
    "logical-id-renamed": None,
    "yaml-reordered": None,
    "export-removed": None,
    "foreach-expanded": None,
}


def diff_json(case: str):
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(CASES / case)  # file names in the output are as given on the command line
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            # optional parameter files: values substituted, conditions evaluated
            extra = [arg for option, path in (("--parameters", "parameters.json"),
                                              ("--base-parameters", "base-parameters.json"))
                     if (CASES / case / path).is_file() for arg in (option, path)]
            code = cli.main(["diff", "before.yaml", "after.yaml", "--name", case, "--format", "json", *extra])
    finally:
        os.chdir(cwd)
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_every_required_case_is_present():
    present = {p.name for p in CASES.iterdir() if p.is_dir()}
    assert set(REQUIRED) <= present
    for case in present:
        for name in ("before.yaml", "after.yaml", "expected.json"):
            assert (CASES / case / name).is_file(), f"{case}/{name} missing"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case_gives_exactly_the_expected_json(case):
    expected = json.loads((CASES / case / "expected.json").read_text())
    assert diff_json(case) == expected


@pytest.mark.parametrize("case", sorted(k for k, v in REQUIRED.items() if v))
def test_single_resource_cases_say_what_the_issue_asks(case):
    """The headline of each case spelled out here too, independent of expected.json."""
    change, replacement, flags = REQUIRED[case]
    [resource] = diff_json(case)["resources"]
    assert (resource["change"], resource["replacement"], resource["risks"]) == (change, replacement, flags)


def test_egress_to_the_world_is_network_exposure():
    data = diff_json("egress-open-world")
    got = [(r["logical_id"], r["change"], r["risks"]) for r in data["resources"]]
    assert got == [("WorkerSecurityGroup", "modify", ["network-exposure"]),
                   ("AnyEgress", "add", ["network-exposure"])]


def test_shortened_retention_is_flagged_and_never_expire_is_not():
    data = diff_json("retention-shortened")
    got = [(r["logical_id"], r["risks"]) for r in data["resources"]]
    assert got == [("AppLogs", ["retention-reduced"]),      # 90 -> 30 days
                   ("AuditLogs", ["retention-reduced"]),    # never expire -> 365 days
                   ("DebugLogs", [])]                       # 7 days -> never expire


def test_option_settings_are_named_by_namespace_and_option():
    [resource] = diff_json("option-setting-changed")["resources"]
    assert resource["properties"] == [  # MinSize 2 vs '2' and the new order are no change
        "OptionSettings[aws:autoscaling:asg:MaxSize].Value",
        "OptionSettings[aws:elasticbeanstalk:command:DeploymentPolicy].Value",
        "OptionSettings[aws:elasticbeanstalk:application:environment:LOG_LEVEL]",
        "OptionSettings[aws:elasticbeanstalk:healthreporting:system:SystemType]"]


def test_statements_without_sid_are_named_by_action():
    [resource] = diff_json("statement-by-action")["resources"]
    assert resource["properties"] == [
        "PolicyDocument.Statement[Action=logs:CreateLogStream,logs:PutLogEvents].Resource",
        "PolicyDocument.Statement[Action=s3:GetObject,s3:PutObject].Action"]


def test_condition_evaluated_with_the_parameters_adds_and_removes():
    added = diff_json("condition-turns-true")
    assert [(r["logical_id"], r["change"]) for r in added["resources"]] == [("AlarmTopic", "add")]
    assert added["other"] == []  # the condition itself did not change, its value did
    removed = diff_json("condition-turns-false")
    assert [(r["logical_id"], r["change"], r["risks"]) for r in removed["resources"]] == [
        ("DebugBucket", "remove", ["data-loss"])]


def test_logical_id_rename_is_remove_plus_add_flagged():
    data = diff_json("logical-id-renamed")
    got = [(r["logical_id"], r["change"], r["risks"]) for r in data["resources"]]
    assert got == [("ArtifactBucket", "remove", ["data-loss", "rename"]), ("ArtifactStore", "add", ["rename"])]


def test_reordered_yaml_is_no_change():
    data = diff_json("yaml-reordered")
    assert data["stacks"] == [{"stack": "yaml-reordered", "status": "unchanged"}]
    assert not (data["resources"] or data["parameters"] or data["outputs"] or data["other"])


def test_removed_export_is_flagged():
    data = diff_json("export-removed")
    assert [(o["name"], o["change"], o["risks"]) for o in data["outputs"]] == [("TopicArn", "remove", ["output"])]
    assert data["risks"] == ["output"]


def test_foreach_loops_are_diffed_by_what_they_expand_to():
    data = diff_json("foreach-expanded")
    got = [(r["logical_id"], r["change"], r["risks"]) for r in data["resources"]]
    assert got == [("Topicaudit", "remove", []), ("dataBucket", "remove", ["data-loss"]),
                   ("Topicbilling", "add", []), ("archiveBucket", "add", [])]  # "logs, archive": space-trimmed
    assert [(o["name"], o["change"]) for o in data["outputs"]] == [("TopicauditArn", "remove"),
                                                                   ("TopicbillingArn", "add")]
