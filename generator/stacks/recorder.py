"""``<app>-recorder`` (each wave's environment): the function the pipeline invokes after a deploy.

It checks the target (``generator/functions/record_deployment.py``), reads the artifact version the target
runs now, writes one item to the tools ``deployments`` table and reports the job result to CodePipeline: an
unhealthy target fails the action, which rolls the deploy stage back. What it reads, by kind (``READS``):

- ``beanstalk``: the environment's running application version label (``DescribeEnvironments``);
- ``ecs-bluegreen`` / ``ecs-rolling``: the service's task definition ARN with revision (``DescribeServices``:
  the PRIMARY task set or deployment) and the digest of its first container image when pinned by digest
  (``DescribeTaskDefinition``);
- ``lambda``: the version the ``live`` alias points at (``GetAlias``).

Beanstalk and ECS targets have a URL, reachable in their VPC only (the target may be an internal load
balancer): the function runs there and requests it with bounded retries and timeouts. A Lambda target has no
URL (the smoke test invoked the alias): the function calls the Lambda API only, outside any VPC, and the
deployment is healthy when the alias reads. The item: ``Target`` (``<app>#<env>``), ``DeployedAt``
(``<UTC time>#<execution id>``), ``Application``, ``Environment``, ``ExecutionId``, ``Pipeline``, ``Version``
(the input artifacts' revisions), ``SourceVersion`` (the source artifact's S3 version), ``Kind``,
``ArtifactVersion`` (what a rollback redeploys; ``""`` when it could not be read, the error in ``Detail``),
``ImageDigest`` (ECS), ``Outcome``, ``Detail``, ``StartedAt``, ``EndedAt``, ``ExpiresAt``. One function per
environment keeps each template small (the code is inline) and its role limited to that environment's target.
"""
from __future__ import annotations

from troposphere import Ref

from ..components import beanstalk as beanstalk_component
from ..components.codebuild import VpcAccess
from ..components.ecs import ServiceReference
from ..components import placement
from ..components.history import HistoryTableReference, RemoteHistoryTable
from ..components.inline_function import InlineFunction
from ..components.kms import KeyReference
from ..components.lambda_function import FunctionReference
from ..components.sns import TopicReference
from ..components.pipeline import job_result_grant
from ..core.stack import LOG_RETENTION_DAYS, Stack
from . import deployments, foundation, lambda_pipeline
from .delivery import Delivery

#: Kinds whose deployments are recorded (every kind; the function has a reader for each).
KINDS = ("beanstalk", "ecs-bluegreen", "ecs-rolling", "lambda")
#: Kinds whose target exports the validation contract (``delivery.TARGET_EXPORT_KEYS``: a URL in a VPC).
URL_KINDS = ("beanstalk", "ecs-bluegreen", "ecs-rolling")
#: Health check bounds: attempts, seconds per attempt (the function's timeout covers them and the backoff).
ATTEMPTS, TIMEOUT_SECONDS, FUNCTION_TIMEOUT = 5, 5, 60


