"""Every bucket is versioned, encrypted, private, TLS-only and has a lifecycle rule."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import SOURCE_URL, is_true, properties, resources

PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _denies_insecure_transport(statement) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    secure = (condition.get("Bool") or {}).get("aws:SecureTransport") if isinstance(condition.get("Bool"), dict) else None
    return secure is False or (isinstance(secure, str) and secure.lower() == "false")


def _tls_only_buckets(cfn) -> set:
    found = set()
    for _, policy in resources(cfn, "AWS::S3::BucketPolicy"):
        props = properties(policy)
        bucket = props.get("Bucket")
        document = props.get("PolicyDocument")
        if not (isinstance(bucket, dict) and isinstance(bucket.get("Ref"), str) and isinstance(document, dict)):
            continue
        if any(_denies_insecure_transport(s) for s in _as_list(document.get("Statement", []))):
            found.add(bucket["Ref"])
    return found


class BucketHardened(CloudFormationLintRule):
    id = "E9103"
    shortdesc = "Buckets are versioned, encrypted, private, TLS-only, with a lifecycle rule"
    description = (
        "Every AWS::S3::Bucket has versioning enabled, default encryption, all four public-access-block "
        "settings on, at least one lifecycle rule, and a bucket policy in the same template that denies "
        "requests without TLS (aws:SecureTransport false)."
    )
    source_url = SOURCE_URL
    tags = ["resources", "s3", "encryption", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        tls_only = _tls_only_buckets(cfn)
        for logical_id, resource in resources(cfn, "AWS::S3::Bucket"):
            props = properties(resource)
            path = ["Resources", logical_id, "Properties"]
            problems = []
            versioning = props.get("VersioningConfiguration")
            if not (isinstance(versioning, dict) and versioning.get("Status") == "Enabled"):
                problems.append("versioning is not enabled (VersioningConfiguration.Status: Enabled)")
            encryption = props.get("BucketEncryption")
            if not (isinstance(encryption, dict) and encryption.get("ServerSideEncryptionConfiguration")):
                problems.append("it has no default encryption (BucketEncryption)")
            block = props.get("PublicAccessBlockConfiguration")
            missing = [k for k in PUBLIC_ACCESS_BLOCK if not (isinstance(block, dict) and is_true(block.get(k)))]
            if missing:
                problems.append(f"PublicAccessBlockConfiguration does not set {', '.join(missing)} to true")
            lifecycle = props.get("LifecycleConfiguration")
            if not (isinstance(lifecycle, dict) and lifecycle.get("Rules")):
                problems.append("it has no lifecycle rule (LifecycleConfiguration.Rules)")
            if logical_id not in tls_only:
                problems.append("no bucket policy denies requests with aws:SecureTransport false")
            for problem in problems:
                matches.append(RuleMatch(path, f"bucket {logical_id}: {problem}"))
        return matches
