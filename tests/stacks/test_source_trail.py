"""The optional trail of uploads to the source bucket (``audit.source_trail`` in delivery.yaml, stack
``source-trail``), on the committed templates and on models written here."""
import pytest

from generator import model, registry
from generator.render import rendered
from tests.helpers import resources, statements

ON = """
project: {name: acme}
tools: ops
%s
environments:
  - {name: ops, protected: true}
  - {name: live, protected: true}
applications:
  - {name: billing, kind: beanstalk, waves: [live]}
"""


def stack(m, name):
    return next((s for s in registry.stacks(m) if s.name == name), None)


def trail_of(template):
    [(logical_id, trail)] = resources(template, "AWS::CloudTrail::Trail").items()
    return trail["Properties"]


def trail_arn(props):
    name = props["TrailName"]["Fn::Sub"]
    return {"Fn::Sub": "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/" + name}


def cloudtrail_key_statements(foundation):
    [key] = resources(foundation, "AWS::KMS::Key").values()
    return [s for s in statements(key["Properties"]["KeyPolicy"])
            if s["Principal"] == {"Service": "cloudtrail.amazonaws.com"}]


@pytest.mark.parametrize("setting,present", [("", False), ("audit: {source_trail: false}", False),
                                             ("audit: {source_trail: true}", True)])
def test_the_model_setting_decides(setting, present):
    m = model.loads(ON % setting, "test.yaml")
    trail = stack(m, "source-trail")
    assert (trail is not None) == present
    if present:
        assert trail.environments == ("ops",)
    foundation = rendered(stack(m, "foundation"))[0]
    assert bool(cloudtrail_key_statements(foundation)) == present


def test_unknown_audit_key_is_refused():
    with pytest.raises(model.ModelError) as err:
        model.loads(ON % "audit: {trail: true}", "test.yaml")
    assert "audit.trail" in str(err.value) and "source_trail" in str(err.value)


@pytest.fixture
def sample(templates):
    if not model.current().source_trail:
        pytest.skip("the model does not enable audit.source_trail")
    return templates["source-trail"], templates["foundation"]


def test_trail_records_every_write_to_the_source_bucket(sample):
    template, _ = sample
    props = trail_of(template)
    assert props["IsLogging"] is True and props["EnableLogFileValidation"] is True
    assert props["KMSKeyId"] == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}
    [selector] = props["AdvancedEventSelectors"]
    fields = {f["Field"]: f for f in selector["FieldSelectors"]}
    assert fields["eventCategory"]["Equals"] == ["Data"]
    assert fields["resources.type"]["Equals"] == ["AWS::S3::Object"]
    assert fields["readOnly"]["Equals"] == ["false"]
    [prefix] = fields["resources.ARN"]["StartsWith"]
    assert prefix == {"Fn::Sub": ["${Arn}/", {"Arn": {"Fn::ImportValue": {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-artifacts-SourceBucketArn"}}}]}
    assert {"artifacts", "foundation"} <= set(registry.requires(registry.get("source-trail")))


def test_bucket_and_key_admit_cloudtrail_for_this_trail_only(sample):
    template, foundation = sample
    props = trail_of(template)
    arn = trail_arn(props)
    policy = resources(template, "AWS::S3::BucketPolicy")["TrailBucketPolicy"]["Properties"]["PolicyDocument"]
    allows = [s for s in statements(policy) if s["Effect"] == "Allow"]
    assert {tuple(s["Action"]) for s in allows} == {("s3:GetBucketAcl",), ("s3:PutObject",)}
    for s in allows:
        assert s["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert s["Condition"]["StringEquals"]["aws:SourceArn"] == arn
    [put] = [s for s in allows if s["Action"] == ["s3:PutObject"]]
    assert put["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    key = cloudtrail_key_statements(foundation)
    assert sorted(a for s in key for a in s["Action"]) == ["kms:DescribeKey", "kms:GenerateDataKey"]
    for s in key:
        assert s["Condition"]["StringEquals"]["aws:SourceArn"] == arn
