"""ECS on Fargate: cluster, task definition, service, CPU auto scaling, and the grants into them.

The task definition keeps the two roles apart: the *execution* role is what the
ECS agent uses to pull the image and write logs; the *task* role is what the
application's code gets, and starts with no permission at all.

A service names its task definition by FAMILY (ECS then runs the family's latest
ACTIVE revision) and sets no ``DesiredCount`` (Application Auto Scaling owns the count):
its properties never change after creation, so CloudFormation never calls
``UpdateService`` on it. That is what keeps a ``CODE_DEPLOY`` service updatable at all:
CloudFormation's handler sends every property in ``UpdateService`` and ECS rejects the
call for such services (https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1529,
https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/2234), and for an
``ECS``-controlled service it means a stack update never rolls the pipeline's newest
revision back to the one the stack registered. See docs/ecs.md.
"""
from __future__ import annotations

from awacs import awslambda, ecs as ecs_actions, elasticloadbalancing as elb
from awacs.aws import Condition, StringEquals
from troposphere import GetAtt, If, NoValue, Ref, Sub, applicationautoscaling as aas, ecs

from .iam import Role, allow, pass_role, unscoped

ECS_TASKS = "ecs-tasks.amazonaws.com"
#: Fargate's CPU units and, for each, the memory sizes (MiB) it accepts.
FARGATE_MEMORY = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4097, 1024)),
    1024: list(range(2048, 8193, 1024)),
    2048: list(range(4096, 16385, 1024)),
    4096: list(range(8192, 30721, 1024)),
    8192: list(range(16384, 61441, 4096)),
    16384: list(range(32768, 122881, 8192)),
}
FARGATE_CPU = sorted(FARGATE_MEMORY)
FARGATE_MEMORY_VALUES = sorted({m for sizes in FARGATE_MEMORY.values() for m in sizes})
TMP_VOLUME = "tmp"


def fargate_size_rules(stack, cpu, memory):
    """Template ``Rules``: the stack refuses a CPU/memory pair Fargate would reject, before any change."""
    for units, sizes in FARGATE_MEMORY.items():
        stack.template.add_rule(f"FargateMemoryFor{units}Cpu", {
            "RuleCondition": {"Fn::Equals": [Ref(cpu), str(units)]},
            "Assertions": [{
                "Assert": {"Fn::Contains": [[str(s) for s in sizes], Ref(memory)]},
                "AssertDescription": f"Fargate rejects this TaskMemory with {units} CPU",
            }],
        })


def task_roles(stack, execution_component="ecs-execution", task_component="ecs-task"):
    """The execution role (agent: pull image, write logs) and the task role (the application's)."""
    execution = Role(stack, "TaskExecutionRole", ECS_TASKS, execution_component,
                     description="ECS agent: pulls the image and writes the container logs")
    task = Role(stack, "TaskRole", ECS_TASKS, task_component,
                source_arn=Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*"),
                description="The application's own AWS permissions (none unless granted)")
    return execution, task


def ecs_arn(resource: str, **values) -> Sub:
    return Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:" + resource, **values)


def tag_on_create(resources, *create_actions):
    """``ecs:TagResource`` only while ``create_actions`` create ``resources`` (ECS tag-on-create).

    A caller that registers a tagged task definition or creates a tagged service or task set is
    authorized for ``ecs:TagResource`` too; the ``ecs:CreateAction`` condition keeps it from
    tagging existing resources.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html
    """
    return allow([ecs_actions.TagResource], list(resources),
                 condition=Condition(StringEquals({"ecs:CreateAction": list(create_actions)})))


class Cluster:
    def __init__(self, stack, logical_id, name):
        self.cluster = stack.add(ecs.Cluster(
            logical_id, ClusterName=name,
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        ))
        self.name = Ref(self.cluster)
        self.arn = GetAtt(self.cluster, "Arn")


class TaskDefinitionReference:
    """A task definition family and its two roles, as the pipeline sees them."""

    def __init__(self, family, execution_role_arn, task_role_arn):
        self.family = family
        self.execution_role_arn = execution_role_arn
        self.task_role_arn = task_role_arn

    def grant_register(self):
        """Register new revisions of this family and pass its two roles to ECS (what CodeDeployToECS
        needs besides the deployment group's ``grant_deploy()``)."""
        revisions = ecs_arn("task-definition/${Family}:*", Family=self.family)
        return [
            allow([ecs_actions.RegisterTaskDefinition], [revisions]),
            tag_on_create([revisions], "RegisterTaskDefinition"),
            pass_role([self.execution_role_arn, self.task_role_arn], ECS_TASKS),
        ]


