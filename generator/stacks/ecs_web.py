"""What both ECS service kinds share: a Fargate service behind an ALB with two target groups, in two
stacks per environment split along the natural seam between traffic and compute:

- the *ingress* stack (``ecs-ingress``, ``ecs-native-ingress``): security groups (load balancer,
  tasks, validation clients), the load balancer, the two target groups, the listeners and the
  port-80 redirect; it exports what the service stack and the pipeline's validation need;
- the *service* stack (``ecs-service``: CodeDeploy blue/green; ``ecs-native-service``: Amazon ECS's
  own blue/green or rolling deployments): cluster, log group, task roles and definition, the
  service, scaling, alarms and what shifts the traffic.

The two service kinds differ only in the deployment controller and in what shifts the traffic.
The split keeps each template far below CloudFormation's inline limit, and keeps what changes
rarely (network, listeners) apart from what each release tunes (task size, scaling, alarms).

The service never takes a value from a parameter that a stack update could change where ECS
forbids the change (see ``components/ecs.py`` and docs/ecs.md): the container's name and port
are constants here, the task definition is named by family and the desired count belongs to
Application Auto Scaling.
"""
from __future__ import annotations

from troposphere import Equals, If, Join, Not, Ref, Split, Sub

from ..components import alb, ecs
from ..components.alarms import target_5xx_alarm, unhealthy_hosts_alarm
from ..components.kms import KeyReference
from ..components.logs import EncryptedLogGroup
from ..components.s3 import BucketReference
from ..components.sns import TopicReference
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import LOG_RETENTION_DAYS, Stack
from ..core.suppress import Suppression, suppress
from . import ecr, foundation

TASK_ROLE_COMPONENT = "task"
#: The container's name and port: constants, because the service's ``LoadBalancers`` repeat them
#: and a CODE_DEPLOY service cannot be updated (the declarative model will make them model values).
CONTAINER_NAME = "app"
CONTAINER_PORT = 8080
CIDR_PATTERN = r"^(\d{1,3}\.){3}\d{1,3}/(\d|[12]\d|3[0-2])$"
CERTIFICATE_PATTERN = r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
HOST_NAME_PATTERN = r"^$|^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
TRUE_FALSE = ["true", "false"]
#: Task counts auto scaling accepts; bounded so the template ``Rules`` can check MinCapacity <= MaxCapacity.
MIN_CAPACITY = [1, 2, 3, 4, 5, 6, 8, 10]
MAX_CAPACITY = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 30, 40, 50]
#: Settings the image build turns into ``taskdef.json`` for this environment (JSON text, one export).
DEPLOY_SPEC = (
    '{"family":"${Family}","executionRoleArn":"${ExecutionRoleArn}","taskRoleArn":"${TaskRoleArn}",'
    '"cpu":"${Cpu}","memory":"${Memory}","logGroup":"${LogGroup}","containerName":"%s",'
    '"containerPort":%d,"readonlyRootFilesystem":${Readonly}}' % (CONTAINER_NAME, CONTAINER_PORT)
)

