"""The artifacts stack: hardened KMS buckets and the approvals topic."""
import pytest

from tests.helpers import load_template, resources, statements

FOUNDATION_KEY = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}


@pytest.fixture(scope="module")
def template():
    return load_template("artifacts")


@pytest.fixture(scope="module")
def buckets(template):
    return resources(template, "AWS::S3::Bucket")


def test_two_buckets(buckets):
    assert set(buckets) == {"ArtifactBucket", "SourceBucket"}


@pytest.mark.parametrize("bucket", ["ArtifactBucket", "SourceBucket"])
def test_bucket_hardening(buckets, bucket):
    resource = buckets[bucket]
    props = resource["Properties"]
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": FOUNDATION_KEY}
    assert rule["BucketKeyEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-AccessLogBucketName"}}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == {
        "Ref": "NoncurrentVersionRetentionDays"}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"


def test_artifacts_expire_after_parameterised_days(buckets):
    rules = {r["Id"]: r for r in buckets["ArtifactBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireObjects"]["ExpirationInDays"] == {"Ref": "ArtifactRetentionDays"}


def test_source_bucket_sends_eventbridge_notifications(buckets):
    config = buckets["SourceBucket"]["Properties"]["NotificationConfiguration"]
    assert config == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


@pytest.mark.parametrize("bucket", ["ArtifactBucket", "SourceBucket"])
def test_bucket_policy_denies_plain_http_and_foreign_encryption(template, bucket):
    policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values()
                  if p["Properties"]["Bucket"] == {"Ref": bucket})
    denies = {s["Sid"]: s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"}
    assert denies["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert denies["DenyUploadsNotUsingTheBucketKmsKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}
    assert denies["DenyUploadsUnderAnotherKmsKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": FOUNDATION_KEY}}


def test_approvals_topic_encrypted_with_tools_key(template):
    topic = resources(template, "AWS::SNS::Topic")["ApprovalsTopic"]
    assert topic["Properties"]["KmsMasterKeyId"] == FOUNDATION_KEY


def test_exports(template):
    assert set(template["Outputs"]) == {
        "ArtifactBucketName", "ArtifactBucketArn", "SourceBucketName", "SourceBucketArn", "ApprovalsTopicArn"}
