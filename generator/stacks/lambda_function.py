"""``<app>-function`` (each wave and extra environment of a ``lambda`` application): the function, its
``live`` alias, execution role, log group, failed-event queue and the alarms the pipeline's deploy
watches (a traffic shift is rolled back when one of them goes to ALARM; every state change is sent to
the environment's notifications topic). The pipeline in tools imports the names it deploys to.
"""
from __future__ import annotations

from troposphere import Equals, Join, Not, Or, Ref, Sub

from ..components import lambda_function as lambda_component
from ..components.alarms import MetricAlarm
from ..components.kms import KeyReference
from ..components.lambda_function import (ALIAS, DEFAULT_RUNTIME, FAILED_EVENT_HANDLING, NAMESPACE, NODE_RUNTIMES,
                                          RUNTIMES, FailedEventQueue, Function, event_invoke_config)
from ..components.sns import TopicReference
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import LOG_RETENTION_DAYS, Stack
from . import foundation


class EXPORTS(ExportSet):
    stack = "lambda-function"
    function_name = declare(stack, "FunctionName", "Name of the function")
    alias_name = declare(stack, "AliasName", "Alias the pipeline shifts traffic on")
    alarm_names = declare(stack, "AlarmNames", "Alarms (comma-joined names) that roll a traffic shift back")
    errors_alarm_arn = declare(stack, "ErrorsAlarmArn", "ARN of the alias' errors alarm")
    throttles_alarm_arn = declare(stack, "ThrottlesAlarmArn", "ARN of the alias' throttles alarm")
    duration_alarm_arn = declare(stack, "DurationAlarmArn", "ARN of the alias' duration alarm")
    errors_alarm_name = declare(stack, "ErrorsAlarmName", "Name of the alias' errors alarm")
    throttles_alarm_name = declare(stack, "ThrottlesAlarmName", "Name of the alias' throttles alarm")
    duration_alarm_name = declare(stack, "DurationAlarmName", "Name of the alias' duration alarm")
    failed_events_queue_arn = declare(stack, "FailedEventsQueueArn", "Queue of asynchronous events that failed")


#: The function's alarms by key (logical id ``<key>Alarm``, exports ``<key>AlarmName`` and ``<key>AlarmArn``):
#: the deploy action watches them during a traffic shift and the pipeline's stage conditions after it.
ALARM_KEYS = ("Errors", "Throttles", "Duration")
#: Parameters the operations dashboard reads per environment (the lines it draws on its graphs).
DURATION_THRESHOLD = "DurationAlarmMilliseconds"
RESERVED_CONCURRENCY = "ReservedConcurrency"


def alarm_component(application: str, key: str) -> str:
    """The alarm ``key`` of ``ALARM_KEYS`` of ``application``'s function is named ``{project}-{env}-<this>``."""
    return f"{application}-{key.lower()}"


def alarm_names(application: str, env: str) -> list:
    """The ``Fn::Sub`` texts of the function's alarm names in ``env`` (``ALARM_KEYS`` order): where a stack
    names them without an import (a wave in another account or Region; ``application`` may be ``*``)."""
    return ["${ProjectName}-%s-%s" % (env, alarm_component(application, key)) for key in ALARM_KEYS]


def function_name(app, env: str = "${EnvironmentName}") -> str:
    """The ``Fn::Sub`` text of ``app``'s function name in ``env``."""
    return lambda_component.function_name(app.name, env)


def alarms(exports) -> list:
    """``(key, name export, ARN export)`` of each alarm of one application's function stack
    (``EXPORTS.for_stack(...)``)."""
    return [(key, getattr(exports, f"{key.lower()}_alarm_name"), getattr(exports, f"{key.lower()}_alarm_arn"))
            for key in ALARM_KEYS]


def alarm_arns(exports) -> list:
    """The alarm ARN exports of one application's function stack."""
    return [arn for _, _, arn in alarms(exports)]


