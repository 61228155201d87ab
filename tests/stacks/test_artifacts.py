"""The artifacts stack: what every pipeline shares (the hardened source bucket, the approvals topic), and
nothing per application (each pipeline's artifact store is its own stack: test_store.py)."""
import fnmatch

import pytest

from tests.helpers import load_template, resources, statements

FOUNDATION_KEY = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}


@pytest.fixture(scope="module")
def template():
    return load_template("artifacts")


@pytest.fixture(scope="module")
def buckets(template):
    return resources(template, "AWS::S3::Bucket")


def test_only_the_source_bucket_whatever_the_number_of_applications(buckets, template):
    assert set(buckets) == {"SourceBucket"}
    assert not [p for p in template["Parameters"] if p == "ArtifactRetentionDays"]


def assert_hardened(resource):
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


def test_bucket_hardening(buckets):
    assert_hardened(buckets["SourceBucket"])


def test_source_bucket_sends_eventbridge_notifications(buckets):
    config = buckets["SourceBucket"]["Properties"]["NotificationConfiguration"]
    assert config == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def assert_denies_plain_http_and_foreign_encryption(template, bucket):
    policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values()
                  if p["Properties"]["Bucket"] == {"Ref": bucket})
    denies = {s["Sid"]: s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"}
    assert denies["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    assert denies["DenyUploadsNotUsingTheBucketKmsKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}
    assert denies["DenyUploadsUnderAnotherKmsKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": FOUNDATION_KEY}}


def test_bucket_policy_denies_plain_http_and_foreign_encryption(template):
    assert_denies_plain_http_and_foreign_encryption(template, "SourceBucket")


# -- item 13: evaluate the bucket policy's denies against PutObject requests ----------------------
def _matches(operator, key, wanted, request):
    """IAM condition operators used by the bucket policies (request: condition key -> value).
    ``...IfExists`` with an absent key evaluates to true (IAM policy reference, condition operators)."""
    wanted = wanted if isinstance(wanted, list) else [wanted]
    present = key in request
    if operator == "Null":
        return (not present) == (str(wanted[0]).lower() == "true")
    if operator == "StringEquals":
        return present and request[key] in wanted
    if operator == "StringNotEqualsIfExists":
        return (not present) or request[key] not in wanted
    if operator == "Bool":
        return present and str(request[key]).lower() == str(wanted[0]).lower()
    if operator == "ArnNotLike":  # the store's own-roles deny: the request comes from one of its roles
        return not (present and any(fnmatch.fnmatchcase(request[key], _glob(w)) for w in wanted))
    raise AssertionError(f"operator {operator} not modelled")


def _glob(pattern):
    import re
    text = pattern["Fn::Sub"] if isinstance(pattern, dict) else pattern
    return re.sub(r"\$\{[^}]+\}", "X", text)


def _denied(policy_document, request):
    for statement in statements(policy_document):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Deny" or not {"s3:PutObject", "s3:*"} & set(actions):
            continue
        if all(_matches(op, key, value, request)
               for op, pairs in statement["Condition"].items() for key, value in pairs.items()):
            return statement["Sid"]
    return None


OTHER_KEY = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
TLS = {"aws:SecureTransport": "true"}


REQUESTS = [
    ({"s3:x-amz-server-side-encryption": "aws:kms",
      "s3:x-amz-server-side-encryption-aws-kms-key-id": FOUNDATION_KEY}, True),   # CodePipeline / CodeBuild
    ({}, False),                                          # no header: refused, clients send both headers
    ({"s3:x-amz-server-side-encryption": "aws:kms",
      "s3:x-amz-server-side-encryption-aws-kms-key-id": OTHER_KEY}, False),        # another key
    ({"s3:x-amz-server-side-encryption-aws-kms-key-id": FOUNDATION_KEY}, False),   # key id, no algorithm
    ({"s3:x-amz-server-side-encryption": "AES256"}, False),                        # SSE-S3
    ({"s3:x-amz-server-side-encryption": "aws:kms:dsse"}, False),
    ({"s3:x-amz-server-side-encryption": "aws:kms"}, False),                       # aws/s3 managed key
]
REQUEST_IDS = ["bucket-key", "no-header", "other-key", "key-without-algorithm", "aes256", "dsse", "kms-without-key-id"]
REQUESTS = [pytest.param(*r, id=i) for r, i in zip(REQUESTS, REQUEST_IDS)]


def bucket_policy(template, bucket):
    return next(p for p in resources(template, "AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": bucket})["Properties"]["PolicyDocument"]


@pytest.mark.parametrize("request_headers,allowed", REQUESTS)
def test_put_object_only_under_the_bucket_key(template, request_headers, allowed):
    caller = {"aws:PrincipalArn": "arn:X:iam::X:role/X-X-source-uploader"}
    denied_by = _denied(bucket_policy(template, "SourceBucket"), dict(TLS, **caller, **request_headers))
    assert (denied_by is None) is allowed, denied_by


def test_approvals_topic_encrypted_with_tools_key(template):
    topic = resources(template, "AWS::SNS::Topic")["ApprovalsTopic"]
    assert topic["Properties"]["KmsMasterKeyId"] == FOUNDATION_KEY


def test_exports(template):
    assert set(template["Outputs"]) == {"SourceBucketName", "SourceBucketArn", "ApprovalsTopicArn"}


def assert_kms_without_a_key_id_denied(policy_document):
    [explicit] = [s for s in statements(policy_document) if s.get("Sid") == "DenyKmsUploadsWithoutAKeyId"]
    request = dict(TLS, **{"s3:x-amz-server-side-encryption": "aws:kms"})
    assert _denied({"Statement": [explicit]}, request) == "DenyKmsUploadsWithoutAKeyId"
    request["s3:x-amz-server-side-encryption-aws-kms-key-id"] = FOUNDATION_KEY
    assert _denied({"Statement": [explicit]}, request) is None


def test_aws_kms_without_a_key_id_is_denied_by_its_own_statement_too(template):
    """S3 stores such an upload under the AWS managed key aws/s3: refused whatever reading of ...IfExists."""
    assert_kms_without_a_key_id_denied(bucket_policy(template, "SourceBucket"))
