"""AWS Lambda: a function with its ``live`` alias, its own execution role and log group, a KMS-encrypted
queue for failed asynchronous events, and the grants other stacks need into it (the pipeline's deploy
action, the validation project's invoke).

What the pipeline needs from the function (CodePipeline's ``Lambda`` deploy action): a published version
and an alias that points to it before the first run, because the alias' current version is the rollback
target (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-LambdaDeploy.html).
The stack therefore publishes one version of a small inline placeholder and points ``live`` at it; the
first pipeline run replaces the code. CloudFormation calls ``UpdateFunctionCode`` only when the
template's ``Code`` changes, so stack updates never put the placeholder back.
"""
from __future__ import annotations

from awacs import awslambda as lambda_actions
from awacs import cloudwatch as cloudwatch_actions
from awacs import kms as kms_actions
from awacs import logs as logs_actions
from awacs import sqs as sqs_actions
from awacs.aws import Bool, Condition, Deny, Statement
from troposphere import GetAtt, Ref, Sub, awslambda, sqs

from ..core.suppress import Suppression, suppress
from .iam import ANYONE, Role, allow, document
from .kms import KeyReference, via_service
from .logs import EncryptedLogGroup, LogGroupReference

#: The runtimes a function may use: Node.js and Python runtimes Lambda supports and has not deprecated,
#: from Lambda's runtime table (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html#runtimes-supported;
#: deprecation dates also in cfn-lint's data/AdditionalSpecs/LmbdRuntimeLifecycle.json, which
#: tests/stacks/test_lambda_function.py compares with). Deprecated ones are refused: nodejs14.x was
#: deprecated on 2023-12-04 and Lambda blocks creating functions on it since 2024-01-09 (docs/lambda.md).
RUNTIMES = ["nodejs24.x", "nodejs22.x", "python3.14", "python3.13", "python3.12", "python3.11"]
#: The day RUNTIMES was last compared with Lambda's table: none of them is deprecated on it. The test
#: holds the list to this date, not to the day it runs, so a pinned build does not start failing on a
#: calendar date; past a runtime's deprecation date the suite warns until RUNTIMES and this date move.
RUNTIMES_REVIEWED_ON = "2026-12-01"
DEFAULT_RUNTIME = "nodejs24.x"
NODE_RUNTIMES = [r for r in RUNTIMES if r.startswith("nodejs")]
ALIAS = "live"
#: What happens to an asynchronous event that failed every retry (``FailedEventHandling``).
FAILED_EVENT_HANDLING = ["dead-letter-queue", "on-failure-destination", "none"]
#: Lambda metrics; by alias with the ``Resource`` dimension ``<function>:<alias>``
#: (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#invocation-metrics).
NAMESPACE = "AWS/Lambda"

def function_name(component: str, env: str = "${EnvironmentName}") -> str:
    """``{project}-{env}-<component>`` (a ``Fn::Sub`` text): the function's name, also where another stack
    names it without an import (the tools dashboard, waves in other accounts)."""
    return "${ProjectName}-%s-%s" % (env, component)


#: The first code of every function: answers until the pipeline's first deploy replaces it.
PLACEHOLDER_NODE = (
    "exports.handler = async () => ({ statusCode: 503, body: JSON.stringify({ message: "
    "'placeholder: no release deployed yet; run the pipeline' }) });\n"
)
PLACEHOLDER_PYTHON = (
    "import json\n\n\ndef handler(event, context):\n"
    "    return {'statusCode': 503, 'body': json.dumps({'message': "
    "'placeholder: no release deployed yet; run the pipeline'})}\n"
)


