"""A CloudTrail trail of S3 data events on one bucket's objects, into its own bucket, under the environment key.

The grants CloudTrail needs are the ones its user guide documents, each scoped to this trail by
``aws:SourceArn``: the bucket policy (``GetBucketAcl`` on the bucket, ``PutObject`` under
``AWSLogs/<account>/`` with ``bucket-owner-full-control``,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html)
and the key policy (``GenerateDataKey*`` with the trail's encryption context, ``DescribeKey``,
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html).
"""
from __future__ import annotations

from awacs import kms as kms_actions
from awacs import s3 as s3_actions
from awacs.aws import Allow, Condition, Principal, Statement, StringEquals, StringLike
from troposphere import Sub, cloudtrail

from ..core import naming
from ..core.suppress import Suppression, suppress
from .s3 import BucketReference, SecureBucket

SERVICE = "cloudtrail.amazonaws.com"


def trail_arn(name: str) -> Sub:
    """The ARN of trail ``{project}-{env}-<name>`` (known before the trail exists: policies name it)."""
    return naming.arn("cloudtrail", "trail/${ProjectName}-${EnvironmentName}-%s" % name)


def allow_key_use(key, name: str):
    """Let CloudTrail encrypt trail ``name``'s log files with ``key`` (an :class:`~.kms.EncryptionKey`)."""
    source = Condition([StringEquals({"aws:SourceArn": trail_arn(name)})])
    key.allow_service("CloudTrailDescribesKey", SERVICE, [kms_actions.DescribeKey], source)
    key.allow_service("CloudTrailEncryptsTrailLogs", SERVICE, [kms_actions.GenerateDataKey], Condition([
        StringEquals({"aws:SourceArn": trail_arn(name)}),
        StringLike({"kms:EncryptionContext:aws:cloudtrail:arn": naming.arn("cloudtrail", "trail/*")}),
    ]))


class ObjectWriteTrail:
    """Trail ``{project}-{env}-<name>``: every write and delete of an object in ``watched``, with who did it."""

    def __init__(self, stack, logical_id, name, watched: BucketReference, bucket: SecureBucket, key):
        arn = trail_arn(name)
        bucket.add_policy_statement(Statement(
            Sid="CloudTrailChecksBucketAcl", Effect=Allow, Principal=Principal("Service", SERVICE),
            Action=[s3_actions.GetBucketAcl], Resource=[bucket.arn],
            Condition=Condition(StringEquals({"aws:SourceArn": arn})),
        ))
        bucket.add_policy_statement(Statement(
            Sid="CloudTrailWritesLogFiles", Effect=Allow, Principal=Principal("Service", SERVICE),
            Action=[s3_actions.PutObject], Resource=[bucket.objects("AWSLogs/${AWS::AccountId}/*")],
            Condition=Condition([StringEquals({"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": arn})]),
        ))
        self.trail = stack.add(cloudtrail.Trail(
            logical_id,
            TrailName=naming.physical_name(name),
            S3BucketName=bucket.name,
            IsLogging=True,
            EnableLogFileValidation=True,
            IsMultiRegionTrail=False,
            IncludeGlobalServiceEvents=False,
            KMSKeyId=key.arn,
            # Data events only (the management events stay in CloudTrail's event history): object-level
            # writes to the watched bucket, https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html
            AdvancedEventSelectors=[cloudtrail.AdvancedEventSelector(
                Name="Writes and deletes of source archives",
                FieldSelectors=[
                    cloudtrail.AdvancedFieldSelector(Field="eventCategory", Equals=["Data"]),
                    cloudtrail.AdvancedFieldSelector(Field="resources.type", Equals=["AWS::S3::Object"]),
                    cloudtrail.AdvancedFieldSelector(Field="readOnly", Equals=["false"]),
                    cloudtrail.AdvancedFieldSelector(Field="resources.ARN", StartsWith=[Sub("${Arn}/", Arn=watched.arn)]),
                ],
            )],
            DependsOn=[bucket.bucket.title + "Policy"],
        ))
        suppress(self.trail, Suppression(
            "This trail records the data events of one bucket, which lives in this Region; the account's "
            "multi-Region management-event trail is the account baseline, not a delivery tool's",
            checkov=("CKV_AWS_67",),
        ))
        self.arn = arn
