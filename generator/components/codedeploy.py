"""CodeDeploy for ECS: application, blue/green deployment group, service role, and the deploy grant."""
from __future__ import annotations

from awacs import cloudwatch, codedeploy as cd, ecs, elasticloadbalancing as elb
from troposphere import Ref, Sub, codedeploy

from ..core.suppress import Suppression, suppress
from .alb import IpTargetGroup, Listener, LoadBalancer
from .ecs import ECS_TASKS, ServiceReference, TaskDefinitionReference
from .iam import Role, allow, pass_role, unscoped

#: The predefined ECS deployment configurations (CodeDeploy's own names).
ECS_DEPLOYMENT_CONFIGS = [
    "CodeDeployDefault.ECSAllAtOnce",
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
]
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]


def _arn(resource: str, **values) -> Sub:
    return Sub("arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:" + resource, **values)


class DeploymentGroupReference:
    """An ECS deployment group known by application and group name."""

    def __init__(self, application_name, deployment_group_name):
        self.application_name = application_name
        self.deployment_group_name = deployment_group_name
        self.application_arn = _arn("application:${App}", App=application_name)
        self.arn = _arn("deploymentgroup:${App}/${Group}", App=application_name, Group=deployment_group_name)

    def grant_deploy(self):
        """What CodePipeline's CodeDeployToECS action needs on CodeDeploy (add the task definition's
        ``grant_register()`` for the task definition and the roles it passes)."""
        return [
            allow([cd.CreateDeployment, cd.GetDeployment], [self.arn]),
            allow([cd.GetApplication, cd.GetApplicationRevision, cd.RegisterApplicationRevision],
                  [self.application_arn]),
            allow([cd.GetDeploymentConfig], [_arn("deploymentconfig:*")]),
        ]


def service_role(stack, application_name: str, component: str, *, service: ServiceReference, task_definition: TaskDefinitionReference,
                 listeners, load_balancer: LoadBalancer, alarms, logical_id="CodeDeployServiceRole"):
    """The role CodeDeploy uses to shift this one service's traffic, with an inline policy in place of
    ``AWSCodeDeployRoleForECS``.

    That managed policy (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCodeDeployRoleForECS.html)
    allows its ECS, Elastic Load Balancing, CloudWatch, Lambda, SNS and S3 actions on ``*`` and
    ``iam:PassRole`` on every role passable to ECS tasks. What an ECS blue/green deployment of this
    service uses, scoped where IAM defines resources (Service Authorization Reference,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html):
    the service and its task sets, this load balancer's two listeners and rules, the stack's alarms,
    and ``iam:PassRole`` on the task's two roles for ECS tasks only. Not granted: ``lambda:InvokeFunction``
    (the appspec declares no hooks), ``sns:Publish`` (no deployment triggers) and ``s3:GetObject``
    (CodePipeline hands the appspec over as content, not as an S3 revision).

    ``application_name``: the application's name as ``Fn::Sub`` text (``${ProjectName}-...``); the trust
    policy admits CodeDeploy only for that application's deployment groups in this account, as CodeDeploy's
    confused-deputy guidance describes for ECS deployments. ``component`` names the role
    (``{project}-{env}-<component>``): one per application, so two services in an environment never share it.
    """
    role = Role(
        stack, logical_id, "codedeploy.amazonaws.com", component,
        source_arn=_arn("deploymentgroup:%s/*" % application_name),
        description="CodeDeploy: blue/green traffic shifting of the ECS service",
    )
    role.grant(
        allow([ecs.DescribeServices, ecs.UpdateServicePrimaryTaskSet], [service.arn]),
        allow([ecs.CreateTaskSet, ecs.DeleteTaskSet], [service.task_sets]),
        unscoped([elb.DescribeListeners, elb.DescribeRules, elb.DescribeTargetGroups],
                 "elasticloadbalancing Describe actions have no resource level permission"),
        allow([elb.ModifyListener], [listener.arn for listener in listeners]),
        allow([elb.ModifyRule], [Sub(
            "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:listener-rule/${Lb}/*",
            Lb=load_balancer.full_name)]),
        allow([cloudwatch.DescribeAlarms], [alarm.arn for alarm in alarms]),
        pass_role([task_definition.execution_role_arn, task_definition.task_role_arn], ECS_TASKS),
    )
    return role


class EcsApplication:
    def __init__(self, stack, logical_id, name):
        self.application = stack.add(codedeploy.Application(logical_id, ApplicationName=name, ComputePlatform="ECS"))
        self.name = Ref(self.application)


class EcsBlueGreenDeploymentGroup(DeploymentGroupReference):
    """Blue/green with traffic control: production and test listeners, two target groups,
    rollback on failure and on alarm, the replaced tasks kept ``termination_wait`` minutes."""

    def __init__(self, stack, logical_id, name, *, application: EcsApplication, role: Role,
                 service: ServiceReference, production_listener: Listener, test_listener: Listener,
                 blue: IpTargetGroup, green: IpTargetGroup, deployment_config, termination_wait, alarms):
        self.group = stack.add(codedeploy.DeploymentGroup(
            logical_id,
            ApplicationName=application.name,
            DeploymentGroupName=name,
            ServiceRoleArn=role.arn,
            DeploymentConfigName=deployment_config,
            DeploymentStyle=codedeploy.DeploymentStyle(
                DeploymentType="BLUE_GREEN", DeploymentOption="WITH_TRAFFIC_CONTROL"),
            BlueGreenDeploymentConfiguration=codedeploy.BlueGreenDeploymentConfiguration(
                DeploymentReadyOption=codedeploy.DeploymentReadyOption(
                    ActionOnTimeout="CONTINUE_DEPLOYMENT", WaitTimeInMinutes=0),
                TerminateBlueInstancesOnDeploymentSuccess=codedeploy.BlueInstanceTerminationOption(
                    Action="TERMINATE", TerminationWaitTimeInMinutes=termination_wait),
            ),
            ECSServices=[codedeploy.ECSService(
                ClusterName=service.cluster_name, ServiceName=service.service_name)],
            LoadBalancerInfo=codedeploy.LoadBalancerInfo(TargetGroupPairInfoList=[codedeploy.TargetGroupPairInfo(
                ProdTrafficRoute=codedeploy.TrafficRoute(ListenerArns=[production_listener.arn]),
                TestTrafficRoute=codedeploy.TrafficRoute(ListenerArns=[test_listener.arn]),
                TargetGroups=[codedeploy.TargetGroupInfo(Name=blue.name), codedeploy.TargetGroupInfo(Name=green.name)],
            )]),
            AutoRollbackConfiguration=codedeploy.AutoRollbackConfiguration(Enabled=True, Events=ROLLBACK_EVENTS),
            AlarmConfiguration=codedeploy.AlarmConfiguration(
                Enabled=True, IgnorePollAlarmFailure=False,
                Alarms=[codedeploy.Alarm(Name=alarm.name) for alarm in alarms],
            ),
        ))
        suppress(self.group, Suppression(
            "The pipeline's CodeDeploy action in the tools stack addresses the deployment group by its "
            "{project}-{env}-{component} name, so the name must be known before this stack exists",
            guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
        ))
        super().__init__(application.name, Ref(self.group))