class FunctionReference:
    """A function known by name (this stack's or imported); grants on it and its ``live`` alias."""

    def __init__(self, name):
        self.name = name
        self.arn = Sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}", Name=name)
        self.qualified = Sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}:*",
                             Name=name)
        self.alias_arn = Sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}:%s"
                             % ALIAS, Name=name)

    def grant_deploy(self, alarm_arns):
        """What CodePipeline's ``Lambda`` deploy action does with its role: update the code, publish a
        version, shift the alias, watch the alarms (the action reference's "Service role policy
        permissions", scoped to this function, its versions and aliases, and its alarms)."""
        return [
            allow([lambda_actions.GetAlias, lambda_actions.GetFunctionConfiguration,
                   lambda_actions.GetProvisionedConcurrencyConfig, lambda_actions.PublishVersion,
                   lambda_actions.UpdateAlias, lambda_actions.UpdateFunctionCode],
                  [self.arn, self.qualified]),
            allow([cloudwatch_actions.DescribeAlarms], list(alarm_arns)),
        ]

    def grant_read_alias(self):
        """Read the ``live`` alias (the version it points at, its routing): GetAlias takes the function
        resource, evaluated on the function's ARN; the alias ARN covers a qualified evaluation."""
        return [allow([lambda_actions.GetAlias], [self.arn, self.alias_arn])]

    def grant_invoke_alias(self):
        """Invoke the ``live`` alias only (what the validation project calls)."""
        return [allow([lambda_actions.InvokeFunction], [self.alias_arn])]


def pipeline_action_log_group(pipeline_name) -> LogGroupReference:
    """The log group CodePipeline's Lambda deploy action writes to: ``/<region>/codepipeline/<pipeline>``
    (the action reference's permissions name it)."""
    return LogGroupReference(Sub("/${AWS::Region}/codepipeline/${Pipeline}", Pipeline=pipeline_name))


def grant_action_logs(log_group: LogGroupReference):
    """CreateLogGroup (the action calls it; the group exists, created with KMS and retention) and writes."""
    return [allow([logs_actions.CreateLogGroup], [log_group.arn, Sub("${Arn}:*", Arn=log_group.arn)])] + \
        log_group.grant_write()


class FailedEventQueue:
    """SQS queue for asynchronous events that failed every retry, encrypted with ``key``, TLS only."""

    def __init__(self, stack, logical_id, name, key: KeyReference):
        self.key = key
        self.queue = stack.add(sqs.Queue(
            logical_id, QueueName=name, KmsMasterKeyId=key.arn, KmsDataKeyReusePeriodSeconds=300,
            MessageRetentionPeriod=1209600,  # 14 days, SQS's maximum: time to look at failed events
            DeletionPolicy="Retain", UpdateReplacePolicy="Retain",
        ))
        suppress(self.queue, Suppression(
            "Named {project}-{env}-{component} so operators find an environment's failed events",
            guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
        ))
        self.arn = GetAtt(self.queue, "Arn")
        stack.add(sqs.QueuePolicy(
            logical_id + "Policy", Queues=[Ref(self.queue)],
            PolicyDocument=document([Statement(
                Sid="DenyInsecureTransport", Effect=Deny, Principal=ANYONE, Action=[sqs_actions.SendMessage,
                                                                                   sqs_actions.ReceiveMessage],
                Resource=[self.arn], Condition=Condition(Bool({"aws:SecureTransport": "false"})),
            )]),
        ))

    def grant_send(self):
        """Send to the queue; an encrypted queue makes the sender generate a data key
        (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html)."""
        return [allow([sqs_actions.SendMessage], [self.arn]),
                allow([kms_actions.GenerateDataKey, kms_actions.Decrypt], [self.key.arn], condition=via_service("sqs"))]