class RecorderStack(Stack):
    """Made per application by ``kinds`` with its ``delivery`` and the export sets its pipeline stacks get
    (``APP_EXPORTS``/``EXPORTS`` for Beanstalk, ``SERVICE`` for ECS; a Lambda function's come from the
    delivery's target stack)."""

    delivery: Delivery = None
    APP_EXPORTS = EXPORTS = SERVICE = None
    #: The export set the wave alarms read (``kinds``: the ECS ingress), when they live here (``create_alarms``).
    TARGET = None
    description = "Checks the target after each pipeline deploy and records the version it runs (per environment)"

    def create(self):
        vpc, health = self.health_check() if self.app.kind in URL_KINDS else (None, {})
        history_days = self.parameter(
            "HistoryRetentionDays", "Target", "Deployment record retention (days)",
            Type="Number", Default=400, MinValue=1, MaxValue=3650,
            Description="Days a deployment record stays in the history table (its TTL)",
        )
        log_retention = self.parameter(
            "RecorderLogRetentionDays", "Target", "Recorder log retention (days)",
            Type="Number", Default=90, AllowedValues=LOG_RETENTION_DAYS,
            Description="Days CloudWatch Logs keeps the recorder's log",
        )
        tools = self.model.tools
        # The table lives in tools, encrypted with the tools key: imported, or by its ARN when a wave of the
        # application is in another account or Region (one template serves every wave).
        where = {}
        if self.away():
            table = RemoteHistoryTable(self)
            where = {"TABLE_REGION": table.region}
        else:
            table = HistoryTableReference(deployments.EXPORTS.table_name.imported(tools),
                                          deployments.EXPORTS.table_arn.imported(tools),
                                          KeyReference(foundation.EXPORTS.key_arn.imported(tools)))
        names, reads = self.READS[self.app.kind](self)
        recorder = InlineFunction(
            self, "RecorderFunction", self.delivery.recorder_component, "record_deployment",
            f"Checks {self.app.name} after a pipeline deploy and records the version it runs",
            key=KeyReference(foundation.EXPORTS.key_arn.imported()), log_retention=Ref(log_retention), vpc=vpc,
            timeout=FUNCTION_TIMEOUT, environment={
                "TABLE": table.name, "APPLICATION": self.app.name, "ENVIRONMENT": Ref(self.environment),
                "TTL_DAYS": Ref(history_days), "TARGET_KIND": self.app.kind, **where, **names, **health,
            })
        recorder.role.grant(table.grant_record(), job_result_grant(), reads)
        self.export(self.delivery.recorder_export(), recorder.name)
        self.create_alarms()

    def create_alarms(self):
        """The wave's alarms, when a wave of the application is in another account or Region
        (``operations.alarms_in_waves``): here, beside the load balancer whose metrics they watch; ALARM and OK
        go to this environment's notifications topic, which admits CloudWatch of this account already (the tools
        topic would need its policy and key opened to the wave accounts: docs/accounts.md). The pipeline's stage
        conditions name them (``operations.wave_alarm_name``)."""
        from . import operations  # operations reads the delivery module this one does

        if not operations.alarms_in_waves(self.model, self.app):
            return
        if self.app.kind not in ("beanstalk", "ecs-bluegreen", "ecs-rolling"):  # away Lambda waves are refused
            raise ValueError(f"{self.name}: wave alarms of kind {self.app.kind} cannot live in the wave yet")
        topic = TopicReference(foundation.EXPORTS.notifications_topic.imported(),
                               KeyReference(foundation.EXPORTS.key_arn.imported()))
        components = [f"{self.app.name}-{a.slug}" for a in operations.kind_alarms(self.app)]
        if self.app.kind == "beanstalk":
            operations.beanstalk_alarms(self, "Wave", components, self.TARGET.environment_name.imported(), topic,
                                        "this environment")
            return
        error_rate, latency = operations.alarm_parameters(self)
        operations.ecs_alarms(self, "Wave", components, self.TARGET.load_balancer_full_name.imported(), error_rate,
                              latency, topic, "this environment")

    @classmethod
    def model_values(cls, env: str) -> dict:
        from .beanstalk import delivery_environment_value
        from .bootstrap import tools_values  # ToolsAccountId / ToolsRegion of the history table

        if not cls.away():
            return {}
        values = tools_values(cls.model)
        if cls.app.kind == "beanstalk":  # where the application is (beanstalk_target)
            values.update(delivery_environment_value(cls.model, env))
        return values

    @classmethod
    def away(cls) -> bool:
        """A wave of the application in another account or Region than tools."""
        return any(placement.placement(cls.model, env).away for env in cls.app.waves)

    def health_check(self):
        """The VPC the function runs in and the environment of its health check (the target's URL)."""
        health_path = self.parameter(
            "HealthCheckPath", "Target", "Health check path",
            Type="String", Default="/health", AllowedPattern=r"^/[A-Za-z0-9/._-]*$",
            ConstraintDescription="a URL path starting with /",
            Description="Path the recorder requests on the target",
        )
        value = self.delivery.target_export
        vpc = VpcAccess(value("VpcId").imported(), value("ValidationSubnetIds").imported(),
                        value("ValidationSecurityGroupId").imported())
        return vpc, {"TARGET_URL": value("ServiceUrl").imported(), "HEALTH_PATH": Ref(health_path),
                     "ATTEMPTS": str(ATTEMPTS), "TIMEOUT": str(TIMEOUT_SECONDS)}

    # -- what the function reads, by kind: (environment naming the target, read grants) ----------------
    def beanstalk_target(self):
        environment = self.EXPORTS.environment_name.imported()
        if self.away():
            # One template for every wave: the application of an away wave is in its own environment
            # (beanstalk.application_environment), imported from where DeliveryEnvironment says.
            from .beanstalk import delivery_environment

            delivery_environment(self)
            application = self.APP_EXPORTS.application_name.imported("${DeliveryEnvironment}")
        else:
            application = self.APP_EXPORTS.application_name.imported(self.model.tools)
        return ({"BEANSTALK_ENVIRONMENT": environment},
                [beanstalk_component.describe_environment_grant(application, environment)])

    def ecs_target(self):
        service = ServiceReference(self.SERVICE.cluster_name.imported(), self.SERVICE.service_name.imported())
        return ({"ECS_CLUSTER": service.cluster_name, "ECS_SERVICE": service.service_name},
                service.grant_read_running())

    def lambda_target(self):
        exports = lambda_pipeline.function_exports(self.delivery)
        function = FunctionReference(exports.function_name.imported())
        return ({"FUNCTION_NAME": function.name, "FUNCTION_ALIAS": exports.alias_name.imported()},
                function.grant_read_alias())

    READS = {"beanstalk": beanstalk_target, "ecs-bluegreen": ecs_target, "ecs-rolling": ecs_target,
             "lambda": lambda_target}
