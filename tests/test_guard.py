"""The project's own Guard rules (generator/lint/guard/*.guard) run by generator.lint.guard_runner:
each rule family has a failing fixture (exactly the expected (rule, resource) findings) and a passing
one (nothing, suppressed resources included), and the committed templates have no finding."""
from pathlib import Path

import pytest

from generator import yamlio
from generator.lint import gate, guard_runner

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "guard"
FAMILIES = ["s3", "logs", "cfn", "iam", "ec2", "elbv2"]

EXPECTED_FAILURES = {
    "s3": {("S3_BUCKET_DEFAULT_LOCK_ENABLED", "Bucket"), ("S3_BUCKET_NO_PUBLIC_RW_ACL", "Bucket"),
           ("S3_BUCKET_REPLICATION_ENABLED", "Bucket"), ("S3_BUCKET_LOGGING_ENABLED", "Bucket"),
           # the string "false" is not the documented shape Guard matches
           ("S3_BUCKET_SSL_REQUESTS_ONLY", "BucketPolicy")},
    "logs": {("CW_LOGGROUP_RETENTION_PERIOD_CHECK", "NoRetention"),
             ("CW_LOGGROUP_RETENTION_PERIOD_CHECK", "ParameterRetention"),
             ("CW_LOGGROUP_RETENTION_PERIOD_CHECK", "OddRetention")},
    "cfn": {("CFN_NO_EXPLICIT_RESOURCE_NAMES", "Role"), ("CFN_NO_EXPLICIT_RESOURCE_NAMES", "Alarm"),
            ("CFN_NO_EXPLICIT_RESOURCE_NAMES", "Repository")},
    "iam": {("IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE", "Policy"), ("IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE", "Role")},
    "ec2": {("EC2_SECURITY_GROUP_EGRESS_OPEN_TO_WORLD_RULE", "OpenGroup"),
            ("SECURITY_GROUP_EGRESS_PORT_RANGE_RULE", "RangeEgress")},
    "elbv2": {("ELBV2_LISTENER_PROTOCOL_RULE", "HttpListener"), ("ELBV2_LISTENER_SSL_POLICY_RULE", "HttpListener"),
              ("ELB_DELETION_PROTECTION_ENABLED", "LoadBalancer")},
}


def findings(path: Path) -> set:
    found = set()
    for line in guard_runner.check_template(path.name, yamlio.load_file(path)):
        rule, logical_id = line.split(": ", 1)[1].rstrip(")").split(" (")
        found.add((rule, logical_id))
    return found


def test_rule_files_declare_the_registry_rules_the_issue_lists():
    assert guard_runner.rule_names() == sorted({rule for family in EXPECTED_FAILURES.values() for rule, _ in family})
    assert sorted(p.stem for p in guard_runner.rule_files()) == sorted(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_failing_fixture_fails_exactly_the_expected_rules(family):
    assert findings(FIXTURES / f"{family}-fail.yaml") == EXPECTED_FAILURES[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_passing_fixture_passes_suppressed_resources_included(family):
    assert findings(FIXTURES / f"{family}-pass.yaml") == set()


def test_a_suppression_of_another_rule_does_not_skip_this_one():
    assert ("CFN_NO_EXPLICIT_RESOURCE_NAMES", "Role") in findings(FIXTURES / "cfn-fail.yaml")


def test_large_resources_are_judged_despite_the_engines_short_report():
    """cfn-guard-rs 0.3.3 truncates its non-verbose report past 8 KiB; the runner reads the verbose one."""
    big = {"Resources": {"Group": {"Type": "AWS::Logs::LogGroup", "Properties": {
        "LogGroupName": "x" * 20000}}}}
    assert guard_runner.check_template("big", big) == ["big: CW_LOGGROUP_RETENTION_PERIOD_CHECK (Group)"]


def test_a_rule_file_that_does_not_parse_is_a_setup_error(tmp_path):
    (tmp_path / "broken.guard").write_text("rule BROKEN { Resources.*[ Type == }\n")
    with pytest.raises(guard_runner.GuardSetupError, match="broken.guard"):
        guard_runner.check_template("t", {"Resources": {"A": {"Type": "AWS::S3::Bucket"}}}, folder=tmp_path)


@pytest.mark.parametrize("path", sorted((ROOT / "templates").glob("*.yaml")), ids=lambda p: p.name)
def test_committed_templates_have_no_guard_finding(path):
    assert guard_runner.check_template(path.name, yamlio.load_file(path)) == []


def test_gate_reports_guard_as_a_tool():
    report = gate.run_guard([FIXTURES / "elbv2-fail.yaml"])
    assert report.tool == "guard" and len(report.findings) == 3