#: Exports every service stack declares (key, description), in output order.
COMMON_EXPORTS = [
    ("cluster_name", "ClusterName", "ECS cluster name"),
    ("service_name", "ServiceName", "ECS service name"),
    ("task_family", "TaskDefinitionFamily", "Task definition family"),
    ("execution_role_arn", "TaskExecutionRoleArn", "Task execution role"),
    ("task_role_arn", "TaskRoleArn", "Task role"),
    ("container_name", "ContainerName", "Container name"),
    ("container_port", "ContainerPort", "Container port"),
    ("log_group", "LogGroupName", "Container log group"),
    ("deploy_spec", "DeploySpec", "Task settings (JSON) for taskdef.json"),
]
#: Exports every ingress stack declares: the pipeline's validation contract (``delivery.TARGET_EXPORT_KEYS``)
#: and what its service stack needs.
INGRESS_EXPORTS = [
    ("vpc_id", "VpcId", "VPC of the service"),
    ("validation_subnets", "ValidationSubnetIds", "Subnets for validation clients"),
    ("validation_security_group", "ValidationSecurityGroupId", "Security group for validation clients"),
    ("service_url", "ServiceUrl", "URL validation calls"),
    ("test_url", "TestUrl", "URL of the test listener"),
    ("task_subnets", "TaskSubnetIds", "Private subnets of the tasks (comma-joined)"),
    ("task_security_group", "TaskSecurityGroupId", "Security group of the tasks"),
    ("load_balancer_arn", "LoadBalancerArn", "Load balancer ARN"),
    ("load_balancer_full_name", "LoadBalancerFullName", "Load balancer full name (metrics)"),
    ("load_balancer_dns", "LoadBalancerDnsName", "Load balancer DNS name"),
    ("production_listener_arn", "ProductionListenerArn", "Production listener"),
    ("test_listener_arn", "TestListenerArn", "Test listener (the new revision before the switch)"),
    ("blue_target_group_arn", "BlueTargetGroupArn", "Blue target group ARN"),
    ("blue_target_group", "BlueTargetGroupName", "Blue target group"),
    ("blue_target_group_full_name", "BlueTargetGroupFullName", "Blue target group full name (metrics)"),
    ("green_target_group_arn", "GreenTargetGroupArn", "Green target group ARN"),
    ("green_target_group", "GreenTargetGroupName", "Green target group"),
    ("green_target_group_full_name", "GreenTargetGroupFullName", "Green target group full name (metrics)"),
]


def export_set(stack: str, *extra, common=COMMON_EXPORTS) -> type:
    """An ``ExportSet`` for ``stack`` with ``common`` and ``extra`` ``(attr, key, description)``."""
    values = {attr: declare(stack, key, description) for attr, key, description in list(common) + list(extra)}
    return type("EXPORTS", (ExportSet,), {"stack": stack, **values})


def ingress_export_set(stack: str) -> type:
    return export_set(stack, common=INGRESS_EXPORTS)


def references(exports: type):
    """``task_definition(env)`` and ``service(env)`` of a service stack, as a pipeline (tools) sees them:
    the family and roles (``grant_register()``) and the service (``grant_rolling_deploy()``)."""

    def task_definition(env: str) -> ecs.TaskDefinitionReference:
        return ecs.TaskDefinitionReference(exports.task_family.imported(env), exports.execution_role_arn.imported(env),
                                           exports.task_role_arn.imported(env))

    def service(env: str) -> ecs.ServiceReference:
        return ecs.ServiceReference(exports.cluster_name.imported(env), exports.service_name.imported(env))

    return task_definition, service