class LambdaFunctionStack(Stack):
    name = "lambda-function"
    description = "Lambda function with its live alias, execution role, log group, failed-event queue and alarms"
    EXPORTS = EXPORTS

    def create(self):
        self.create_parameters()
        self.create_conditions()
        key = KeyReference(foundation.EXPORTS.key_arn.imported())
        topic = TopicReference(foundation.EXPORTS.notifications_topic.imported(), key)
        self.queue = FailedEventQueue(self, "FailedEventsQueue", naming.physical_name(f"{self.app.name}-failed"), key)
        self.function = Function(
            self, "Function", self.app.name, key=key, runtime=Ref(self.runtime), handler=Ref(self.handler),
            memory=Ref(self.memory), timeout=Ref(self.timeout), log_retention=Ref(self.log_retention),
            reserved_concurrency=self.reserved_concurrency_value(), architecture=Ref(self.architecture),
            is_node=self.is_node, failed_events=self.queue, use_dlq=self.use_dlq,
            description=Sub("${ProjectName} ${EnvironmentName} %s" % self.app.name),
        )
        event_invoke_config(self, "FunctionEventInvokeConfig", self.function, self.queue, self.use_destination,
                            Ref(self.retry_attempts), Ref(self.max_event_age))
        self.create_alarms(topic)
        self.create_outputs()

    def create_parameters(self):
        p = self.parameter
        self.runtime = p(
            "Runtime", "Function", "Runtime",
            Type="String", Default=DEFAULT_RUNTIME, AllowedValues=RUNTIMES,
            Description="Lambda runtime; only Node.js and Python runtimes Lambda has not deprecated "
                        "(nodejs14.x is refused: see docs/lambda.md)",
        )
        self.handler = p(
            "Handler", "Function", "Handler",
            Type="String", Default="index.handler", AllowedPattern=r"^[A-Za-z0-9_./-]+\.[A-Za-z_$][A-Za-z0-9_$]*$",
            ConstraintDescription="<file without extension>.<exported function>, such as index.handler",
            Description="Handler in the deployed package (the placeholder code answers for index.handler)",
        )
        self.architecture = p(
            "Architecture", "Function", "Architecture",
            Type="String", Default="arm64", AllowedValues=["arm64", "x86_64"],
            Description="Instruction set (packages with native modules must be built for it)",
        )
        self.memory = p("MemorySize", "Function", "Memory (MB)", Type="Number", Default=256, MinValue=128,
                        MaxValue=10240, Description="Memory of the function; CPU grows with it")
        self.timeout = p("TimeoutSeconds", "Function", "Timeout (seconds)", Type="Number", Default=10, MinValue=1,
                         MaxValue=900, Description="Seconds before Lambda stops an invocation")
        self.reserved_concurrency = p(
            RESERVED_CONCURRENCY, "Function", "Reserved concurrency",
            Type="Number", Default=10, MinValue=0, MaxValue=3000,
            Description="Concurrent executions reserved for (and capping) the function; 0: none reserved. "
                        "Lambda keeps 100 of the account's quota unreserved, so a new account with a low quota "
                        "needs 0 or a quota increase",
        )
        self.failed_events = p(
            "FailedEventHandling", "Failed events", "Failed asynchronous events",
            Type="String", Default=FAILED_EVENT_HANDLING[0], AllowedValues=FAILED_EVENT_HANDLING,
            Description="Where an asynchronous event that failed every retry goes: the queue as dead-letter "
                        "queue (the event), as on-failure destination (event, error and context), or nowhere",
        )
        self.retry_attempts = p("AsyncRetryAttempts", "Failed events", "Asynchronous retries", Type="Number",
                             Default=2, MinValue=0, MaxValue=2,
                             Description="Retries of a failed asynchronous invocation")
        self.max_event_age = p("AsyncMaxEventAgeSeconds", "Failed events", "Asynchronous event age (seconds)",
                               Type="Number", Default=3600, MinValue=60, MaxValue=21600,
                               Description="Oldest asynchronous event Lambda still tries")
        self.log_retention = p(
            "LogRetentionDays", "Logging", "Log retention (days)",
            Type="Number", Default=30, AllowedValues=LOG_RETENTION_DAYS,
            Description="Days CloudWatch Logs keeps the function's logs",
        )
        self.errors_threshold = p("ErrorsAlarmThreshold", "Alarms", "Errors per minute", Type="Number", Default=1,
                                  MinValue=1, Description="Errors of the live alias in a minute that raise the alarm")
        self.throttles_threshold = p("ThrottlesAlarmThreshold", "Alarms", "Throttles per minute", Type="Number",
                                     Default=1, MinValue=1,
                                     Description="Throttled invocations of the live alias in a minute that raise the alarm")
        self.duration_threshold = p(DURATION_THRESHOLD, "Alarms", "p99 duration (ms)", Type="Number",
                                    Default=3000, MinValue=1, MaxValue=900000,
                                    Description="p99 duration of the live alias over a minute that raises the alarm")
        self.alarm_periods = p("AlarmEvaluationMinutes", "Alarms", "Alarm evaluation (minutes)", Type="Number",
                               Default=1, MinValue=1, MaxValue=10,
                               Description="Consecutive breaching minutes before an alarm fires (and a shift rolls back)")

    def create_conditions(self):
        runtime = Ref(self.runtime)
        self.is_node = self.condition("IsNodeRuntime", Or(*[Equals(runtime, r) for r in NODE_RUNTIMES]))
        self.use_dlq = self.condition("UseDeadLetterQueue", Equals(Ref(self.failed_events), "dead-letter-queue"))
        self.use_destination = self.condition("UseOnFailureDestination",
                                              Equals(Ref(self.failed_events), "on-failure-destination"))
        self.reserves = self.condition("ReservesConcurrency", Not(Equals(Ref(self.reserved_concurrency), 0)))

    def reserved_concurrency_value(self):
        from troposphere import If

        return If(self.reserves, Ref(self.reserved_concurrency), Ref("AWS::NoValue"))

    def create_alarms(self, topic):
        dimensions = [("FunctionName", self.function.name),
                      ("Resource", Sub("${Name}:%s" % ALIAS, Name=self.function.name))]
        common = dict(namespace=NAMESPACE, dimensions=dimensions, evaluation_periods=Ref(self.alarm_periods),
                      topic=topic)
        app = self.app
        self.alarms = [
            MetricAlarm(self, "ErrorsAlarm", alarm_component(app.name, "Errors"),
                        "The live alias' invocations fail; rolls a traffic shift back",
                        metric="Errors", statistic="Sum", threshold=Ref(self.errors_threshold), **common),
            MetricAlarm(self, "ThrottlesAlarm", alarm_component(app.name, "Throttles"),
                        "The live alias is throttled (reserved concurrency reached); rolls a traffic shift back",
                        metric="Throttles", statistic="Sum", threshold=Ref(self.throttles_threshold), **common),
            MetricAlarm(self, "DurationAlarm", alarm_component(app.name, "Duration"),
                        "The live alias' p99 duration is over the threshold; rolls a traffic shift back",
                        metric="Duration", statistic="p99", threshold=Ref(self.duration_threshold), **common),
        ]

    def create_outputs(self):
        e = self.EXPORTS
        self.export(e.function_name, Ref(self.function.function))
        self.export(e.alias_name, ALIAS)
        self.export(e.alarm_names, Join(",", [alarm.name for alarm in self.alarms]))
        built = {alarm.alarm.title: alarm for alarm in self.alarms}
        if sorted(built) != sorted(f"{key}Alarm" for key in ALARM_KEYS):
            raise ValueError(f"{self.name}: alarms {sorted(built)} differ from ALARM_KEYS {ALARM_KEYS}")
        for key, name, arn in alarms(e):
            self.export(name, built[f"{key}Alarm"].name)
            self.export(arn, built[f"{key}Alarm"].arn)
        self.export(e.failed_events_queue_arn, self.queue.arn)
        self.output("AliasArn", Ref(self.function.alias), "ARN of the live alias (what callers invoke)")
