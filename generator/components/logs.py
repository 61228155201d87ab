"""CloudWatch log groups: KMS-encrypted, with retention, kept on delete."""
from __future__ import annotations

from awacs import logs as logs_actions
from troposphere import Ref, Sub, logs

from ..core.stack import LOG_RETENTION_DAYS
from ..core.suppress import Suppression, suppress
from .iam import allow

#: The retention values the Guard rule CW_LOGGROUP_RETENTION_PERIOD_CHECK accepts as literals
#: (the AWS Guard Rules Registry's list; CloudWatch Logs accepts a few more, see LOG_RETENTION_DAYS).
GUARD_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)


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
        parameter = _retention_parameter(stack, retention_days)
        if parameter is not None:
            # Guard reads RetentionInDays as a literal; a Ref is not one. The retention is a stack
            # parameter on purpose (environments differ), and that parameter can only hold values
            # CloudWatch Logs accepts, so the group always has a retention (what the rule is for).
            suppress(self.group, Suppression(
                f"Retention is parameter {parameter.title}, AllowedValues only valid periods; Guard cannot read a Ref",
                guard=("CW_LOGGROUP_RETENTION_PERIOD_CHECK",),
            ))
        elif retention_days not in GUARD_RETENTION_DAYS:
            raise ValueError(f"{logical_id}: retention {retention_days!r} must be a LOG_RETENTION_DAYS parameter "
                             f"or one of {GUARD_RETENTION_DAYS}")
        super().__init__(Ref(self.group))


def _retention_parameter(stack, retention_days):
    """The stack parameter ``retention_days`` refers to, checked to allow only valid retentions."""
    if not isinstance(retention_days, Ref):
        return None
    name = retention_days.data.get("Ref")
    parameter = stack.template.parameters.get(name) if isinstance(name, str) else None
    allowed = parameter.properties.get("AllowedValues") if parameter is not None else None
    if not allowed or not set(allowed) <= set(LOG_RETENTION_DAYS):
        raise ValueError(f"log retention parameter {name!r} must have AllowedValues from LOG_RETENTION_DAYS")
    return parameter
