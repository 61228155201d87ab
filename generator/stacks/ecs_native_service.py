"""``ecs-native-service`` (dev, staging, prod): the application on ECS Fargate with Amazon ECS's own deployments.

Deployment controller ``ECS`` with the ``DeploymentStrategy`` parameter: ``BLUE_GREEN`` (Amazon ECS
blue/green, 2025: ECS starts the new revision beside the old one, routes the test listener to it,
shifts production by rewriting the weights of the listener rules, keeps the old revision for
``BakeTimeInMinutes`` and rolls back when a deployment alarm fires) or ``ROLLING`` (in-place, with
the deployment circuit breaker and the same alarms). CodePipeline's ``ECS`` deploy action
(``UpdateService`` with a new task definition) works with both, which is why ``ecs-native-pipeline``
targets this stack and never a ``CODE_DEPLOY`` service.
References: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-implementation.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-advancedconfiguration.html,
https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html.

The shared parts come from :mod:`.ecs_web`. As in ``ecs-service`` the service names its task
definition by family and has no desired count, so a stack update never rolls the pipeline's
newest revision back to the one the stack registered.
"""
from __future__ import annotations

from troposphere import And, Condition, Equals, If, Not, NoValue, Ref, ecs as ecs_types

from ..components import alb, ecs
from .ecs_web import IngressStack, LoadBalancedFargateStack, export_set, ingress_export_set

STRATEGIES = ["BLUE_GREEN", "ROLLING"]
LAMBDA_ARN_PATTERN = r"^$|^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"

INGRESS_EXPORTS = ingress_export_set("ecs-native-ingress")
EXPORTS = export_set("ecs-native-service")



class EcsNativeIngressStack(IngressStack):
    name = INGRESS_EXPORTS.stack
    description = "Load balancer, target groups and listeners of the ECS service with Amazon ECS deployments"
    EXPORTS = INGRESS_EXPORTS


class EcsNativeServiceStack(LoadBalancedFargateStack):
    name = "ecs-native-service"
    description = "ECS Fargate service behind an ALB with Amazon ECS blue/green or rolling deployments and alarm rollback"
    EXPORTS = EXPORTS
    INGRESS = INGRESS_EXPORTS

    def create_deployment_parameters(self):
        p = self.parameter
        self.strategy = p("DeploymentStrategy", "Deployment", "Deployment strategy", Type="String",
                          Default="ROLLING", AllowedValues=STRATEGIES,
                          Description="BLUE_GREEN (test listener, bake time) or ROLLING (in place)")
        self.bake_time = p("BakeTimeInMinutes", "Deployment", "Bake time (minutes)", Type="Number", Default=10,
                           MinValue=0, MaxValue=1440, Description="Minutes the old revision stays for rollback")
        self.grace = p("HealthCheckGracePeriodSeconds", "Deployment", "Health check grace (seconds)", Type="Number",
                       Default=60, MinValue=0, MaxValue=3600, Description="Seconds failing checks of a new task are ignored")
        self.hook_function = p("LifecycleHookFunctionArn", "Deployment", "Lifecycle hook Lambda", Type="String",
                               Default="", AllowedPattern=LAMBDA_ARN_PATTERN,
                               ConstraintDescription="a Lambda function ARN or empty",
                               Description="Optional Lambda ECS calls once test traffic reaches the new revision")

    def create_conditions(self):
        super().create_conditions()
        self.is_blue_green = self.condition("IsBlueGreen", Equals(Ref(self.strategy), "BLUE_GREEN"))
        # Hook stages (test traffic shift) exist only in blue/green deployments.
        self.has_hook = self.condition("HasLifecycleHook", And(Condition(self.is_blue_green),
                                                               Not(Equals(Ref(self.hook_function), ""))))

    def create_service(self):
        self.production_rule = alb.WeightedForwardRule(self, "ProductionListenerRule", self.production_listener,
                                                       self.blue, self.green)
        self.test_rule = alb.WeightedForwardRule(self, "TestListenerRule", self.test_listener, self.blue, self.green)
        self.infrastructure_role = ecs.load_balancer_infrastructure_role(
            self, "EcsInfrastructureRole", f"{self.component}-ecs-infrastructure",
            target_groups=[self.blue, self.green], listeners=[self.production_listener, self.test_listener],
            listener_rules=[self.production_rule.arn, self.test_rule.arn],
        )
        advanced = If(self.is_blue_green, ecs_types.AdvancedConfiguration(
            AlternateTargetGroupArn=self.green.arn,
            ProductionListenerRule=self.production_rule.arn,
            TestListenerRule=self.test_rule.arn,
            RoleArn=self.infrastructure_role.arn,
        ), NoValue)
        # Alarms are created after the service (they watch its target groups): name them by convention.
        self.deployment_configuration = ecs_types.DeploymentConfiguration(
            Strategy=Ref(self.strategy),
            BakeTimeInMinutes=Ref(self.bake_time),
            MinimumHealthyPercent=100,
            MaximumPercent=200,
            DeploymentCircuitBreaker=If(self.is_blue_green, NoValue,
                                        ecs_types.DeploymentCircuitBreaker(Enable=True, Rollback=True)),
            LifecycleHooks=ecs.lifecycle_hook(self, Ref(self.hook_function), self.has_hook, f"{self.component}-ecs-hook"),
        )
        self.service = self.fargate_service(
            "ECS", [self.task.load_balancer(self.blue, advanced)], Ref(self.grace), self.deployment_configuration,
            # The rules are referenced (a dependency already); ECS must also be allowed to use the role.
            depends_on=[self.infrastructure_role.logical_id + "Policy",
                        self.infrastructure_role.logical_id + "UnscopedPolicy"],
        )

    def create_deployment(self):
        """Roll back when any alarm fires during a deployment (and its bake time)."""
        self.deployment_configuration.Alarms = ecs_types.DeploymentAlarms(
            AlarmNames=[alarm.name for alarm in self.alarms], Enable=True, Rollback=True)
