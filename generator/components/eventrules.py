"""EventBridge rules that turn CodePipeline and CodeBuild events into readable messages or audit records.

A rule is named ``{project}-{env}-<name>``; the topics and the audit log group it targets allow
EventBridge for exactly these rule ARNs (``aws:SourceArn``), so the names are built by
:func:`rule_arn` here and by no one else.
"""
from __future__ import annotations

from troposphere import Sub, events

from ..core import naming

CODEPIPELINE = "aws.codepipeline"
CODEBUILD = "aws.codebuild"
PIPELINE_EXECUTION = "CodePipeline Pipeline Execution State Change"
STAGE_EXECUTION = "CodePipeline Stage Execution State Change"
ACTION_EXECUTION = "CodePipeline Action Execution State Change"
PIPELINE_EVENTS = [PIPELINE_EXECUTION, STAGE_EXECUTION, ACTION_EXECUTION]
BUILD_STATE = "CodeBuild Build State Change"
#: The console page of one pipeline execution (``<pipeline>``, ``<execution>``, ``<region>`` from the event).
CONSOLE_LINK = ("https://<region>.console.aws.amazon.com/codesuite/codepipeline/pipelines/<pipeline>"
                "/executions/<execution>/timeline?region=<region>")
#: CodePipeline event fields every message reads (EventBridge leaves a missing one empty).
PIPELINE_FIELDS = {
    "pipeline": "$.detail.pipeline", "stage": "$.detail.stage", "action": "$.detail.action",
    "state": "$.detail.state", "execution": "$.detail.execution-id", "region": "$.region",
}


def rule_name(name: str) -> Sub:
    return naming.physical_name(name)


def rule_arn(name: str) -> Sub:
    """The ARN of rule ``{project}-{env}-<name>`` on the default event bus."""
    return naming.arn("events", "rule/${ProjectName}-${EnvironmentName}-%s" % name)


def message(text: str) -> str:
    """An input template that sends ``text`` (with ``<field>`` placeholders) as one JSON string;
    EventBridge fills the placeholders from the target's ``InputPathsMap``."""
    if '"' in text or "\\" in text:
        raise ValueError("message text may not contain quotes or backslashes (it is a JSON string)")
    return '"%s"' % text


def readable_target(target_id: str, arn, text: str, fields=None) -> events.Target:
    """A target receiving ``text`` with the event's fields filled in, not the raw event JSON."""
    return events.Target(
        Id=target_id, Arn=arn,
        InputTransformer=events.InputTransformer(InputPathsMap=dict(fields or PIPELINE_FIELDS),
                                                 InputTemplate=message(text)),
    )


def rule(stack, logical_id, name, description, pattern, targets) -> events.Rule:
    """Rule ``{project}-{env}-<name>`` on the default bus matching ``pattern``."""
    return stack.add(events.Rule(
        logical_id, Name=rule_name(name), Description=description, State="ENABLED",
        EventPattern=pattern, Targets=list(targets),
    ))
