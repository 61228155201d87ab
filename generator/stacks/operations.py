"""``<app>-operations`` (tools): what tells people about one application's pipeline and what gates it.

- **Notifications by audience** (EventBridge rules with input transformers, readable text with a
  console link): a failed pipeline, stage or action → the tools notifications topic; an approval
  waiting → the approvals topic; a deployment to a protected wave that succeeded, and every
  rollback execution → notifications.
- **Audit trail**: every execution, stage and action state change of the pipeline (approval
  results included) and every build state change of its projects → the tools audit log group, as
  the raw event (the record keeps every field; Logs Insights queries ``detail.*``).
- **Alarms**, each with ALARM and OK actions to the notifications topic: per wave the target's
  (``WAVE_ALARMS``: ECS 5xx rate and response time behind the load balancer, Beanstalk environment
  health), per build project failed builds and a build over its budget (``BuildBudgetMinutes``, 5). The pipeline's stage
  conditions read the wave alarms through this stack's exports (``wave_alarm``).
- **Dashboard** of the application: builds, pipeline failures, deployments per environment, and per wave
  the target (ECS load balancer, Beanstalk health, the Lambda function's ``live`` alias) and the alarms.

The topics and the log group allow EventBridge for exactly the rules named here: ``rule_arns``
is what ``foundation`` and ``artifacts`` put in their policies' ``aws:SourceArn`` conditions.
Wave alarms watch the targets' metrics from tools only while every wave of the application shares the tools
account and Region; otherwise they live in each wave's ``<app>-recorder`` stack (``alarms_in_waves``,
docs/accounts.md) and this stack imports nothing of another account.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from troposphere import Ref, Sub, cloudwatch, events

from ..components import eventrules, placement
from ..components.alarms import ALB_NAMESPACE, MathAlarm, MetricAlarm, metric
from ..components.kms import KeyReference
from ..components.lambda_function import ALIAS, NAMESPACE as LAMBDA_NAMESPACE
from ..components.logs import LogGroupReference
from ..components.sns import TopicReference
from ..core import naming
from ..core.exports import declare
from ..core.stack import Stack
from . import artifacts, foundation, lambda_function
from .delivery import Delivery, waves

NOTIFICATIONS = "notifications"
APPROVALS = "approvals"
AUDIT = "audit"
#: ``detail.execution-trigger.trigger-type`` of a rollback execution (TriggerType,
#: https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ExecutionTrigger.html).
ROLLBACK_TRIGGERS = ["AutomatedRollback", "ManualRollback"]
#: EnvironmentHealth values (https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/health-enhanced-cloudwatch.html):
#: 0 OK, 1 Info, 5 Unknown, 10 No data, 15 Warning, 20 Degraded, 25 Severe.
BEANSTALK_DEGRADED = 20


@dataclass(frozen=True)
class WaveAlarm:
    """An alarm of one wave that gates promotion: ``key`` in export and logical names, ``slug`` in its name."""

    key: str
    slug: str
    description: str


#: The alarms of each wave by application kind (the pipeline's conditions watch exactly these).
WAVE_ALARMS = {
    "beanstalk": (WaveAlarm("EnvironmentHealth", "health", "Beanstalk environment health Degraded or worse"),),
    "ecs-bluegreen": (
        WaveAlarm("TargetErrorRate", "5xx-rate", "Share of requests the targets answer with HTTP 5xx"),
        WaveAlarm("TargetLatency", "latency", "p95 target response time behind the load balancer"),
    ),
}
WAVE_ALARMS["ecs-rolling"] = WAVE_ALARMS["ecs-bluegreen"]


def stack_name(app) -> str:
    return f"{app.name}-operations"


def _label(env: str) -> str:
    return "".join(part.capitalize() for part in env.split("-"))


def wave_alarm(app, env: str, alarm: WaveAlarm):
    """The export of ``alarm``'s name for wave ``env`` (the pipeline imports it)."""
    return declare(stack_name(app), f"{_label(env)}{alarm.key}AlarmName",
                   f"{alarm.description} ({env})")


