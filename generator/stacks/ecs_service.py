"""``ecs-service`` (dev, staging, prod): the application on ECS Fargate behind an ALB, deployed blue/green by CodeDeploy.

The load balancer, target groups and listeners are in ``ecs-ingress`` (deployed first); the shared
parts of this stack (task definition, scaling, alarms, Rules, exports) come from :mod:`.ecs_web`.
This stack adds the ``CODE_DEPLOY`` service and the CodeDeploy application and deployment group
that swap the two target groups behind the listeners.

Why the service resource never changes after creation: CloudFormation's ``AWS::ECS::Service``
handler sends every property in ``UpdateService``, and ECS rejects ``UpdateService`` for a
``CODE_DEPLOY`` service when it names a task definition, load balancers, network configuration or
platform version ("Unable to update task definition on services with a CODE_DEPLOY deployment
controller"; https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1529,
https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/2234,
https://github.com/aws/aws-cdk/issues/23564). So every property of the service is a value no
update changes: the task definition is the family name (ECS runs its latest ACTIVE revision, which
the pipeline's ``taskdef.json`` supersedes; as aws-cdk's ``EcsDeploymentGroup`` requires), the
container name and port are constants, there is no desired count (Application Auto Scaling owns it)
and the health-check grace period is a constant. Listeners, alarms, scaling, the deployment group and
the task definition resource itself may change freely. Project rule E9108 keeps it so; docs/ecs.md.
"""
from __future__ import annotations

from troposphere import Ref, Sub

from ..components.codedeploy import (
    ECS_DEPLOYMENT_CONFIGS, DeploymentGroupReference, EcsApplication, EcsBlueGreenDeploymentGroup, service_role,
)
from .ecs_web import IngressStack, LoadBalancedFargateStack, export_set, ingress_export_set

#: Seconds ECS ignores failing health checks of a new task (a constant: the service never updates).
HEALTH_CHECK_GRACE_SECONDS = 60

INGRESS_EXPORTS = ingress_export_set("ecs-ingress")
EXPORTS = export_set(
    "ecs-service",
    ("application_name", "CodeDeployApplicationName", "CodeDeploy application (ECS)"),
    ("deployment_group_name", "DeploymentGroupName", "CodeDeploy blue/green deployment group"),
)


def deployment_group(exports, env: str):
    """The deployment group of environment ``env`` (of the service stack whose ``EXPORTS`` are
    ``exports``) as the ECS pipeline (tools) sees it."""
    return DeploymentGroupReference(exports.application_name.imported(env), exports.deployment_group_name.imported(env))


class EcsIngressStack(IngressStack):
    name = INGRESS_EXPORTS.stack
    description = "Load balancer, target groups and listeners of the ECS service deployed blue/green by CodeDeploy"
    EXPORTS = INGRESS_EXPORTS


class EcsServiceStack(LoadBalancedFargateStack):
    name = "ecs-service"
    description = "ECS Fargate service behind an ALB with CodeDeploy blue/green deployments, alarms and auto scaling"
    EXPORTS = EXPORTS
    INGRESS = INGRESS_EXPORTS

    def create_deployment_parameters(self):
        p = self.parameter
        self.deployment_config = p("DeploymentConfigName", "Deployment", "Deployment configuration", Type="String",
                                   Default="CodeDeployDefault.ECSCanary10Percent5Minutes",
                                   AllowedValues=ECS_DEPLOYMENT_CONFIGS,
                                   Description="How CodeDeploy shifts traffic: canary, linear or all at once")
        self.termination_wait = p("TerminationWaitMinutes", "Deployment", "Old tasks kept (minutes)", Type="Number",
                                  Default=5, MinValue=0, MaxValue=2880,
                                  Description="Minutes the replaced (blue) tasks keep running after a successful "
                                              "deployment, for a fast manual rollback")

    def create_service(self):
        self.service = self.fargate_service("CODE_DEPLOY", [self.task.load_balancer(self.blue)],
                                            HEALTH_CHECK_GRACE_SECONDS)

    def create_deployment(self):
        name = "${ProjectName}-${EnvironmentName}-%s" % self.component
        self.application = EcsApplication(self, "CodeDeployApplication", Sub(name))
        role = service_role(self, name, f"{self.component}-codedeploy", service=self.service, task_definition=self.task,
                            listeners=[self.production_listener, self.test_listener],
                            load_balancer=self.load_balancer, alarms=self.alarms)
        self.deployment_group = EcsBlueGreenDeploymentGroup(
            self, "DeploymentGroup", Sub(name),
            application=self.application, role=role, service=self.service,
            production_listener=self.production_listener, test_listener=self.test_listener,
            blue=self.blue, green=self.green, deployment_config=Ref(self.deployment_config),
            termination_wait=Ref(self.termination_wait), alarms=self.alarms,
        )

    def deployment_outputs(self):
        return [
            (self.EXPORTS.application_name, self.application.name),
            (self.EXPORTS.deployment_group_name, self.deployment_group.deployment_group_name),
        ]
