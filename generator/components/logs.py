"""CloudWatch log groups: KMS-encrypted, with retention, kept on delete."""
from __future__ import annotations

from awacs import logs as logs_actions
from troposphere import Ref, Sub, logs

from .iam import allow


class LogGroupReference:
    def __init__(self, name):
        self.name = name
        self.arn = Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Name}", Name=name)

    def grant_write(self):
        return [allow(
            [logs_actions.CreateLogStream, logs_actions.PutLogEvents],
            [self.arn, Sub("${Arn}:log-stream:*", Arn=self.arn)],
        )]


class EncryptedLogGroup(LogGroupReference):
    def __init__(self, stack, logical_id, name, key, retention_days):
        """``retention_days``: a parameter Ref or an int; ``key`` must allow CloudWatch Logs."""
        self.group = stack.add(logs.LogGroup(
            logical_id, LogGroupName=name, KmsKeyId=key.arn, RetentionInDays=retention_days,
            DeletionPolicy="Retain", UpdateReplacePolicy="Retain",
        ))
        super().__init__(Ref(self.group))