def kind_alarms(app) -> tuple:
    """The wave alarms of ``app``'s kind (none for a kind that declares none yet: no stage conditions)."""
    return WAVE_ALARMS.get(app.kind, ())


def alarm_component(app, env: str, alarm: WaveAlarm) -> str:
    """The alarm is named ``{project}-{tools}-<this>``."""
    return f"{app.name}-{env}-{alarm.slug}"


def alarm_arn(app, env: str, alarm: WaveAlarm):
    """The ARN of ``alarm`` of wave ``env`` (a stack of the tools environment names it)."""
    return naming.arn("cloudwatch", "alarm:${ProjectName}-${EnvironmentName}-%s" % alarm_component(app, env, alarm))


def wave_alarms(app, env: str) -> list:
    return [wave_alarm(app, env, alarm) for alarm in kind_alarms(app)]


# -- alarms in the waves' own accounts ------------------------------------------------------------
def alarms_in_waves(model, app) -> bool:
    """Whether ``app``'s wave alarms live in each wave's environment (its ``<app>-recorder`` stack) instead of
    here: when a wave is in another account or Region, whose load-balancer metrics a tools alarm cannot
    watch without cross-account observability (and the alarm could not import the load balancer's name)."""
    from ..components import placement

    return bool(kind_alarms(app)) and any(placement.placement(model, env).away for env in app.waves)


def wave_alarm_name(app, env: str, alarm: WaveAlarm) -> Sub:
    """``alarm`` of wave ``env`` by its physical name in that environment (``{project}-{env}-{app}-{slug}``)."""
    return Sub("${ProjectName}-%s-%s-%s" % (env, app.name, alarm.slug))


def ecs_alarms(stack, logical_prefix: str, components, load_balancer, error_rate, latency, topic, env: str) -> list:
    """The ECS wave alarms (``WAVE_ALARMS``) on the load balancer's metrics: 5xx share of requests, p95
    response time; ``components``: their names' components, in ``WAVE_ALARMS`` order."""
    lb = [("LoadBalancer", load_balancer)]
    errors, latency_component = components
    return [
        MathAlarm(stack, f"{logical_prefix}TargetErrorRateAlarm", errors, f"{env}: target 5xx (% of requests)",
                  expression="IF(m2 > 0, 100 * m1 / m2, 0)",
                  metrics=[metric("m1", ALB_NAMESPACE, "HTTPCode_Target_5XX_Count", lb, "Sum"),
                           metric("m2", ALB_NAMESPACE, "RequestCount", lb, "Sum")],
                  threshold=Ref(error_rate), evaluation_periods=3, topic=topic),
        MetricAlarm(stack, f"{logical_prefix}TargetLatencyAlarm", latency_component,
                    f"{env}: p95 target response time (s)", namespace=ALB_NAMESPACE,
                    metric="TargetResponseTime", dimensions=lb, statistic="p95",
                    threshold=Ref(latency), evaluation_periods=5, topic=topic),
    ]


def beanstalk_alarms(stack, logical_prefix: str, components, environment_name, topic, env: str) -> list:
    """The Beanstalk wave alarm (``WAVE_ALARMS``): the environment's health Degraded or worse. EnvironmentHealth
    needs enhanced health and the metric published (the environment's ConfigDocument, stacks/beanstalk.py)."""
    (health,) = components
    return [MetricAlarm(
        stack, f"{logical_prefix}EnvironmentHealthAlarm", health,
        f"{env}: Beanstalk environment health Degraded or Severe", namespace="AWS/ElasticBeanstalk",
        metric="EnvironmentHealth", dimensions=[("EnvironmentName", environment_name)], statistic="Maximum",
        threshold=BEANSTALK_DEGRADED, evaluation_periods=5, topic=topic)]


