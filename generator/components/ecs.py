"""ECS on Fargate: cluster, task definition, service, CPU auto scaling, and the grants into them.

The task definition keeps the two roles apart: the *execution* role is what the
ECS agent uses to pull the image and write logs; the *task* role is what the
application's code gets, and starts with no permission at all.

The service's deployment controller is ``CODE_DEPLOY``: after the stack creates
it, new task definitions reach it only through CodeDeploy (CloudFormation cannot
update the task definition of such a service), which is what the pipeline does.
"""
from __future__ import annotations

from awacs import ecs as ecs_actions
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
                "AssertDescription": f"With {units} CPU units Fargate accepts memory (MiB) of "
                                     + ", ".join(str(s) for s in sizes),
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
        return [
            allow([ecs_actions.RegisterTaskDefinition], [
                Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${Family}:*",
                    Family=self.family)]),
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
        self.arn = Ref(self.task_definition)
        self.container_name = container_name
        self.container_port = container_port


class ServiceReference:
    """An ECS service known by cluster and service name."""

    def __init__(self, cluster_name, service_name):
        self.cluster_name = cluster_name
        self.service_name = service_name
        self.arn = Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${Cluster}/${Service}",
                       Cluster=cluster_name, Service=service_name)

    def grant_describe(self):
        return [allow([ecs_actions.DescribeServices], [self.arn])]

    def grant_rolling_deploy(self):
        """The CodePipeline ECS (rolling) deploy action: update this service and follow its tasks
        (add the task definition's ``grant_register()``)."""
        return [
            unscoped([ecs_actions.DescribeTaskDefinition],
                     "ecs DescribeTaskDefinition has no resource level permission"),
            allow([ecs_actions.DescribeServices, ecs_actions.UpdateService], [self.arn]),
            allow([ecs_actions.DescribeTasks, ecs_actions.ListTasks], [
                Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${Cluster}/*",
                    Cluster=self.cluster_name),
                Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:container-instance/${Cluster}/*",
                    Cluster=self.cluster_name),
            ]),
        ]


class FargateService(ServiceReference):
    """A Fargate service behind a target group, deployed by CodeDeploy, in private subnets only."""

    def __init__(self, stack, logical_id, name, *, cluster: Cluster, task_definition: FargateTaskDefinition,
                 desired_count, subnets, security_group, target_group, grace_period, depends_on=()):
        self.stack = stack
        self.logical_id = logical_id
        self.service = stack.add(ecs.Service(
            logical_id,
            DependsOn=list(depends_on),
            ServiceName=name,
            Cluster=cluster.name,
            TaskDefinition=task_definition.arn,
            LaunchType="FARGATE",
            PlatformVersion="LATEST",
            DesiredCount=desired_count,
            DeploymentController=ecs.DeploymentController(Type="CODE_DEPLOY"),
            NetworkConfiguration=ecs.NetworkConfiguration(AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                AssignPublicIp="DISABLED", Subnets=subnets, SecurityGroups=[security_group],
            )),
            LoadBalancers=[ecs.LoadBalancer(
                ContainerName=task_definition.container_name, ContainerPort=task_definition.container_port,
                TargetGroupArn=target_group,
            )],
            HealthCheckGracePeriodSeconds=grace_period,
            PropagateTags="SERVICE",
            EnableECSManagedTags=True,
            EnableExecuteCommand=False,
        ))
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
