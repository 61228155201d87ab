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
    assert "S3_BUCKET_LOGGING_ENABLED" in bucket["Metadata"]["guard"]["SuppressedRules"]


def test_access_log_bucket_policy_grants_s3_log_delivery_for_this_account(template):
    _, policy = one(template, "AWS::S3::BucketPolicy")
    grants = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    s3_logging = [g for g in grants if g["Principal"] == {"Service": "logging.s3.amazonaws.com"}]
    assert len(s3_logging) == 1
    assert s3_logging[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    denies = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]
    # the TLS deny in the shape Guard's S3_BUCKET_SSL_REQUESTS_ONLY reads: a JSON boolean
    assert any(d["Condition"] == {"Bool": {"aws:SecureTransport": False}} for d in denies)


def _elb_grant(template):
    _, policy = one(template, "AWS::S3::BucketPolicy")
    return next(s for s in statements(policy["Properties"]["PolicyDocument"]) if s.get("Sid") == "AllowElbAccessLogDelivery")


def test_elb_account_mapping_is_the_documented_table(template):
    from generator.components.elb_logs import ELB_ACCOUNT_IDS

    mapping = template["Mappings"]["ElbAccessLogAccounts"]
    assert {region: row["AccountId"] for region, row in mapping.items()} == ELB_ACCOUNT_IDS
    assert mapping["us-east-1"]["AccountId"] == "127311923021"
    assert mapping["eu-west-1"]["AccountId"] == "156460612806"
    assert "ap-southeast-3" in mapping  # Jakarta (Dec 2021) is in the pre-August-2022 table
    assert not {"ap-south-2", "eu-central-2", "eu-south-2", "me-central-1", "il-central-1", "ca-west-1",
                "ap-southeast-4"} & set(mapping)  # opened since August 2022: service principal


def _regions_in(condition):
    if isinstance(condition, dict) and "Fn::Or" in condition:
        return [r for part in condition["Fn::Or"] for r in _regions_in(part)]
    left, right = condition["Fn::Equals"]
    assert left == {"Ref": "AWS::Region"}
    return [right]


def test_elb_condition_is_exactly_the_mapped_regions(template):
    grant = _elb_grant(template)
    condition_name = grant["Principal"]["Fn::If"][0]
    regions = _regions_in(template["Conditions"][condition_name])
    assert sorted(regions) == sorted(template["Mappings"]["ElbAccessLogAccounts"])


def test_elb_grant_legacy_branch_is_the_region_account_root(template):
    grant = _elb_grant(template)
    _, legacy, _ = grant["Principal"]["Fn::If"]
    arn, variables = legacy["AWS"]["Fn::Sub"]
    assert arn == "arn:${AWS::Partition}:iam::${ElbAccount}:root"
    assert variables["ElbAccount"] == {"Fn::FindInMap": ["ElbAccessLogAccounts", {"Ref": "AWS::Region"}, "AccountId"]}
    # no aws:SourceAccount/SourceArn: never set when an account (not a service principal) calls
    assert "Condition" not in grant


def test_elb_grant_new_region_branch_is_the_service_principal(template):
    grant = _elb_grant(template)
    _, _, new = grant["Principal"]["Fn::If"]
    assert new == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert grant["Action"] in ("s3:PutObject", ["s3:PutObject"])
    # both branches limited to this account's log path under the ALB prefix
    resource = grant["Resource"][0]["Fn::Sub"]
    assert resource[0] == "${Arn}/alb/AWSLogs/${AWS::AccountId}/*"


def test_notifications_topic_encrypted_and_publishers_limited_to_account(template):
    topic_id, topic = one(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["EncryptionKey", "Arn"]}
    _, policy = one(template, "AWS::SNS::TopicPolicy")
    allows = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in allows} == {
        "events.amazonaws.com", "cloudwatch.amazonaws.com", "codestar-notifications.amazonaws.com"}
    for statement in allows:
        assert as_list(statement["Action"]) == ["sns:Publish"]
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        # EventBridge only for the operations stacks' rules (tests/stacks/test_operations.py checks the list).
        expected = {"StringEquals"} | ({"ArnLike"} if statement["Principal"]["Service"] == "events.amazonaws.com"
                                       else set())
        assert set(statement["Condition"]) == expected


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
