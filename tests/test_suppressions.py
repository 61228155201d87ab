"""Suppressions are data with reasons: declared once, written in each tool's native form, listed."""
from pathlib import Path

import pytest
from troposphere import s3

from generator import render, yamlio
from generator.core.suppress import METADATA_KEY, Suppression, suppress
from generator.lint import suppressions

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_FILES = sorted((ROOT / "templates").glob("*.yaml"))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_every_suppression_has_a_reason_and_every_native_skip_is_declared(path):
    assert suppressions.problems(path.name, yamlio.load_file(path)) == []


def test_foundation_declares_the_access_log_bucket_suppression():
    entries = suppressions.entries("foundation.yaml", yamlio.load_file(ROOT / "templates" / "foundation.yaml"))
    checkov = [(e.logical_id, e.checkov, e.guard) for e in entries if e.checkov]
    assert checkov == [("AccessLogBucket", ("CKV_AWS_18",), ("S3_BUCKET_LOGGING_ENABLED",))]
    assert "log" in next(e for e in entries if e.checkov).reason


def test_guard_suppression_writes_metadata_guard_and_the_mirror():
    reason = "Named on purpose: other stacks match it by ARN pattern"
    template = bucket_with(Suppression(reason, guard=("S3_BUCKET_REPLICATION_ENABLED",)),
                           Suppression("Another reason long enough to be read", guard=("S3_BUCKET_LOGGING_ENABLED",
                                                                                        "S3_BUCKET_REPLICATION_ENABLED")))
    metadata = template["Resources"]["Bucket"]["Metadata"]
    assert metadata["guard"] == {"SuppressedRules": ["S3_BUCKET_REPLICATION_ENABLED", "S3_BUCKET_LOGGING_ENABLED"]}
    assert metadata[METADATA_KEY]["suppressions"][0] == {"reason": reason, "guard": ["S3_BUCKET_REPLICATION_ENABLED"]}
    assert "checkov" not in metadata and "cfn-lint" not in metadata
    entries = suppressions.entries("t.yaml", template)
    assert entries[0].guard == ("S3_BUCKET_REPLICATION_ENABLED",)
    assert entries[0].rules() == "guard S3_BUCKET_REPLICATION_ENABLED"
    assert suppressions.problems("t.yaml", template) == []
    with pytest.raises(ValueError, match="tuple"):
        Suppression("a long enough reason for the reviewer", guard="S3_BUCKET_LOGGING_ENABLED")


def test_undeclared_or_missing_guard_suppressions_are_reported():
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Metadata": {
        "guard": {"SuppressedRules": ["S3_BUCKET_LOGGING_ENABLED"]},
        METADATA_KEY: {"suppressions": [{"reason": "a reason long enough for review", "guard": ["CFN_X"]}]},
    }}}}
    problems = suppressions.problems("t.yaml", template)
    assert any("Guard suppression S3_BUCKET_LOGGING_ENABLED is not declared with a reason" in p for p in problems)
    assert any("declared Guard suppression CFN_X is missing from Metadata.guard.SuppressedRules" in p
               for p in problems)


@pytest.mark.parametrize("reason", ["", "   ", "because"])
def test_a_suppression_without_a_reason_is_refused(reason):
    with pytest.raises(ValueError, match="reason"):
        Suppression(reason, checkov=("CKV_AWS_18",))


def test_a_suppression_naming_no_rule_is_refused():
    with pytest.raises(ValueError, match="at least one rule"):
        Suppression("a long enough reason for the reviewer")
    with pytest.raises(ValueError, match="tuple"):
        Suppression("a long enough reason for the reviewer", checkov="CKV_AWS_18")


def bucket_with(*declared):
    bucket = s3.Bucket("Bucket")
    for suppression in declared:
        suppress(bucket, suppression)
    return {"Resources": {"Bucket": bucket.to_dict()}}


def test_one_declaration_writes_every_native_form():
    reason = "The access-log bucket cannot log into itself"
    template = bucket_with(Suppression(reason, checkov=("CKV_AWS_18",), cfn_lint=("I3011",),
                                       cfripper=("S3BucketPolicyWildcardActionRule",)))
    metadata = template["Resources"]["Bucket"]["Metadata"]
    assert metadata["checkov"] == {"skip": [{"id": "CKV_AWS_18", "comment": reason}]}
    assert metadata["cfn-lint"] == {"config": {"ignore_checks": ["I3011"]}}
    assert metadata[METADATA_KEY] == {"suppressions": [{
        "reason": reason, "checkov": ["CKV_AWS_18"], "cfn-lint": ["I3011"], "cfripper": ["S3BucketPolicyWildcardActionRule"]}]}
    assert suppressions.problems("t.yaml", template) == []
    source = suppressions.cfripper_filters_source("t.yaml", template)
    assert "eval={'eq': [{'ref': 'logical_id'}, \"Bucket\"]}" in source
    assert 'rules={"S3BucketPolicyWildcardActionRule"}' in source
    assert f"reason={reason!r}".replace("'", '"') in source
    compile(source, "filters.py", "exec")  # valid Python for cfripper's loader


def test_native_skips_without_a_declaration_are_reported():
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Metadata": {
        "checkov": {"skip": [{"id": "CKV_AWS_21", "comment": "no"}]},
        "cfn-lint": {"config": {"ignore_checks": ["W3005"]}},
        METADATA_KEY: {"suppressions": [{"reason": "short", "checkov": ["CKV_AWS_18"]}]},
    }}}}
    problems = suppressions.problems("t.yaml", template)
    assert any("suppression of checkov CKV_AWS_18 has no reason" in p for p in problems)
    assert any("checkov skip CKV_AWS_21 is not declared with a reason" in p for p in problems)
    assert any("cfn-lint ignore W3005 is not declared with a reason" in p for p in problems)
    assert any("declared checkov suppression CKV_AWS_18 is missing from Metadata.checkov.skip" in p for p in problems)


def test_generator_suppressions_match_the_rendered_templates():
    """What the generator declares (collect) is what the template file carries."""
    from generator import registry

    for stack_cls in registry.STACKS:
        stack = render.build(stack_cls)
        declared = sorted((lid, s.reason) for lid, s in stack.suppressions())
        in_file = sorted((e.logical_id, e.reason) for e in suppressions.entries(
            stack_cls.name, yamlio.load_file(ROOT / "templates" / f"{stack_cls.name}.yaml")))
        assert declared == in_file, stack_cls.name