class FargateTaskDefinition(TaskDefinitionReference):
    """One essential container on Fargate (awsvpc), logging with awslogs, never privileged.

    ``readonly``: a condition name; when true the root filesystem is read-only and a
    task-scoped writable volume is mounted at ``/tmp``.
    """

    def __init__(self, stack, logical_id, family, *, cpu, memory, execution_role: Role, task_role: Role,
                 container_name, image, container_port, log_group, readonly):
        container = ecs.ContainerDefinition(
            Name=container_name,
            Image=image,
            Essential=True,
            PortMappings=[ecs.PortMapping(ContainerPort=container_port, Protocol="tcp")],
            ReadonlyRootFilesystem=If(readonly, True, False),
            Privileged=False,
            LinuxParameters=ecs.LinuxParameters(Capabilities=ecs.KernelCapabilities(Drop=["ALL"])),
            MountPoints=If(readonly, [ecs.MountPoint(SourceVolume=TMP_VOLUME, ContainerPath="/tmp", ReadOnly=False)],
                           NoValue),
            LogConfiguration=ecs.LogConfiguration(LogDriver="awslogs", Options={
                "awslogs-group": log_group.name,
                "awslogs-region": Ref("AWS::Region"),
                "awslogs-stream-prefix": container_name,
            }),
        )
        self.task_definition = stack.add(ecs.TaskDefinition(
            logical_id,
            Family=family,
            Cpu=cpu,
            Memory=memory,
            NetworkMode="awsvpc",
            RequiresCompatibilities=["FARGATE"],
            RuntimePlatform=ecs.RuntimePlatform(OperatingSystemFamily="LINUX", CpuArchitecture="X86_64"),
            ExecutionRoleArn=execution_role.arn,
            TaskRoleArn=task_role.arn,
            ContainerDefinitions=[container],
            Volumes=If(readonly, [ecs.Volume(Name=TMP_VOLUME)], NoValue),
        ))
        execution_role.grant(log_group.grant_write())
        super().__init__(family, execution_role.arn, task_role.arn)
        self.logical_id = logical_id
        self.arn = Ref(self.task_definition)
        self.container_name = container_name
        self.container_port = container_port

    def load_balancer(self, target_group, advanced_configuration=None):
        """The service's ``LoadBalancers`` entry for this task definition's container."""
        entry = ecs.LoadBalancer(ContainerName=self.container_name, ContainerPort=self.container_port,
                                 TargetGroupArn=target_group.arn)
        if advanced_configuration is not None:
            entry.AdvancedConfiguration = advanced_configuration
        return entry


class ServiceReference:
    """An ECS service known by cluster and service name."""

    def __init__(self, cluster_name, service_name):
        self.cluster_name = cluster_name
        self.service_name = service_name
        self.arn = ecs_arn("service/${Cluster}/${Service}", Cluster=cluster_name, Service=service_name)
        self.task_sets = ecs_arn("task-set/${Cluster}/${Service}/*", Cluster=cluster_name, Service=service_name)

    def grant_describe(self):
        return [allow([ecs_actions.DescribeServices], [self.arn])]

    def grant_read_running(self):
        """Which task definition this service runs and what it holds (the deployment recorder)."""
        return [
            allow([ecs_actions.DescribeServices], [self.arn]),
            unscoped([ecs_actions.DescribeTaskDefinition],
                     "ecs DescribeTaskDefinition has no resource level permission"),
        ]

    def grant_rolling_deploy(self):
        """The CodePipeline ECS (rolling) deploy action: update this service and follow its tasks
        (add the task definition's ``grant_register()``)."""
        return [
            unscoped([ecs_actions.DescribeTaskDefinition],
                     "ecs DescribeTaskDefinition has no resource level permission"),
            allow([ecs_actions.DescribeServices, ecs_actions.UpdateService], [self.arn]),
            allow([ecs_actions.DescribeTasks, ecs_actions.ListTasks], [
                ecs_arn("task/${Cluster}/*", Cluster=self.cluster_name),
                ecs_arn("container-instance/${Cluster}/*", Cluster=self.cluster_name),
            ]),
        ]


