"""``<app>-recorder`` (each wave's environment): the function the pipeline invokes after a deploy.

It runs in the target's VPC (the target may be an internal load balancer), checks the URL the
target exports with bounded retries and timeouts (``generator/functions/record_deployment.py``),
writes one item to the tools ``deployments`` table (application, environment, execution id, the
source archive's S3 version, outcome, times) and reports the job result to CodePipeline: an
unhealthy target fails the action, which rolls the deploy stage back. One function per environment
keeps each template small (the code is inline) and its role limited to that environment's network.
"""
from __future__ import annotations

from troposphere import Ref

from ..components.codebuild import VpcAccess
from ..components.inline_function import InlineFunction
from ..components.kms import KeyReference
from ..components.pipeline import job_result_grant
from ..components.history import HistoryTableReference
from ..core.stack import LOG_RETENTION_DAYS, Stack
from . import deployments, foundation
from .delivery import Delivery

#: Kinds whose target exports the validation contract (``delivery.TARGET_EXPORT_KEYS``: a URL reachable in a
#: VPC) and so get a recorder; a Lambda function target records its version differently (not yet).
KINDS = ("beanstalk", "ecs-bluegreen", "ecs-rolling")
#: Health check bounds: attempts, seconds per attempt (the function's timeout covers them and the backoff).
ATTEMPTS, TIMEOUT_SECONDS, FUNCTION_TIMEOUT = 5, 5, 60


class RecorderStack(Stack):
    """Made per application by ``kinds`` with its ``delivery``."""

    delivery: Delivery = None
    description = "Checks the target after each pipeline deploy and records the deployment (per environment)"

    def create(self):
        health_path = self.parameter(
            "HealthCheckPath", "Target", "Health check path",
            Type="String", Default="/health", AllowedPattern=r"^/[A-Za-z0-9/._-]*$",
            ConstraintDescription="a URL path starting with /",
            Description="Path the recorder requests on the target",
        )
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
        value = self.delivery.target_export
        vpc = VpcAccess(value("VpcId").imported(), value("ValidationSubnetIds").imported(),
                        value("ValidationSecurityGroupId").imported())
        tools = self.model.tools
        # The table lives in tools, encrypted with the tools key.
        table = HistoryTableReference(deployments.EXPORTS.table_name.imported(tools),
                                      deployments.EXPORTS.table_arn.imported(tools),
                                      KeyReference(foundation.EXPORTS.key_arn.imported(tools)))
        recorder = InlineFunction(
            self, "RecorderFunction", self.delivery.recorder_component, "record_deployment",
            f"Checks {self.app.name} after a pipeline deploy and records the deployment",
            key=KeyReference(foundation.EXPORTS.key_arn.imported()), log_retention=Ref(log_retention), vpc=vpc,
            timeout=FUNCTION_TIMEOUT, environment={
                "TABLE": table.name, "APPLICATION": self.app.name, "ENVIRONMENT": Ref(self.environment),
                "TARGET_URL": value("ServiceUrl").imported(), "HEALTH_PATH": Ref(health_path),
                "ATTEMPTS": str(ATTEMPTS), "TIMEOUT": str(TIMEOUT_SECONDS), "TTL_DAYS": Ref(history_days),
            })
        recorder.role.grant(table.grant_record(), job_result_grant())
        self.export(self.delivery.recorder_export(), recorder.name)
