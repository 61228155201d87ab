"""``artifacts`` (tools only): what every pipeline shares, under the tools key: the source bucket and
the approvals topic. Its size does not depend on the number of applications.

Each pipeline's artifact store is its own stack (``<app>-store``, see ``store``): only that
pipeline's roles may write to it (components are prefix-free, see ``registry``), so a build of one
pipeline (which runs privileged Docker on arbitrary source) cannot overwrite the artifacts another
pipeline has built and is about to promote.
"""
from __future__ import annotations

from troposphere import Ref

from ..components.kms import KeyReference
from ..components.s3 import BucketReference, SecureBucket, lifecycle_rules
from ..components.sns import EVENTBRIDGE, EncryptedTopic, TopicReference
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from . import foundation
from .foundation import EMAIL_PATTERN


class EXPORTS(ExportSet):
    stack = "artifacts"
    source_bucket = declare(stack, "SourceBucketName", "Bucket the pipelines' source archives are uploaded to")
    source_bucket_arn = declare(stack, "SourceBucketArn", "ARN of the source bucket")
    approvals_topic = declare(stack, "ApprovalsTopicArn", "SNS topic for manual approval requests")


def source_bucket() -> BucketReference:
    return BucketReference(EXPORTS.source_bucket.imported(), EXPORTS.source_bucket_arn.imported(),
                           KeyReference(foundation.EXPORTS.key_arn.imported()))


def approvals_topic() -> TopicReference:
    return TopicReference(EXPORTS.approvals_topic.imported(), KeyReference(foundation.EXPORTS.key_arn.imported()))


class ArtifactsStack(Stack):
    name = "artifacts"
    description = "Shared delivery resources: source bucket, approvals topic (tools environment)"

    def create(self):
        self.create_parameters()
        self.key = KeyReference(foundation.EXPORTS.key_arn.imported())
        self.access_logs = BucketReference(foundation.EXPORTS.access_log_bucket.imported())
        self.create_buckets()
        self.create_approvals_topic()
        self.create_outputs()

    def create_parameters(self):
        self.noncurrent_retention = self.parameter(
            "NoncurrentVersionRetentionDays", "Retention", "Old version retention (days)",
            Type="Number", Default=30, MinValue=1, MaxValue=3650,
            Description="Days S3 keeps overwritten or deleted object versions",
        )
        self.approval_email = self.parameter(
            "ApprovalEmail", "Notifications", "Approver e-mail",
            Type="String", Default="", AllowedPattern=EMAIL_PATTERN,
            ConstraintDescription="an e-mail address, or empty for no subscription",
            Description="Address subscribed to the approvals topic (empty: none)",
        )

    def create_buckets(self):
        self.source = SecureBucket(
            self, "SourceBucket", naming.global_name("source"),
            lifecycle=lifecycle_rules(noncurrent_days=Ref(self.noncurrent_retention)),
            key=self.key, access_logs=self.access_logs, log_prefix="s3/source/", eventbridge=True,
        )

    def create_approvals_topic(self):
        from . import operations  # operations imports this module's exports

        # Approval requests come from the operations stacks' approval rules (EventBridge), nothing else.
        self.approvals = EncryptedTopic(
            self, "ApprovalsTopic", naming.physical_name("approvals"),
            "Deployment approvals", self.key, email=self.approval_email, publishers=(EVENTBRIDGE,),
            eventbridge_rules=operations.rule_arns(self.model, operations.APPROVALS),
        )

    def create_outputs(self):
        self.export(EXPORTS.source_bucket, self.source.name)
        self.export(EXPORTS.source_bucket_arn, self.source.arn)
        self.export(EXPORTS.approvals_topic, self.approvals.arn)