class Function(FunctionReference):
    """``{project}-{env}-<component>``: code placeholder, execution role, log group, a first version and the
    ``live`` alias. ``settings``: parameter refs (runtime, handler, memory, timeout, retention...)."""

    def __init__(self, stack, logical_id, component, *, key: KeyReference, runtime, handler, memory, timeout,
                 log_retention, reserved_concurrency, architecture, is_node, failed_events: FailedEventQueue, use_dlq,
                 description):
        full_name = function_name(component)
        super().__init__(Sub(full_name))
        self.log_group = EncryptedLogGroup(stack, logical_id + "Logs", Sub("/aws/lambda/" + full_name), key,
                                           log_retention)
        self.role = Role(stack, logical_id + "Role", "lambda.amazonaws.com", component + "-function",
                         description=f"Execution role of Lambda function {component}")
        # Its own log group only (no CreateLogGroup: the group exists), and the failed-event queue.
        self.role.grant(self.log_group.grant_write(), failed_events.grant_send())
        self.function = stack.add(awslambda.Function(
            logical_id,
            FunctionName=self.name,
            Description=description,
            Runtime=runtime,
            Handler=handler,
            Code=awslambda.Code(ZipFile=_placeholder(is_node)),
            Role=self.role.arn,
            MemorySize=memory,
            Timeout=timeout,
            Architectures=[architecture],
            ReservedConcurrentExecutions=reserved_concurrency,
            DeadLetterConfig=_dead_letter(use_dlq, failed_events),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=self.log_group.name),
            # the role's grants first: the first invocation may log and fail over to the queue
            DependsOn=[logical_id + "RolePolicy"],
        ))
        suppress(self.function, Suppression(
            "Named {project}-{env}-{component}: the pipeline's deploy action, the alarms and the log group "
            "address the function by name",
            guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
        ))
        suppress(self.function, Suppression(
            "The function calls no private resource, so it runs outside a VPC (no NAT or endpoints to pay for)",
            checkov=("CKV_AWS_117",),
        ))
        suppress(self.function, Suppression(
            "Failed asynchronous events go to the KMS-encrypted queue as dead-letter queue (the default) or as "
            "on-failure destination, per FailedEventHandling; checkov cannot evaluate that condition",
            checkov=("CKV_AWS_116",),
        ))
        # One published version of the placeholder: the alias needs a version, and the deploy action
        # rolls back to the version the alias points at. Its properties never change, so no stack update
        # publishes another one.
        self.version = stack.add(awslambda.Version(
            logical_id + "InitialVersion", FunctionName=Ref(self.function),
            Description="Placeholder published with the stack; the pipeline publishes every release",
        ))
        # Never change the alias' properties in a later stack update: CloudFormation would point it back
        # at the placeholder version (the pipeline moves it, CloudFormation does not know).
        self.alias = stack.add(awslambda.Alias(
            logical_id + "LiveAlias", FunctionName=Ref(self.function), Name=ALIAS,
            FunctionVersion=GetAtt(self.version, "Version"),
            Description="Traffic goes here; the pipeline's deploy action shifts it to each new version",
        ))


def _placeholder(is_node):
    from troposphere import If

    return If(is_node, PLACEHOLDER_NODE, PLACEHOLDER_PYTHON)


def _dead_letter(use_dlq, failed_events):
    from troposphere import If

    return If(use_dlq, awslambda.DeadLetterConfig(TargetArn=failed_events.arn), Ref("AWS::NoValue"))


def event_invoke_config(stack, logical_id, function: Function, failed_events: FailedEventQueue, use_destination,
                        retry_attempts, max_age):
    """Retries and age of asynchronous events on the ``live`` alias; with ``on-failure-destination``, failed
    events (with the error and the request) go to the queue."""
    from troposphere import If

    config = stack.add(awslambda.EventInvokeConfig(
        logical_id, FunctionName=Ref(function.function), Qualifier=ALIAS,
        MaximumRetryAttempts=retry_attempts, MaximumEventAgeInSeconds=max_age,
        DestinationConfig=If(use_destination, awslambda.DestinationConfig(
            OnFailure=awslambda.OnFailure(Destination=failed_events.arn)), Ref("AWS::NoValue")),
        DependsOn=[function.alias.title],
    ))
    return config