class FargateService(ServiceReference):
    """A Fargate service in private subnets only, whose properties never change after creation
    where they must not (see the module docstring): the task definition by family, no desired count.

    ``controller``: ``"CODE_DEPLOY"`` (CodeDeploy blue/green) or ``"ECS"`` (rolling or ECS blue/green,
    described by ``deployment_configuration``). ``load_balancers``: ``ecs.LoadBalancer`` objects, see
    :meth:`FargateTaskDefinition.load_balancer`.
    """

    def __init__(self, stack, logical_id, name, *, cluster: Cluster, task_definition: FargateTaskDefinition,
                 subnets, security_group, load_balancers, grace_period, controller,
                 deployment_configuration=None, depends_on=()):
        self.stack = stack
        self.logical_id = logical_id
        props = dict(
            # The task definition resource first: the family needs a revision before the service starts.
            DependsOn=[task_definition.logical_id] + list(depends_on),
            ServiceName=name,
            Cluster=cluster.name,
            TaskDefinition=task_definition.family,
            LaunchType="FARGATE",
            PlatformVersion="LATEST",
            DeploymentController=ecs.DeploymentController(Type=controller),
            NetworkConfiguration=ecs.NetworkConfiguration(AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                AssignPublicIp="DISABLED", Subnets=subnets, SecurityGroups=[security_group],
            )),
            LoadBalancers=list(load_balancers),
            HealthCheckGracePeriodSeconds=grace_period,
            PropagateTags="SERVICE",
            EnableECSManagedTags=True,
            EnableExecuteCommand=False,
        )
        if deployment_configuration is not None:
            props["DeploymentConfiguration"] = deployment_configuration
        if controller == "CODE_DEPLOY":
            # A tag change is a service update too, and ECS rejects every UpdateService CloudFormation
            # sends for a CODE_DEPLOY service (see the module docstring): the service carries only the
            # tags whose values never change without replacing it (Stack.CONSTANT_TAGS), and its tasks
            # take every tag, CostCenter included, from the task definition, which may change freely.
            props["PropagateTags"] = "TASK_DEFINITION"
        self.service = stack.add(ecs.Service(logical_id, **props))
        if controller == "CODE_DEPLOY":
            stack.tag_constantly(self.service)
        super().__init__(cluster.name, GetAtt(self.service, "Name"))

    def autoscale_on_cpu(self, min_capacity, max_capacity, target_percent, cooldown=60):
        """Target tracking on the service's average CPU.

        No ``RoleARN``: Application Auto Scaling then uses (and creates if missing) its
        service-linked role for ECS, ``AWSServiceRoleForApplicationAutoScaling_ECSService``.
        """
        target = self.stack.add(aas.ScalableTarget(
            self.logical_id + "ScalableTarget",
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Sub("service/${Cluster}/${Service}", Cluster=self.cluster_name, Service=self.service_name),
            MinCapacity=min_capacity,
            MaxCapacity=max_capacity,
        ))
        self.stack.add(aas.ScalingPolicy(
            self.logical_id + "CpuScalingPolicy",
            PolicyName=Sub("${ProjectName}-${EnvironmentName}-cpu-target-tracking"),
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=Ref(target),
            TargetTrackingScalingPolicyConfiguration=aas.TargetTrackingScalingPolicyConfiguration(
                PredefinedMetricSpecification=aas.PredefinedMetricSpecification(
                    PredefinedMetricType="ECSServiceAverageCPUUtilization"),
                TargetValue=target_percent,
                ScaleInCooldown=cooldown,
                ScaleOutCooldown=cooldown,
            ),
        ))
        return target


# -- Amazon ECS blue/green (deployment controller ECS, strategy BLUE_GREEN) -------------------
ECS_SERVICE = "ecs.amazonaws.com"
#: The stage a lifecycle hook runs at: replacement tasks receive test traffic, production not yet.
HOOK_STAGES = ["POST_TEST_TRAFFIC_SHIFT"]


def load_balancer_infrastructure_role(stack, logical_id, component, *, target_groups, listeners, listener_rules):
    """The role ECS assumes to move traffic between the two target groups of a blue/green service.

    AWS's ``AmazonECSInfrastructureRolePolicyForLoadBalancers`` grants these actions on every target
    group, listener and rule of the account; this one names only the service's own
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html,
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSInfrastructureRolePolicyForLoadBalancers.html).
    The trust has no condition: ECS's documented trust policy for this role shows none.
    """
    role = Role(stack, logical_id, ECS_SERVICE, component, source_account=False,
                description="ECS: shifts blue/green traffic between this service's target groups")
    role.grant(
        unscoped([elb.DescribeListeners, elb.DescribeRules, elb.DescribeTargetGroups, elb.DescribeTargetHealth],
                 "elasticloadbalancing Describe actions have no resource level permission"),
        allow([elb.RegisterTargets, elb.DeregisterTargets], [group.arn for group in target_groups]),
        allow([elb.ModifyListener], [listener.arn for listener in listeners]),
        allow([elb.ModifyRule], list(listener_rules)),
    )
    return role


def lifecycle_hook(stack, function_arn, condition, component="ecs-hook"):
    """A Lambda lifecycle hook at :data:`HOOK_STAGES`, with a role that may invoke only that function;
    the role and its policy exist only under ``condition`` (the function parameter is set).
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-permissions.html
    """
    role = Role(stack, "LifecycleHookRole", ECS_SERVICE, component, source_account=False,
                description="ECS: invokes the blue/green lifecycle hook function")
    role.role.Condition = condition
    role.grant(allow([awslambda.InvokeFunction], [function_arn]))

    def conditional_policy():
        stack.template.resources[role.logical_id + "Policy"].Condition = condition

    stack.on_finalize(conditional_policy)  # after the role's own finalizer has written the policy
    return If(condition, [ecs.DeploymentLifecycleHook(
        HookTargetArn=function_arn, RoleArn=role.arn, TargetType="AWS_LAMBDA", LifecycleStages=HOOK_STAGES,
    )], NoValue)
