"""``foundation``: one per environment — the environment's key, access-log bucket, notifications, audit log."""
from __future__ import annotations

import json

from troposphere import Equals, Ref, Sub, logs

from ..components import elb_logs, trail
from ..components.alb import ACCESS_LOG_PREFIX as ALB_LOG_PREFIX
from ..components.kms import EncryptionKey
from ..components.logs import EncryptedLogGroup
from ..components.s3 import SecureBucket, lifecycle_rules
from ..components.sns import EncryptedTopic
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import LOG_RETENTION_DAYS, Stack
from ..core.suppress import Suppression, suppress

ELB_LOG_DELIVERY = elb_logs.SERVICE_PRINCIPAL
EMAIL_PATTERN = r"^$|^[^\s@]+@[^\s@]+\.[^\s@]+$"


class EXPORTS(ExportSet):
    stack = "foundation"
    key_arn = declare(stack, "KeyArn", "ARN of the environment's KMS key")
    key_alias = declare(stack, "KeyAlias", "Alias of the environment's KMS key")
    access_log_bucket = declare(stack, "AccessLogBucketName", "Bucket receiving S3 server access logs and ALB logs")
    access_log_bucket_arn = declare(stack, "AccessLogBucketArn", "ARN of the access-log bucket")
    notifications_topic = declare(stack, "NotificationsTopicArn", "SNS topic for alarms and pipeline events")
    audit_log_group = declare(stack, "AuditLogGroupName", "Audit CloudWatch log group")
    audit_log_group_arn = declare(stack, "AuditLogGroupArn", "ARN of the audit log group")