def alarm_parameters(stack) -> tuple:
    """``(error rate, latency)`` threshold parameters of the ECS wave alarms."""
    error_rate = stack.parameter(
        "Target5xxRatePercent", "Alarms", "Target 5xx rate (%)",
        Type="Number", Default=5, MinValue=1, MaxValue=100,
        Description="Alarm when this share of requests gets HTTP 5xx from the targets for 3 minutes",
    )
    # A String with a decimal pattern: sub-second thresholds, and scanners that read Number bounds as integers.
    latency = stack.parameter(
        "TargetResponseTimeSeconds", "Alarms", "Target response time p95 (s)",
        Type="String", Default="2", AllowedPattern=r"^(0|[1-9][0-9]?)(\.[0-9]{1,3})?$",
        ConstraintDescription="seconds, 0.001 to 99.999, like 0.5 or 2",
        Description="Alarm when the p95 target response time reaches this for 5 minutes",
    )
    return error_rate, latency


# -- rule names: one home, read by the topics' and the log group's policies ----------------------
def rules(model, app) -> list:
    """``(rule name, audience)`` of every rule ``app``'s operations stack creates."""
    found = [(f"{app.name}-ops-failed", NOTIFICATIONS), (f"{app.name}-ops-approval", APPROVALS),
             (f"{app.name}-ops-rollback", NOTIFICATIONS)]
    found += [(f"{app.name}-ops-release-{t.env}", NOTIFICATIONS) for t in waves(model, app) if t.protected]
    found += [(f"{app.name}-ops-audit", AUDIT), (f"{app.name}-ops-builds", AUDIT)]
    return found


#: Rule name suffixes per audience: the topics and the log group admit rules named ``{project}-{env}-*<suffix>``,
#: so their policies do not grow (or change) with the applications; only operations stacks make such names.
AUDIENCE_SUFFIXES = {NOTIFICATIONS: ("-ops-failed", "-ops-rollback", "-ops-release-*"),
                     APPROVALS: ("-ops-approval",), AUDIT: ("-ops-audit", "-ops-builds")}


def rule_arns(model, audience: str) -> list:
    """ARN patterns of the rules that deliver to ``audience`` (a topic or the audit log), when the model has
    applications (``ArnLike`` conditions: every application's operations stack matches them)."""
    if not model.applications:
        return []
    return [eventrules.rule_arn("*" + suffix) for suffix in AUDIENCE_SUFFIXES[audience]]