class IngressStack(Stack):
    """The traffic side of one service: security groups, load balancer, target groups, listeners.

    Subclasses set ``name`` and ``EXPORTS`` (:func:`ingress_export_set`)."""

    EXPORTS: type = ExportSet

    def create(self):
        self.create_parameters()
        self.has_certificate = self.condition("HasCertificate", Not(Equals(Ref(self.certificate), "")))
        self.create_rules()
        self.create_security_groups()
        self.create_load_balancer()
        self.create_outputs()

    def create_parameters(self):
        p = self.parameter
        cidr = dict(Type="String", AllowedPattern=CIDR_PATTERN, ConstraintDescription="an IPv4 CIDR such as 10.0.0.0/8")
        self.vpc = p("VpcId", "Network", "VPC", Type="AWS::EC2::VPC::Id",
                     Description="VPC of the service")
        self.task_subnets = p("PrivateSubnetIds", "Network", "Private subnets (tasks)", Type="List<AWS::EC2::Subnet::Id>",
                              Description="Private subnets of the tasks and validation clients")
        self.alb_subnets = p("LoadBalancerSubnetIds", "Network", "Load balancer subnets",
                             Type="List<AWS::EC2::Subnet::Id>",
                             Description="Load balancer subnets (public if internet-facing)")
        self.scheme = p("LoadBalancerScheme", "Load balancer", "Scheme", Type="String", Default="internal",
                        AllowedValues=["internal", "internet-facing"],
                        Description="internet-facing requires CertificateArn")
        self.ingress_cidr = p("AllowedIngressCidr", "Load balancer", "Allowed client CIDR", **cidr,
                              Description="Clients of the listener ports")
        self.test_cidr = p("TestListenerCidr", "Load balancer", "Test listener client CIDR", **cidr,
                           Description="Clients of the test listener (keep private)")
        self.certificate = p("CertificateArn", "Load balancer", "ACM certificate ARN", Type="String", Default="",
                             AllowedPattern=CERTIFICATE_PATTERN,
                             ConstraintDescription="an ACM certificate ARN or empty",
                             Description="HTTPS with this certificate (80 redirects); empty: HTTP")
        self.host_name = p("ServiceHostName", "Load balancer", "Service host name", Type="String", Default="",
                           AllowedPattern=HOST_NAME_PATTERN, ConstraintDescription="a DNS name, or empty",
                           Description="DNS name the certificate covers (required with one)")
        self.test_port = p("TestListenerPort", "Load balancer", "Test listener port", Type="Number", Default=8443,
                           MinValue=1024, MaxValue=65535, Description="Test listener port")
        self.deletion_protection = p("DeletionProtection", "Load balancer", "Deletion protection", Type="String",
                                     Default="false", AllowedValues=TRUE_FALSE,
                                     Description="true in prod")
        self.health_path = p("HealthCheckPath", "Target groups", "Health check path", Type="String", Default="/health",
                             AllowedPattern=r"^/[A-Za-z0-9._~/-]{0,1023}$", ConstraintDescription="a path starting with /",
                             Description="Target group health check path")
        self.deregistration = p("DeregistrationDelaySeconds", "Target groups", "Deregistration delay (seconds)",
                                Type="Number", Default=30, MinValue=0, MaxValue=3600,
                                Description="Draining seconds")

    def create_rules(self):
        """Template ``Rules``: CloudFormation refuses these parameter sets before it changes anything."""
        rule = self.template.add_rule
        not_empty = {"Fn::Not": [{"Fn::Equals": [Ref(self.certificate), ""]}]}
        rule("PublicLoadBalancerHasCertificate", {
            "RuleCondition": {"Fn::Equals": [Ref(self.scheme), "internet-facing"]},
            "Assertions": [{"Assert": not_empty,
                            "AssertDescription": "An internet-facing load balancer listens with HTTPS: set CertificateArn"}],
        })
        rule("CertificateHasHostName", {
            "RuleCondition": not_empty,
            "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Equals": [Ref(self.host_name), ""]}]},
                            "AssertDescription": "With a certificate, set ServiceHostName (the name it covers)"}],
        })

    def create_security_groups(self):
        self.production_port = If(self.has_certificate, 443, 80)
        cidr = Ref(self.ingress_cidr)
        self.groups = alb.LoadBalancerSecurityGroups(
            self, Ref(self.vpc),
            [(self.production_port, cidr), (Ref(self.test_port), Ref(self.test_cidr)), (80, cidr, self.has_certificate)],
            CONTAINER_PORT,
        )
        self.validation = alb.ValidationSecurityGroup(self, Ref(self.vpc), self.groups,
                                                      [self.production_port, Ref(self.test_port)])
        public = Suppression(
            "Public load balancer (prod): only 443 and 80 (redirect) are open to the world; the test listener "
            "has a private CIDR",
            cfripper=("EC2SecurityGroupOpenToWorldRule", "EC2SecurityGroupIngressOpenToWorldRule"),
        )
        for group in [self.groups.alb] + self.groups.conditional_ingress:
            suppress(group, public)

    def create_load_balancer(self):
        self.load_balancer = alb.LoadBalancer(
            self, "LoadBalancer", scheme=Ref(self.scheme), subnets=Ref(self.alb_subnets),
            security_group=self.groups.alb_id,
            access_logs=BucketReference(foundation.EXPORTS.access_log_bucket.imported()),
            deletion_protection=Ref(self.deletion_protection),
        )
        suppress(self.load_balancer.load_balancer, Suppression(
            "Internet-facing only where public (prod), then Rules require a certificate",
            cfripper=("PublicELBCheckerRule",),
        ))
        self.blue, self.green = [
            alb.IpTargetGroup(self, f"{colour}TargetGroup", vpc=Ref(self.vpc), port=CONTAINER_PORT,
                              health_check_path=Ref(self.health_path), deregistration_delay=Ref(self.deregistration))
            for colour in ("Blue", "Green")
        ]
        self.production_listener, self.test_listener = [
            alb.Listener(self, name, load_balancer=self.load_balancer, port=port, has_certificate=self.has_certificate,
                         certificate=Ref(self.certificate), target_group=self.blue)
            for name, port in (("ProductionListener", self.production_port), ("TestListener", Ref(self.test_port)))
        ]
        for listener in (self.production_listener, self.test_listener):
            suppress(listener.listener, Suppression(
                "HTTPS (TLS 1.2+) with a certificate, which Rules require when internet-facing",
                checkov=("CKV_AWS_2", "CKV_AWS_103"),
            ))
        alb.http_to_https_redirect(self, "HttpRedirectListener", self.load_balancer, self.has_certificate)

    def create_outputs(self):
        x = self.EXPORTS
        host = If(self.has_certificate, Sub("https://${ServiceHostName}"),
                  Sub("http://${Dns}", Dns=self.load_balancer.dns_name))
        values = [
            (x.vpc_id, Ref(self.vpc)),
            (x.validation_subnets, Join(",", Ref(self.task_subnets))),
            (x.validation_security_group, self.validation.id),
            (x.service_url, host),
            (x.test_url, Join("", [host, Sub(":${TestListenerPort}")])),
            (x.task_subnets, Join(",", Ref(self.task_subnets))),
            (x.task_security_group, self.groups.tasks_id),
            (x.load_balancer_arn, self.load_balancer.arn),
            (x.load_balancer_full_name, self.load_balancer.full_name),
            (x.load_balancer_dns, self.load_balancer.dns_name),
            (x.production_listener_arn, self.production_listener.arn),
            (x.test_listener_arn, self.test_listener.arn),
            (x.blue_target_group_arn, self.blue.arn),
            (x.blue_target_group, self.blue.name),
            (x.blue_target_group_full_name, self.blue.full_name),
            (x.green_target_group_arn, self.green.arn),
            (x.green_target_group, self.green.name),
            (x.green_target_group_full_name, self.green.full_name),
        ]
        for value, expression in values:
            self.export(value, expression)


