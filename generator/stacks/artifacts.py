"""``artifacts`` (tools only): the source bucket, one artifact store per pipeline, and the approvals
topic, under the tools key.

Each pipeline has its own artifact bucket, and only that pipeline's roles may write to it: its
bucket policy denies ``s3:PutObject`` to every principal whose ARN is not one of the pipeline's
roles (``{project}-{env}-<component>-*``; components are prefix-free, see ``registry``). A build
of one pipeline (which runs privileged Docker on arbitrary source) therefore cannot overwrite the
artifacts another pipeline has built and is about to promote.
"""
from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import ArnNotLike, Condition, Deny, Statement
from troposphere import Ref, Sub

from ..components.iam import ANYONE
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


def _pascal(component: str) -> str:
    return "".join(part.capitalize() for part in component.split("-"))


def store_exports(component: str):
    """The export declarations of pipeline ``component``'s artifact store: ``(name, arn)``."""
    prefix = _pascal(component)
    return (declare(EXPORTS.stack, f"{prefix}ArtifactBucketName", f"Artifact store of pipeline {component}"),
            declare(EXPORTS.stack, f"{prefix}ArtifactBucketArn", f"ARN of the artifact store of pipeline {component}"))


def artifact_store(component: str) -> BucketReference:
    """Pipeline ``component``'s artifact bucket as seen from another tools stack."""
    name, arn = store_exports(component)
    return BucketReference(name.imported(), arn.imported(), KeyReference(foundation.EXPORTS.key_arn.imported()))


def role_arn_pattern(component: str) -> Sub:
    """Every role of pipeline ``component`` (pipeline, action, build and trigger roles)."""
    return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-${EnvironmentName}-%s-*" % component)


def source_bucket() -> BucketReference:
    return BucketReference(EXPORTS.source_bucket.imported(), EXPORTS.source_bucket_arn.imported(),
                           KeyReference(foundation.EXPORTS.key_arn.imported()))


def approvals_topic() -> TopicReference:
    return TopicReference(EXPORTS.approvals_topic.imported(), KeyReference(foundation.EXPORTS.key_arn.imported()))


class ArtifactsStack(Stack):
    name = "artifacts"
    description = "Delivery artifact store: source and artifact buckets, approvals topic (tools environment)"

    def create(self):
        self.create_parameters()
        self.key = KeyReference(foundation.EXPORTS.key_arn.imported())
        self.access_logs = BucketReference(foundation.EXPORTS.access_log_bucket.imported())
        self.create_buckets()
        self.create_approvals_topic()
        self.create_outputs()

    def create_parameters(self):
        self.artifact_retention = self.parameter(
            "ArtifactRetentionDays", "Retention", "Artifact retention (days)",
            Type="Number", Default=30, MinValue=1, MaxValue=3650,
            Description="Days before pipeline artifacts expire",
        )
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
        from ..kinds import pipeline_components  # the kinds import this module

        self.stores = {}
        for component in pipeline_components(self.model):
            # No BucketName: component names make a global name too long for S3's 63 characters;
            # CloudFormation names it after the stack and the logical id, and the name is exported.
            store = SecureBucket(
                self, f"{_pascal(component)}ArtifactBucket", None,
                lifecycle=lifecycle_rules(expire_days=Ref(self.artifact_retention),
                                          noncurrent_days=Ref(self.noncurrent_retention)),
                key=self.key, access_logs=self.access_logs, log_prefix=f"s3/{component}-artifacts/",
            )
            store.add_policy_statement(Statement(
                Sid="DenyWritesByOtherThanThisPipelinesRoles", Effect=Deny, Principal=ANYONE,
                Action=[s3_actions.PutObject], Resource=[store.objects()],
                Condition=Condition(ArnNotLike({"aws:PrincipalArn": role_arn_pattern(component)})),
            ))
            self.stores[component] = store
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
        for component, store in self.stores.items():
            name, arn = store_exports(component)
            self.export(name, store.name)
            self.export(arn, store.arn)
        self.export(EXPORTS.source_bucket, self.source.name)
        self.export(EXPORTS.source_bucket_arn, self.source.arn)
        self.export(EXPORTS.approvals_topic, self.approvals.arn)