class OperationsStack(Stack):
    """Made per application by ``kinds``: ``delivery`` names the pipeline and its stacks,
    ``builds`` (the build stack class) gives the build projects, ``TARGET`` the export set of the stack that
    describes each wave's target (Beanstalk environment, ECS ingress)."""

    delivery: Delivery = None
    builds = None
    TARGET = None
    description = "Operations of one application: notifications, audit trail, alarms, dashboard (tools)"

    def create(self):
        self.targets = waves(self.model, self.app)
        self.rule_names = dict(rules(self.model, self.app))
        self.create_parameters()
        self.create_imports()
        self.create_notification_rules()
        self.create_audit_rules()
        self.create_build_alarms()
        self.create_wave_alarms()
        self.create_dashboard()

    @classmethod
    def model_values(cls, env: str) -> dict:
        """``<Wave>AccountId`` / ``<Wave>Region`` of the waves the dashboard shows from another account or Region."""
        return placement.model_values(cls.model, [t.env for t in waves(cls.model, cls.app)])

    def target_parameter(self, env: str, name: str) -> str:
        """The value parameter ``name`` of the target stack deploys with in ``env`` (the model's, else its default)."""
        from .. import paramgen, registry

        [target] = [c for c in registry.stacks(self.model) if c.name == self.delivery.target_stack]
        return paramgen.parameter_values(target, env)[name]

    @property
    def pipeline_name(self) -> str:
        return "${ProjectName}-${EnvironmentName}-%s" % self.delivery.component

    def create_parameters(self):
        self.build_budget = self.parameter(
            "BuildBudgetMinutes", "Alarms", "Build budget (minutes)",
            Type="Number", Default=5, MinValue=1, MaxValue=480,
            Description="Alarm when a build runs this long (its budget; BuildTimeoutMinutes stops it)",
        )
        if self.app.kind not in ("ecs-bluegreen", "ecs-rolling") or alarms_in_waves(self.model, self.app):
            return  # thresholds of the load-balancer alarms only (in the waves' recorder stacks: there)
        self.error_rate, self.latency = alarm_parameters(self)

    def create_imports(self):
        self.key = KeyReference(foundation.EXPORTS.key_arn.imported())
        self.notifications = TopicReference(foundation.EXPORTS.notifications_topic.imported(), self.key)
        self.approvals = artifacts.approvals_topic()
        self.audit_log = LogGroupReference(foundation.EXPORTS.audit_log_group.imported())
        self.pipeline_arn = Sub("arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:%s"
                                % self.pipeline_name)

    # -- notifications ---------------------------------------------------------------------------
    def _rule(self, logical_id, suffix, description, pattern, target):
        name = f"{self.app.name}-ops-{suffix}"
        if name not in self.rule_names:
            raise ValueError(f"rule {name} is not declared in operations.rules (the policies would refuse it)")
        return eventrules.rule(self, logical_id, name, description, pattern, [target])

    def _pipeline_pattern(self, detail_types, detail):
        return {"source": [eventrules.CODEPIPELINE], "detail-type": list(detail_types),
                "resources": [self.pipeline_arn], "detail": detail}

    def create_notification_rules(self):
        app, link = self.app.name, eventrules.CONSOLE_LINK
        self._rule("FailedRule", "failed", "Pipeline, stage or action failed: tell the team",
                   self._pipeline_pattern(eventrules.PIPELINE_EVENTS, {"state": ["FAILED"]}),
                   eventrules.readable_target(
                       "Notifications", self.notifications.arn,
                       f"[{app}] FAILED in pipeline <pipeline>: stage <stage>, action <action> (execution "
                       f"<execution>). Deploy stages roll back to their last good release. {link}"))
        self._rule("ApprovalRule", "approval", "Manual approval waiting: tell the approvers",
                   self._pipeline_pattern([eventrules.ACTION_EXECUTION],
                                          {"state": ["STARTED"], "type": {"category": ["Approval"]}}),
                   eventrules.readable_target(
                       "Approvals", self.approvals.arn,
                       f"[{app}] approval <action> waits in stage <stage> of pipeline <pipeline> (execution "
                       f"<execution>). Review and approve or reject: {link}"))
        fields = dict(eventrules.PIPELINE_FIELDS, trigger="$.detail.execution-trigger.trigger-type")
        self._rule("RollbackRule", "rollback", "A rollback execution started or ended: tell the team",
                   self._pipeline_pattern([eventrules.PIPELINE_EXECUTION],
                                          {"execution-trigger": {"trigger-type": ROLLBACK_TRIGGERS}}),
                   eventrules.readable_target(
                       "Notifications", self.notifications.arn,
                       f"[{app}] rollback (<trigger>) <state> in pipeline <pipeline>, execution <execution>: "
                       f"the stage is redeployed with its last successful release. {link}", fields))
        for target in self.targets:
            if not target.protected:
                continue
            self._rule(f"Release{target.label}Rule", f"release-{target.env}",
                       f"Deployment to {target.env} (protected) succeeded: tell the team",
                       self._pipeline_pattern([eventrules.STAGE_EXECUTION],
                                              {"stage": [f"Deploy{target.label}"], "state": ["SUCCEEDED"]}),
                       eventrules.readable_target(
                           "Notifications", self.notifications.arn,
                           f"[{app}] {target.env}: stage <stage> <state> in pipeline <pipeline> (execution "
                           f"<execution>): deployed, validated and baked; in a rollback execution, the previous "
                           f"release is back. {link}"))

    # -- audit trail -----------------------------------------------------------------------------
    def create_audit_rules(self):
        # CloudWatch Logs keeps the raw event: an audit record loses nothing, and Logs Insights reads
        # its fields (detail.state, detail.stage). The log group's resource policy (foundation) admits
        # exactly these rules: https://repost.aws/knowledge-center/cloudwatch-log-group-eventbridge
        def target():
            return events.Target(Id="AuditLog", Arn=self.audit_log.arn)

        self._rule("AuditPipelineRule", "audit", "Audit trail: every execution, stage, action and approval event",
                   {"source": [eventrules.CODEPIPELINE], "detail-type": eventrules.PIPELINE_EVENTS,
                    "resources": [self.pipeline_arn]}, target())
        # Builds of this pipeline's own projects, and the shared scanners' builds this pipeline started.
        self._rule("AuditBuildsRule", "builds", "Audit trail: every build state change of this pipeline",
                   {"source": [eventrules.CODEBUILD], "detail-type": [eventrules.BUILD_STATE],
                    "detail": {"$or": [
                        {"project-name": [{"prefix": Sub("${ProjectName}-${EnvironmentName}-%s-"
                                                         % self.delivery.component)}]},
                        {"additional-information": {"initiator": [Sub("codepipeline/" + self.pipeline_name)]}},
                    ]}}, target())

    # -- alarms ----------------------------------------------------------------------------------
    def build_projects(self) -> list:
        """``(logical id, imported project name)`` of the build stack's projects."""
        build = self.builds
        ids = [build.build_project_id] + [logical_id for _, logical_id, _ in build.check_actions]
        return [(logical_id, self.delivery.project(logical_id).name) for logical_id in ids]

    def create_build_alarms(self):
        """One alarm on the failed builds of every project of the build stack (their sum), one on the longest
        build against the budget: two alarms however many projects (the template stays small)."""
        self.alarms = []
        projects = self.build_projects()
        ids = [f"m{i}" for i in range(len(projects))]
        failed = [metric(m, "AWS/CodeBuild", "FailedBuilds", [("ProjectName", name)], "Sum", period=300)
                  for m, (_, name) in zip(ids, projects)]
        self.alarms.append(MathAlarm(
            self, "BuildsFailedAlarm", f"{self.app.name}-builds-failed",
            "A build of the pipeline's build or check projects failed", expression=f"SUM([{', '.join(ids)}])",
            metrics=failed, threshold=1, evaluation_periods=1, period=300,
            topic=self.notifications))
        # Duration is in seconds, the budget in minutes. The budget warns early; the projects'
        # BuildTimeoutMinutes is the hard stop (a timed-out build also counts in FailedBuilds).
        durations = [metric(m, "AWS/CodeBuild", "Duration", [("ProjectName", name)], "Maximum", period=300)
                     for m, (_, name) in zip(ids, projects)]
        self.alarms.append(MathAlarm(
            self, "BuildDurationAlarm", f"{self.app.name}-builds-duration",
            "A build ran longer than its budget (BuildBudgetMinutes)", expression=f"MAX([{', '.join(ids)}]) / 60",
            metrics=durations, threshold=Ref(self.build_budget),
            evaluation_periods=1, period=300, topic=self.notifications))

    def create_wave_alarms(self):
        builders = {"beanstalk": self.beanstalk_alarms, "ecs-bluegreen": self.ecs_alarms,
                    "ecs-rolling": self.ecs_alarms}
        if not kind_alarms(self.app) or alarms_in_waves(self.model, self.app):
            return  # none, or in each wave's own environment (RecorderStack)
        for target in self.targets:
            built = builders[self.app.kind](target)
            declared = kind_alarms(self.app)
            if len(built) != len(declared):
                raise ValueError(f"{self.name}: {len(built)} alarms built for {target.env}, WAVE_ALARMS declares "
                                 f"{len(declared)}")
            for alarm, made in zip(declared, built):
                self.export(wave_alarm(self.app, target.env, alarm), made.name)
                self.alarms.append(made)

    def ecs_alarms(self, target) -> list:
        return ecs_alarms(self, target.label, [alarm_component(self.app, target.env, a) for a in WAVE_ALARMS[self.app.kind]],
                          self.TARGET.load_balancer_full_name.imported(target.env), self.error_rate, self.latency,
                          self.notifications, target.env)

    def beanstalk_alarms(self, target) -> list:
        components = [alarm_component(self.app, target.env, alarm) for alarm in WAVE_ALARMS["beanstalk"]]
        return beanstalk_alarms(self, target.label, components, self.TARGET.environment_name.imported(target.env),
                                self.notifications, target.env)

    # -- dashboard -------------------------------------------------------------------------------
    def create_dashboard(self):
        self.add(cloudwatch.Dashboard(
            "Dashboard", DashboardName=Sub("${ProjectName}-${EnvironmentName}-%s" % self.app.name),
            DashboardBody=Dashboard(self).body(),
        ))


