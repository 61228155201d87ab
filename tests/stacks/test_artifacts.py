"""The artifacts stack: hardened KMS buckets (source, one artifact store per pipeline) and the approvals topic."""
import fnmatch

import pytest

from generator import model, registry
from tests.helpers import load_template, resources, statements

FOUNDATION_KEY = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}


@pytest.fixture(scope="module")
def template():
    return load_template("artifacts")


@pytest.fixture(scope="module")
def buckets(template):
    return resources(template, "AWS::S3::Bucket")


def store_id(component):
    return "".join(part.capitalize() for part in component.split("-")) + "ArtifactBucket"


STORES = [store_id(c) for c in registry.pipeline_components(model.current())]


def test_source_bucket_and_one_artifact_store_per_pipeline(buckets):
    assert len(STORES) >= 3
    assert set(buckets) == {"SourceBucket", *STORES}


@pytest.mark.parametrize("bucket", STORES + ["SourceBucket"])
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


@pytest.mark.parametrize("bucket", STORES)
def test_artifacts_expire_after_parameterised_days(buckets, bucket):
    rules = {r["Id"]: r for r in buckets[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireObjects"]["ExpirationInDays"] == {"Ref": "ArtifactRetentionDays"}


def _role_names(template):
    """``{logical id: name pattern}`` of the template's roles, ``${...}`` turned into ``*``."""
    import re
    names = {}
    for logical_id, role in resources(template, "AWS::IAM::Role").items():
        name = role["Properties"]["RoleName"]["Fn::Sub"]
        names[logical_id] = re.sub(r"\$\{[^}]+\}", "X", name)
    return names


@pytest.mark.parametrize("component", registry.pipeline_components(model.current()))
def test_only_this_pipelines_roles_may_write_its_store(template, templates, component):
    """The bypass: a build of another pipeline (privileged Docker on arbitrary source) overwriting this
    pipeline's approved artifacts. The store's policy denies PutObject to every other principal."""
    import re
    policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values()
                  if p["Properties"]["Bucket"] == {"Ref": store_id(component)})
    deny = next(s for s in statements(policy["Properties"]["PolicyDocument"])
                if s.get("Sid") == "DenyWritesByOtherThanThisPipelinesRoles")
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == ["s3:PutObject"]
    pattern = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::Sub"]
    glob = re.sub(r"\$\{[^}]+\}", "X", pattern.split(":role/")[1])
    own = other = 0
    for stack_cls in registry.STACKS:
        if getattr(stack_cls, "delivery", None) is None:
            continue
        for role in _role_names(templates[stack_cls.name]).values():
            if stack_cls.delivery.component == component:
                own += 1
                assert fnmatch.fnmatchcase(role, glob), f"{stack_cls.name} role {role} cannot write its own store"
            else:
                other += 1
                assert not fnmatch.fnmatchcase(role, glob), f"{stack_cls.name} role {role} may write {component}'s store"
    assert own and other


def test_no_role_is_granted_writes_to_another_pipelines_store(templates):
    for stack_cls in registry.STACKS:
        delivery = getattr(stack_cls, "delivery", None)
        if delivery is None:
            continue
        template = templates[stack_cls.name]
        for policy in resources(template, "AWS::IAM::Policy").values():
            for statement in statements(policy["Properties"]["PolicyDocument"]):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if "s3:PutObject" not in actions:
                    continue
                text = str(statement["Resource"])
                for component in registry.pipeline_components(model.current()):
                    prefix = "".join(p.capitalize() for p in component.split("-")) + "ArtifactBucket"
                    if prefix in text:
                        assert component == delivery.component, (stack_cls.name, text)


def test_source_bucket_sends_eventbridge_notifications(buckets):
    config = buckets["SourceBucket"]["Properties"]["NotificationConfiguration"]
    assert config == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


@pytest.mark.parametrize("bucket", STORES + ["SourceBucket"])
def test_bucket_policy_denies_plain_http_and_foreign_encryption(template, bucket):
    policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values()
                  if p["Properties"]["Bucket"] == {"Ref": bucket})
    denies = {s["Sid"]: s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"}
    assert denies["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    assert denies["DenyUploadsNotUsingTheBucketKmsKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}
    assert denies["DenyUploadsUnderAnotherKmsKey"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": FOUNDATION_KEY}}


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


@pytest.mark.parametrize("bucket", STORES + ["SourceBucket"])
@pytest.mark.parametrize("request_headers,allowed", [
    ({"s3:x-amz-server-side-encryption": "aws:kms",
      "s3:x-amz-server-side-encryption-aws-kms-key-id": FOUNDATION_KEY}, True),   # CodePipeline / CodeBuild
    ({}, False),                                          # no header: refused, clients send both headers
    ({"s3:x-amz-server-side-encryption": "aws:kms",
      "s3:x-amz-server-side-encryption-aws-kms-key-id": OTHER_KEY}, False),        # another key
    ({"s3:x-amz-server-side-encryption-aws-kms-key-id": FOUNDATION_KEY}, False),   # key id, no algorithm
    ({"s3:x-amz-server-side-encryption": "AES256"}, False),                        # SSE-S3
    ({"s3:x-amz-server-side-encryption": "aws:kms:dsse"}, False),
    ({"s3:x-amz-server-side-encryption": "aws:kms"}, False),                       # aws/s3 managed key
], ids=["bucket-key", "no-header", "other-key", "key-without-algorithm", "aes256", "dsse", "kms-without-key-id"])
def test_put_object_only_under_the_bucket_key(template, bucket, request_headers, allowed):
    policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values()
                  if p["Properties"]["Bucket"] == {"Ref": bucket})
    component = next((c for c in registry.pipeline_components(model.current()) if store_id(c) == bucket), "source")
    caller = {"aws:PrincipalArn": f"arn:X:iam::X:role/X-X-{component}-pipeline"}  # the pipeline's own role
    denied_by = _denied(policy["Properties"]["PolicyDocument"], dict(TLS, **caller, **request_headers))
    assert (denied_by is None) is allowed, denied_by


def test_approvals_topic_encrypted_with_tools_key(template):
    topic = resources(template, "AWS::SNS::Topic")["ApprovalsTopic"]
    assert topic["Properties"]["KmsMasterKeyId"] == FOUNDATION_KEY


def test_exports(template):
    stores = {f"{store_id(c)[:-len('Bucket')]}Bucket{suffix}" for c in registry.pipeline_components(model.current())
              for suffix in ("Name", "Arn")}
    assert set(template["Outputs"]) == {"SourceBucketName", "SourceBucketArn", "ApprovalsTopicArn", *stores}


@pytest.mark.parametrize("bucket", STORES + ["SourceBucket"])
def test_aws_kms_without_a_key_id_is_denied_by_its_own_statement_too(template, bucket):
    """S3 stores such an upload under the AWS managed key aws/s3: refused whatever reading of ...IfExists."""
    policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values()
                  if p["Properties"]["Bucket"] == {"Ref": bucket})
    [explicit] = [s for s in statements(policy["Properties"]["PolicyDocument"])
                  if s.get("Sid") == "DenyKmsUploadsWithoutAKeyId"]
    request = dict(TLS, **{"s3:x-amz-server-side-encryption": "aws:kms"})
    assert _denied({"Statement": [explicit]}, request) == "DenyKmsUploadsWithoutAKeyId"
    request["s3:x-amz-server-side-encryption-aws-kms-key-id"] = FOUNDATION_KEY
    assert _denied({"Statement": [explicit]}, request) is None
