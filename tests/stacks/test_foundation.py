"""The foundation stack's hardening, asserted on the rendered template."""
import pytest

from tests.helpers import as_list, load_template, one, resources, statements

STATEFUL = ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup")


@pytest.fixture(scope="module")
def template():
    return load_template("foundation")


def test_key_rotation_alias_and_retention(template):
    key_id, key = one(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    _, alias = one(template, "AWS::KMS::Alias")
    assert alias["Properties"]["TargetKeyId"] == {"Ref": key_id}
    assert alias["Properties"]["AliasName"] == {"Fn::Sub": "alias/${ProjectName}-${EnvironmentName}"}


def test_key_policy_root_admin_and_only_conditioned_services(template):
    _, key = one(template, "AWS::KMS::Key")
    policy = statements(key["Properties"]["KeyPolicy"])
    root = [s for s in policy if "AWS" in s["Principal"]]
    assert len(root) == 1
    assert root[0]["Principal"]["AWS"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    assert "kms:PutKeyPolicy" in root[0]["Action"] and "kms:*" not in root[0]["Action"]
    services = [s for s in policy if "Service" in s["Principal"]]
    named = {str(s["Principal"]["Service"]) for s in services}
    assert any("logs." in n for n in named)
    assert {"events.amazonaws.com", "cloudwatch.amazonaws.com", "codestar-notifications.amazonaws.com"} <= named
    for statement in services:
        assert statement.get("Condition"), f"unconditioned service statement {statement['Sid']}"
    assert all(s["Principal"] != "*" for s in policy)


def test_access_log_bucket(template):
    _, bucket = one(template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse == {"SSEAlgorithm": "AES256"}, "S3 access log delivery supports SSE-S3 only"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"][k] is True for k in (
        "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    assert {r["Id"] for r in props["LifecycleConfiguration"]["Rules"]} >= {"ExpireObjects", "AbortIncompleteMultipartUploads"}
    assert bucket["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_18"


def test_access_log_bucket_policy_grants_log_delivery_for_this_account(template):
    _, policy = one(template, "AWS::S3::BucketPolicy")
    grants = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert [g["Principal"] for g in grants] == [{"Service": "logging.s3.amazonaws.com"},
                                                {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}]
    for grant in grants:
        assert grant["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    denies = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]
    assert any(d["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for d in denies)


def test_notifications_topic_encrypted_and_publishers_limited_to_account(template):
    topic_id, topic = one(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["EncryptionKey", "Arn"]}
    _, policy = one(template, "AWS::SNS::TopicPolicy")
    allows = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in allows} == {
        "events.amazonaws.com", "cloudwatch.amazonaws.com", "codestar-notifications.amazonaws.com"}
    for statement in allows:
        assert as_list(statement["Action"]) == ["sns:Publish"]
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_email_subscription_only_when_address_given(template):
    _, subscription = one(template, "AWS::SNS::Subscription")
    condition = template["Conditions"][subscription["Condition"]]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "NotificationEmail"}, ""]}]}


def test_audit_log_group_encrypted_with_retention_parameter(template):
    _, group = one(template, "AWS::Logs::LogGroup")
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["EncryptionKey", "Arn"]}
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert 3653 in template["Parameters"]["LogRetentionDays"]["AllowedValues"]


def test_stateful_resources_have_deletion_and_replace_policies(template):
    stateful = {k: v for k, v in resources(template).items() if v["Type"] in STATEFUL}
    assert len(stateful) == 3
    for logical_id, resource in stateful.items():
        assert resource["DeletionPolicy"] == "Retain", logical_id
        assert resource["UpdateReplacePolicy"] == "Retain", logical_id


def test_outputs_exported_under_naming_convention(template):
    for name, output in template["Outputs"].items():
        assert output["Export"]["Name"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-" + name}
    assert {"KeyArn", "AccessLogBucketName", "NotificationsTopicArn", "AuditLogGroupName"} <= set(template["Outputs"])


def test_parameters_constrained_and_grouped(template):
    params = template["Parameters"]
    assert params["EnvironmentName"]["AllowedPattern"]
    assert params["ProjectName"]["AllowedPattern"]
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [p for g in groups for p in g["Parameters"]]
    assert sorted(grouped) == sorted(params)