class FoundationStack(Stack):
    name = "foundation"
    description = "Environment foundation: KMS key, access-log bucket, notifications topic, audit log group"

    def create(self):
        self.create_parameters()
        self.create_key()
        self.create_access_log_bucket()
        self.create_notifications()
        self.create_audit_log()
        self.create_outputs()

    def create_parameters(self):
        self.log_retention = self.parameter(
            "LogRetentionDays", "Retention", "Audit log retention (days)",
            Type="Number", Default=90, AllowedValues=LOG_RETENTION_DAYS,
            Description="Days CloudWatch Logs keeps the audit log group",
        )
        self.access_log_retention = self.parameter(
            "AccessLogRetentionDays", "Retention", "Access-log retention (days)",
            Type="Number", Default=90, MinValue=1, MaxValue=3650,
            Description="Days S3 keeps access-log objects before expiring them",
        )
        self.notification_email = self.parameter(
            "NotificationEmail", "Notifications", "Notification e-mail",
            Type="String", Default="", AllowedPattern=EMAIL_PATTERN,
            ConstraintDescription="an e-mail address, or empty for no subscription",
            Description="Address subscribed to the notifications topic (empty: none)",
        )

    def create_key(self):
        self.key = EncryptionKey(self, "EncryptionKey", "encrypts logs, topics, buckets and build artifacts")
        self.key.allow_cloudwatch_logs()
        if self.model is not None and self.model.source_trail:
            from . import source_trail  # it imports this module's exports

            trail.allow_key_use(self.key, source_trail.TRAIL)
        self.admit_other_accounts()

    def admit_other_accounts(self):
        """In tools, the key of the artifact stores: waves in another account (same Region) decrypt their
        input artifacts through S3 with their bootstrap deploy role and validation project's role, named
        exactly (``placement.reader_statement``; the stores' bucket policies admit the same roles)."""
        if self.model is None:
            return
        from ..components import placement
        from awacs.aws import StringEquals
        from ..components.kms import DECRYPT_ACTIONS

        readers = placement.artifact_readers(self)
        if not readers:
            return
        self.condition("IsToolsEnvironment", Equals(Ref(naming.ENVIRONMENT), self.model.tools))
        # Through S3 in this Region only; Resource "*" in a key policy means this key.
        through_s3 = StringEquals({"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com")})
        self.key.allow_when("IsToolsEnvironment", [
            placement.reader_statement(f"Allow{placement.label(env)}RolesToDecryptArtifacts", account, roles,
                                       DECRYPT_ACTIONS, ["*"], condition=through_s3)
            for env, account, roles in readers])

    @classmethod
    def model_values(cls, env: str) -> dict:
        from ..components import placement

        return placement.model_values(cls.model, cls.model.environment_names) if cls.model is not None else {}

    def create_access_log_bucket(self):
        self.access_logs = SecureBucket(
            self, "AccessLogBucket", naming.global_name("logs"),
            lifecycle=lifecycle_rules(expire_days=Ref(self.access_log_retention), noncurrent_days=30),
        )
        self.access_logs.allow_service_put("AllowS3ServerAccessLogDelivery", "logging.s3.amazonaws.com", "s3/*")
        # Application load balancers (ecs-service) log under "alb/": the Region's ELB account where
        # the Region predates August 2022, the ELB log-delivery service principal elsewhere (a Mappings
        # table + condition; see components/elb_logs.py and
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html#attach-bucket-policy).
        elb_logs.allow_access_log_delivery(self, self.access_logs, ALB_LOG_PREFIX)
        suppress(self.access_logs.bucket, Suppression(
            "This is the access-log target bucket; logging it into itself would loop, and no other log bucket exists",
            checkov=("CKV_AWS_18",), guard=("S3_BUCKET_LOGGING_ENABLED",),
        ))

    def create_notifications(self):
        from . import operations  # operations imports this module's exports

        self.notifications = EncryptedTopic(
            self, "NotificationsTopic", naming.physical_name("notifications"),
            "Alarms and pipeline events", self.key, email=self.notification_email,
            eventbridge_rules=operations.rule_arns(self.model, operations.NOTIFICATIONS),
        )

    def create_audit_log(self):
        self.audit_log = EncryptedLogGroup(
            self, "AuditLogGroup", naming.physical_name("audit"), self.key, Ref(self.log_retention),
        )
        self.allow_audit_events()

    def allow_audit_events(self):
        """The operations stacks' audit rules (tools) write to this log group, and no other rule.

        EventBridge delivers to CloudWatch Logs under the account's resource policy for the log group
        (a target role is not used), as events.amazonaws.com and delivery.logs.amazonaws.com, sending the
        rule's ARN as aws:SourceArn:
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-cloudwatchlogs-permissions
        and https://repost.aws/knowledge-center/cloudwatch-log-group-eventbridge. A Region holds at most
        10 such policies (AWS::Logs::ResourcePolicy), so only the tools environment creates one.
        """
        from . import operations

        rules = [arn.data["Fn::Sub"] for arn in operations.rule_arns(self.model, operations.AUDIT)]
        if not rules:
            return
        group = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${AuditLogGroup}"
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "EventBridgeAuditRulesWriteAuditLog", "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [group + ":*"],
            "Condition": {"ArnLike": {"aws:SourceArn": rules}},
        }]}
        tools = self.condition("IsToolsEnvironment", Equals(Ref(self.environment), self.model.tools))
        self.add(logs.ResourcePolicy(
            "AuditLogEventsPolicy", Condition=tools,
            PolicyName=Sub("${ProjectName}-${EnvironmentName}-audit-events"),
            PolicyDocument=Sub(json.dumps(policy, separators=(",", ":"))),
        ))

    def create_outputs(self):
        self.export(EXPORTS.key_arn, self.key.arn)
        self.export(EXPORTS.key_alias, self.key.alias_name)
        self.export(EXPORTS.access_log_bucket, self.access_logs.name)
        self.export(EXPORTS.access_log_bucket_arn, self.access_logs.arn)
        self.export(EXPORTS.notifications_topic, self.notifications.arn)
        self.export(EXPORTS.audit_log_group, self.audit_log.name)
        self.export(EXPORTS.audit_log_group_arn, self.audit_log.arn)