def _slug(logical_id: str) -> str:
    """``ImageBuildProject`` → ``image-build``."""
    words, word = [], ""
    for ch in logical_id.replace("Project", ""):
        if ch.isupper() and word:
            words.append(word)
            word = ""
        word += ch.lower()
    return "-".join(words + [word])


class Dashboard:
    """The body of the application's dashboard, as one ``Fn::Sub`` whose variables are the imports."""

    def __init__(self, stack: OperationsStack):
        self.stack = stack
        self.variables: dict = {}

    def var(self, value) -> str:
        if isinstance(value, Sub) and isinstance(value.data["Fn::Sub"], str):
            return value.data["Fn::Sub"]  # a plain Sub text (names, ARNs by convention) goes in as is
        name = f"V{len(self.variables)}"
        self.variables[name] = value
        return "${%s}" % name

    def metrics_widget(self, title, metrics, x, y, stat="Sum", width=12, height=6, period=300, **properties):
        return {"type": "metric", "x": x, "y": y, "width": width, "height": height, "properties": {
            "title": title, "region": "${AWS::Region}", "stat": stat, "period": period, "view": "timeSeries",
            "metrics": metrics, **properties}}

    def placed(self, env: str) -> dict:
        """Rendering options of a metric of ``env`` when it lives in another account or Region (the dashboard
        reads it there through CloudWatch cross-account observability, set up between the accounts:
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Unified-Cross-Account.html;
        per-metric options: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Dashboard-Body-Structure.html)."""
        where, options = placement.placement(self.stack.model, env), {}
        if where.cross_account:
            options["accountId"] = self.var(placement.account_id(self.stack, env))
        if where.cross_region:
            options["region"] = self.var(placement.action_region(self.stack, env))
        return options

    def lambda_widgets(self, y: int) -> list:
        """Per wave a row on the function's ``live`` alias, by the dimensions Lambda publishes for an alias
        (FunctionName and Resource ``<function>:<alias>``:
        https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html): invocations, errors and
        error rate; throttles; duration p50/p99 at the alarms' one-minute period against the duration
        alarm's threshold; concurrent executions of the function against its reserved concurrency (a
        function-level cap; ConcurrentExecutions: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html)."""
        s, widgets = self.stack, []
        for row, target in enumerate(s.targets):
            env, top = target.env, y + 6 * row
            name = lambda_function.function_name(s.app, env)
            where = self.placed(env)

            def alias(metric, **options):
                return [LAMBDA_NAMESPACE, metric, "FunctionName", name, "Resource", f"{name}:{ALIAS}",
                        dict(options, **where)]

            threshold = int(s.target_parameter(env, lambda_function.DURATION_THRESHOLD))
            reserved = int(s.target_parameter(env, lambda_function.RESERVED_CONCURRENCY))
            widgets += [
                self.metrics_widget(f"{env}: invocations, errors, error rate (%)", [
                    alias("Invocations", id="m1", label="invocations"),
                    alias("Errors", id="m2", label="errors"),
                    [{"expression": "IF(m1 > 0, 100 * m2 / m1, 0)", "id": "e1", "label": "error rate (%)",
                      "yAxis": "right"}]], 0, top, width=6, period=60),
                self.metrics_widget(f"{env}: throttles", [alias("Throttles", label="throttles")], 6, top,
                                    width=6, period=60),
                self.metrics_widget(f"{env}: duration (ms)", [
                    alias("Duration", stat="p50", label="p50"), alias("Duration", stat="p99", label="p99")],
                    12, top, stat="p99", width=6, period=60,
                    annotations={"horizontal": [{"label": "duration alarm (p99)", "value": threshold}]}),
                self.metrics_widget(f"{env}: concurrent executions", [
                    [LAMBDA_NAMESPACE, "ConcurrentExecutions", "FunctionName", name,
                     dict(label="function", **where)]], 18, top, stat="Maximum", width=6, period=60,
                    **({"annotations": {"horizontal": [{"label": "reserved concurrency", "value": reserved}]}}
                       if reserved else {})),
            ]
        return widgets

    def lambda_alarm_arns(self) -> list:
        """The function alarms of the waves in this account and Region, by name (no import): an alarm status
        widget lists alarms of its own account."""
        s, found = self.stack, []
        for target in s.targets:
            where = placement.placement(s.model, target.env)
            if where.cross_account or where.cross_region:
                continue
            found += [naming.arn("cloudwatch", "alarm:" + name)
                      for name in lambda_function.alarm_names(s.app.name, target.env)]
        return found

    def body(self):
        s = self.stack
        projects = [(logical_id, self.var(name)) for logical_id, name in s.build_projects()]
        # A wave's metrics are in its account and Region: the load-balancer widgets show the tools-side ones.
        envs = [(t.env, t) for t in s.targets if not alarms_in_waves(s.model, s.app)]
        widgets = [
            self.metrics_widget("Build duration (s, max)", [
                ["AWS/CodeBuild", "Duration", "ProjectName", name, {"label": lid}] for lid, name in projects],
                0, 0, stat="Maximum"),
            self.metrics_widget("Failed builds", [
                ["AWS/CodeBuild", "FailedBuilds", "ProjectName", name, {"label": lid}] for lid, name in projects],
                12, 0),
            self.metrics_widget("Pipeline failures (events)", [
                ["AWS/Events", "TriggeredRules", "RuleName",
                 "${ProjectName}-${EnvironmentName}-%s-ops-failed" % s.app.name, {"label": "failures"}]], 0, 6),
            {"type": "log", "x": 12, "y": 6, "width": 12, "height": 6, "properties": {
                "title": "Deployments per environment (audit log)", "region": "${AWS::Region}", "view": "bar",
                "query": "SOURCE '%s' | filter `detail-type` = '%s' and detail.pipeline = '%s' and "
                         "detail.state = 'SUCCEEDED' and detail.stage like /^Deploy/ "
                         "| stats count(*) as deployments by detail.stage"
                         % (self.var(s.audit_log.name), eventrules.STAGE_EXECUTION, s.pipeline_name)}},
        ]
        if s.app.kind == "lambda":
            widgets += self.lambda_widgets(12)
        elif not kind_alarms(s.app) or not envs:
            pass
        elif s.app.kind == "beanstalk":
            widgets.append(self.metrics_widget("Environment health (20 Degraded, 25 Severe)", [
                ["AWS/ElasticBeanstalk", "EnvironmentHealth", "EnvironmentName",
                 self.var(s.TARGET.environment_name.imported(env)), {"label": env}] for env, _ in envs],
                0, 12, stat="Maximum", width=24))
        else:
            lbs = [(env, self.var(s.TARGET.load_balancer_full_name.imported(env))) for env, _ in envs]
            widgets.append(self.metrics_widget("Target 5xx", [
                [ALB_NAMESPACE, "HTTPCode_Target_5XX_Count", "LoadBalancer", lb, {"label": env}] for env, lb in lbs],
                0, 12))
            widgets.append(self.metrics_widget("Target response time (s, p95)", [
                [ALB_NAMESPACE, "TargetResponseTime", "LoadBalancer", lb, {"label": env}] for env, lb in lbs],
                12, 12, stat="p95"))
        alarms = [self.var(alarm.arn) for alarm in s.alarms]
        if s.app.kind == "lambda":
            alarms += [self.var(arn) for arn in self.lambda_alarm_arns()]
        widgets.append({"type": "alarm", "x": 0, "y": max(w["y"] + w["height"] for w in widgets), "width": 24,
                        "height": 4, "properties": {"title": "Alarms", "alarms": alarms}})
        text = json.dumps({"widgets": widgets}, separators=(",", ":"), sort_keys=False)
        return Sub(text, **self.variables)