class LoadBalancedFargateStack(Stack):
    """Base of the two service stacks; subclasses add ``create_deployment_parameters``,
    ``create_service`` and ``create_deployment`` and set ``EXPORTS`` and ``INGRESS`` (their ingress
    stack's export set: listeners, target groups, the tasks' subnets and group)."""

    EXPORTS: type = ExportSet
    INGRESS: type = ExportSet

    @classmethod
    def model_values(cls, env: str) -> dict:
        from .bootstrap import tools_values  # ToolsAccountId / ToolsRegion of the image repository

        return tools_values(cls.model)

    @property
    def component(self) -> str:
        """Physical names are ``{project}-{env}-{application}...``: the service stacks of two
        applications in one environment never collide (cluster, service, family, log group, roles, alarms)."""
        return self.app.name

    def create(self):
        self.create_parameters()
        self.create_deployment_parameters()
        self.create_conditions()
        self.create_rules()
        self.key = KeyReference(foundation.EXPORTS.key_arn.imported())
        self.topic = TopicReference(foundation.EXPORTS.notifications_topic.imported(), self.key)
        self.create_ingress_references()
        self.create_cluster_and_task()
        self.create_service()
        self.service.autoscale_on_cpu(Ref(self.min_capacity), Ref(self.max_capacity), Ref(self.cpu_target))
        self.create_alarms()
        self.create_deployment()
        self.create_outputs()

    # -- parameters ---------------------------------------------------------
    def create_parameters(self):
        p = self.parameter
        self.image_tag = p("ImageTag", "Container", "Image tag", Type="String", Default="bootstrap",
                           AllowedPattern=IMAGE_TAG_PATTERN,
                           ConstraintDescription="a Docker tag: letters, digits, _ . - (max 128)",
                           Description="Image tag (tools ECR) the stack starts with")
        self.cpu = p("TaskCpu", "Container", "Task CPU units", Type="Number", Default=256,
                     AllowedValues=ecs.FARGATE_CPU, Description="1024 = 1 vCPU")
        self.memory = p("TaskMemory", "Container", "Task memory (MiB)", Type="Number", Default=512,
                        MinValue=min(ecs.FARGATE_MEMORY_VALUES), MaxValue=max(ecs.FARGATE_MEMORY_VALUES),
                        Description="Valid for TaskCpu (the Rules check)")
        self.readonly = p("ReadonlyRootFilesystem", "Container", "Read-only root filesystem", Type="String",
                          Default="true", AllowedValues=TRUE_FALSE,
                          Description="A writable /tmp is mounted")
        self.log_retention = p("LogRetentionDays", "Container", "Container log retention (days)", Type="Number",
                               Default=30, AllowedValues=LOG_RETENTION_DAYS,
                               Description="Container log retention")
        self.min_capacity = p("MinCapacity", "Scaling", "Minimum tasks", Type="Number", Default=2,
                              AllowedValues=MIN_CAPACITY, Description="Fewest tasks")
        self.max_capacity = p("MaxCapacity", "Scaling", "Maximum tasks", Type="Number", Default=4,
                              AllowedValues=MAX_CAPACITY, Description="Most tasks (>= MinCapacity)")
        self.cpu_target = p("CpuTargetPercent", "Scaling", "CPU target (%)", Type="Number", Default=60, MinValue=10,
                            MaxValue=90, Description="Average CPU auto scaling aims for")
        self.alarm_5xx = p("Target5xxThreshold", "Alarms", "Target 5xx per minute", Type="Number", Default=5,
                           MinValue=1, MaxValue=100000,
                           Description="5xx per minute that roll back")
        self.alarm_periods = p("AlarmEvaluationMinutes", "Alarms", "Alarm evaluation (minutes)", Type="Number",
                               Default=2, MinValue=1, MaxValue=60,
                               Description="Breaching minutes before an alarm")

    def create_deployment_parameters(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def create_conditions(self):
        self.is_readonly = self.condition("ReadonlyRootFilesystemEnabled", Equals(Ref(self.readonly), "true"))

    def create_rules(self):
        """Template ``Rules``: CloudFormation refuses these parameter sets before it changes anything."""
        rule = self.template.add_rule
        ecs.fargate_size_rules(self, self.cpu, self.memory)
        # Rules compare no numbers: one rule per MinCapacity value lists the MaxCapacity values below it.
        for low in MIN_CAPACITY:
            below = [str(v) for v in MAX_CAPACITY if v < low]
            if below:
                rule(f"MaxCapacityAtLeast{low}", {
                    "RuleCondition": {"Fn::Equals": [Ref(self.min_capacity), str(low)]},
                    "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Contains": [below, Ref(self.max_capacity)]}]},
                                    "AssertDescription": f"MaxCapacity < MinCapacity ({low})"}],
                })

    # -- the ingress stack's load balancer, as this stack sees it ------------
    def create_ingress_references(self):
        x = self.INGRESS
        self.load_balancer = alb.LoadBalancerReference(x.load_balancer_arn.imported(),
                                                       x.load_balancer_full_name.imported(),
                                                       x.load_balancer_dns.imported())
        self.blue = alb.TargetGroupReference(x.blue_target_group_arn.imported(), x.blue_target_group.imported(),
                                             x.blue_target_group_full_name.imported())
        self.green = alb.TargetGroupReference(x.green_target_group_arn.imported(), x.green_target_group.imported(),
                                              x.green_target_group_full_name.imported())
        self.production_listener = alb.ListenerReference(x.production_listener_arn.imported())
        self.test_listener = alb.ListenerReference(x.test_listener_arn.imported())
        self.task_subnets = Split(",", x.task_subnets.imported())
        self.tasks_security_group = x.task_security_group.imported()

    # -- compute --------------------------------------------------------------
    def create_cluster_and_task(self):
        self.cluster = ecs.Cluster(self, "Cluster", naming.physical_name(self.component))
        self.log_group = EncryptedLogGroup(
            self, "ContainerLogGroup", Sub("/ecs/${ProjectName}-${EnvironmentName}-%s" % self.component),
            self.key, Ref(self.log_retention),
        )
        self.execution_role, self.task_role = ecs.task_roles(
            self, ecr.execution_role_component(self.app.name), f"{self.app.name}-{TASK_ROLE_COMPONENT}")
        # An environment in another account or Region cannot import the repository: by name (ecr.named_repository).
        repository = (ecr.named_repository(self, self.app.name) if ecr.away(self.model, self.app.name)
                      else ecr.repository(self.app.name, self.model.tools))
        self.execution_role.grant(repository.grant_pull())
        self.task = ecs.FargateTaskDefinition(
            self, "TaskDefinition", naming.physical_name(self.component),
            cpu=Ref(self.cpu), memory=Ref(self.memory),
            execution_role=self.execution_role, task_role=self.task_role,
            container_name=CONTAINER_NAME, container_port=CONTAINER_PORT,
            image=Sub("${Repository}:${ImageTag}", Repository=repository.uri),
            log_group=self.log_group, readonly=self.is_readonly,
        )

    def fargate_service(self, controller, load_balancers, grace_period, deployment_configuration=None, depends_on=()):
        """The service in the task subnets with the tasks' group (the ingress stack, deployed first, holds
        the listeners that must forward before tasks register); it waits for the execution role's
        policies (pull and log at start)."""
        return ecs.FargateService(
            self, "Service", naming.physical_name(self.component), cluster=self.cluster, task_definition=self.task,
            subnets=self.task_subnets, security_group=self.tasks_security_group, load_balancers=load_balancers,
            grace_period=grace_period, controller=controller, deployment_configuration=deployment_configuration,
            depends_on=[self.execution_role.logical_id + "Policy", self.execution_role.logical_id + "UnscopedPolicy",
                        *depends_on],
        )

    # -- deployment safety ----------------------------------------------------
    def create_alarms(self):
        periods = Ref(self.alarm_periods)
        prefix = self.component + "-"
        self.alarms = [
            target_5xx_alarm(self, self.load_balancer, Ref(self.alarm_5xx), periods, self.topic, prefix=prefix),
            unhealthy_hosts_alarm(self, "BlueUnhealthyHostsAlarm", prefix + "blue-unhealthy-hosts",
                                  self.load_balancer, self.blue, periods, self.topic),
            unhealthy_hosts_alarm(self, "GreenUnhealthyHostsAlarm", prefix + "green-unhealthy-hosts",
                                  self.load_balancer, self.green, periods, self.topic),
        ]

    # -- outputs -------------------------------------------------------------
    def common_outputs(self):
        x = self.EXPORTS
        return [
            (x.cluster_name, self.cluster.name),
            (x.service_name, self.service.service_name),
            (x.task_family, self.task.family),
            (x.execution_role_arn, self.execution_role.arn),
            (x.task_role_arn, self.task_role.arn),
            (x.container_name, CONTAINER_NAME),
            (x.container_port, str(CONTAINER_PORT)),
            (x.log_group, self.log_group.name),
            (x.deploy_spec, Sub(DEPLOY_SPEC, Family=self.task.family, ExecutionRoleArn=self.execution_role.arn,
                                TaskRoleArn=self.task_role.arn, Cpu=Ref(self.cpu), Memory=Ref(self.memory),
                                LogGroup=self.log_group.name, Readonly=Ref(self.readonly))),
        ]

    def create_outputs(self):
        for value, expression in self.common_outputs() + self.deployment_outputs():
            self.export(value, expression)

    def deployment_outputs(self):
        return []
