"""``source-trail`` (tools, when ``audit.source_trail`` is on in delivery.yaml): who uploaded what.

A CloudTrail trail records every write and delete of an object in the source bucket (the uploads
that start the pipelines) with the caller's identity, source IP and the object's key and version,
into a bucket of its own (log file validation on, files encrypted with the tools key, expired after
``TrailRetentionDays``). The foundation key lets CloudTrail use it for this trail only.
"""
from __future__ import annotations

from troposphere import Ref

from ..components.kms import KeyReference
from ..components.s3 import BucketReference, SecureBucket, lifecycle_rules
from ..components.trail import ObjectWriteTrail
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from . import artifacts, foundation

#: The trail is ``{project}-{tools}-source-uploads``; the foundation key's policy names it.
TRAIL = "source-uploads"


class EXPORTS(ExportSet):
    stack = "source-trail"
    trail_bucket = declare(stack, "TrailBucketName", "Bucket holding the source-upload trail's log files")


class SourceTrailStack(Stack):
    name = EXPORTS.stack
    description = "CloudTrail data events of the source bucket: who uploaded which source archive (tools)"

    def create(self):
        retention = self.parameter(
            "TrailRetentionDays", "Retention", "Trail log retention (days)",
            Type="Number", Default=365, MinValue=1, MaxValue=3650,
            Description="Days S3 keeps the trail's log files",
        )
        key = KeyReference(foundation.EXPORTS.key_arn.imported())
        # SSE-S3 by default: CloudTrail encrypts each log file with the key itself (KMSKeyId).
        bucket = SecureBucket(
            self, "TrailBucket", naming.global_name("trail"),
            lifecycle=lifecycle_rules(expire_days=Ref(retention), noncurrent_days=30),
            access_logs=BucketReference(foundation.EXPORTS.access_log_bucket.imported()), log_prefix="s3/trail/",
        )
        ObjectWriteTrail(self, "SourceUploadsTrail", TRAIL, artifacts.source_bucket(), bucket, key)
        self.export(EXPORTS.trail_bucket, bucket.name)
