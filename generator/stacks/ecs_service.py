"""``ecs-service`` (dev, staging, prod): the application on ECS Fargate behind an ALB, deployed blue/green by CodeDeploy.

Reads as the order traffic takes: security groups, load balancer, target groups and
listeners, then the cluster, task definition and service, scaling, alarms, and the
CodeDeploy deployment group that swaps the two target groups behind the listeners.
"""
from __future__ import annotations

from troposphere import Equals, If, Not, Ref, Sub

from ..components import alb, ecs
from ..components.alarms import target_5xx_alarm, unhealthy_hosts_alarm
from ..components.codedeploy import (
    ECS_DEPLOYMENT_CONFIGS, DeploymentGroupReference, EcsApplication, EcsBlueGreenDeploymentGroup, service_role,
)
from ..components.kms import KeyReference
from ..components.logs import EncryptedLogGroup
from ..components.s3 import BucketReference
from ..components.sns import TopicReference
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import LOG_RETENTION_DAYS, Stack
from ..core.suppress import Suppression, suppress
from . import ecr, foundation

APP_COMPONENT = "app"
TASK_ROLE_COMPONENT = "ecs-task"
CIDR_PATTERN = r"^(\d{1,3}\.){3}\d{1,3}/(\d|[12]\d|3[0-2])$"
CERTIFICATE_PATTERN = r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
TRUE_FALSE = ["true", "false"]
#: Settings the image build turns into ``taskdef.json`` for this environment (JSON text, one export).
DEPLOY_SPEC = (
    '{"family":"${Family}","executionRoleArn":"${ExecutionRoleArn}","taskRoleArn":"${TaskRoleArn}",'
    '"cpu":"${Cpu}","memory":"${Memory}","logGroup":"${LogGroup}","containerName":"${ContainerName}",'
    '"containerPort":${ContainerPort},"readonlyRootFilesystem":${Readonly}}'
)


class EXPORTS(ExportSet):
    stack = "ecs-service"
    cluster_name = declare(stack, "ClusterName", "ECS cluster name")
    service_name = declare(stack, "ServiceName", "ECS service name")
    application_name = declare(stack, "CodeDeployApplicationName", "CodeDeploy application (ECS)")
    deployment_group_name = declare(stack, "DeploymentGroupName", "CodeDeploy blue/green deployment group")
    task_family = declare(stack, "TaskDefinitionFamily", "Task definition family")
    execution_role_arn = declare(stack, "TaskExecutionRoleArn", "Task execution role (pass it when registering)")
    task_role_arn = declare(stack, "TaskRoleArn", "Task role (pass it when registering)")
    production_listener_arn = declare(stack, "ProductionListenerArn", "Production listener")
    test_listener_arn = declare(stack, "TestListenerArn", "Test listener (replacement tasks before the switch)")
    blue_target_group = declare(stack, "BlueTargetGroupName", "Blue target group")
    green_target_group = declare(stack, "GreenTargetGroupName", "Green target group")
    container_name = declare(stack, "ContainerName", "Container name in the task definition and appspec")
    container_port = declare(stack, "ContainerPort", "Container port in the task definition and appspec")
    log_group = declare(stack, "LogGroupName", "Container log group")
    service_url = declare(stack, "ServiceUrl", "URL of the production listener")
    test_url = declare(stack, "TestUrl", "URL of the test listener")
    deploy_spec = declare(stack, "DeploySpec", "Task settings (JSON) the image build writes into taskdef.json")


def deployment_group(env: str):
    """The deployment group of environment ``env`` as the ECS pipeline (tools) sees it."""
    return DeploymentGroupReference(EXPORTS.application_name.imported(env), EXPORTS.deployment_group_name.imported(env))


def task_definition(env: str):
    """The task definition family and roles of environment ``env`` (``grant_register()`` for the pipeline)."""
    return ecs.TaskDefinitionReference(EXPORTS.task_family.imported(env), EXPORTS.execution_role_arn.imported(env),
                                       EXPORTS.task_role_arn.imported(env))


def service(env: str):
    """The ECS service of environment ``env`` (``grant_rolling_deploy()`` for the rolling variant)."""
    return ecs.ServiceReference(EXPORTS.cluster_name.imported(env), EXPORTS.service_name.imported(env))


class EcsServiceStack(Stack):
    name = "ecs-service"
    description = "ECS Fargate service behind an ALB with CodeDeploy blue/green deployments, alarms and auto scaling"
    environments = ("dev", "staging", "prod")
    requires = ("foundation", "tools:ecr")

    def create(self):
        self.create_parameters()
        self.create_conditions()
        self.key = KeyReference(foundation.EXPORTS.key_arn.imported())
        self.topic = TopicReference(foundation.EXPORTS.notifications_topic.imported(), self.key)
        self.create_security_groups()
        self.create_load_balancer()
        self.create_cluster_and_task()
        self.create_service()
        self.create_alarms()
        self.create_deployment()
        self.create_outputs()

    # -- parameters ---------------------------------------------------------
    def create_parameters(self):
        p = self.parameter
        self.vpc = p("VpcId", "Network", "VPC", Type="AWS::EC2::VPC::Id",
                     Description="VPC of the load balancer and the tasks")
        self.task_subnets = p("TaskSubnetIds", "Network", "Private subnets (tasks)", Type="List<AWS::EC2::Subnet::Id>",
                              Description="Private subnets the tasks run in (no public IP; reach AWS via NAT or endpoints)")
        self.alb_subnets = p("LoadBalancerSubnetIds", "Network", "Load balancer subnets",
                             Type="List<AWS::EC2::Subnet::Id>",
                             Description="Subnets of the load balancer (public ones for an internet-facing scheme)")
        self.scheme = p("LoadBalancerScheme", "Load balancer", "Scheme", Type="String", Default="internal",
                        AllowedValues=["internal", "internet-facing"], Description="Load balancer scheme")
        self.ingress_cidr = p("AllowedIngressCidr", "Load balancer", "Allowed client CIDR", Type="String",
                              AllowedPattern=CIDR_PATTERN, ConstraintDescription="an IPv4 CIDR such as 10.0.0.0/8",
                              Description="Only this CIDR may reach the listener ports")
        self.test_cidr = p("TestListenerCidr", "Load balancer", "Test listener client CIDR", Type="String",
                           AllowedPattern=CIDR_PATTERN, ConstraintDescription="an IPv4 CIDR such as 10.0.0.0/8",
                           Description="Only this CIDR may reach the test listener (the release not yet live): "
                                       "keep it private even when the production listener is public")
        self.certificate = p("CertificateArn", "Load balancer", "ACM certificate ARN", Type="String", Default="",
                             AllowedPattern=CERTIFICATE_PATTERN,
                             ConstraintDescription="an ACM certificate ARN, or empty for HTTP listeners",
                             Description="HTTPS listeners with this certificate (and port 80 redirecting); empty: HTTP")
        self.test_port = p("TestListenerPort", "Load balancer", "Test listener port", Type="Number", Default=8443,
                           MinValue=1024, MaxValue=65535,
                           Description="Port of the test listener CodeDeploy routes to the replacement tasks")
        self.deletion_protection = p("DeletionProtection", "Load balancer", "Deletion protection", Type="String",
                                     Default="false", AllowedValues=TRUE_FALSE,
                                     Description="Load balancer deletion protection (true in prod)")
        self.image_tag = p("ImageTag", "Container", "Image tag", Type="String", AllowedPattern=IMAGE_TAG_PATTERN,
                           ConstraintDescription="a Docker tag: letters, digits, _ . - (max 128)",
                           Description="Tag in the tools ECR repository of the image the stack starts with; "
                                       "the pipeline deploys later images through CodeDeploy")
        self.container_name = p("ContainerName", "Container", "Container name", Type="String", Default="app",
                                AllowedPattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$",
                                ConstraintDescription="letters, digits, _ and -",
                                Description="Container name (task definition, appspec)")
        self.container_port = p("ContainerPort", "Container", "Container port", Type="Number", Default=8080,
                                MinValue=1024, MaxValue=65535,
                                Description="Port the application listens on (unprivileged: the image runs as non-root)")
        self.cpu = p("TaskCpu", "Container", "Task CPU units", Type="Number", Default=256,
                     AllowedValues=ecs.FARGATE_CPU, Description="Fargate CPU units (1024 = 1 vCPU)")
        self.memory = p("TaskMemory", "Container", "Task memory (MiB)", Type="Number", Default=512,
                        AllowedValues=ecs.FARGATE_MEMORY_VALUES,
                        Description="Fargate memory; must be valid for the CPU units (checked by the template rules)")
        self.readonly = p("ReadonlyRootFilesystem", "Container", "Read-only root filesystem", Type="String",
                          Default="true", AllowedValues=TRUE_FALSE,
                          Description="Read-only root filesystem (a writable /tmp volume is mounted); false only "
                                      "for applications that must write elsewhere")
        self.health_path = p("HealthCheckPath", "Container", "Health check path", Type="String", Default="/health",
                             AllowedPattern=r"^/[A-Za-z0-9._~/-]{0,1023}$",
                             ConstraintDescription="a path starting with /",
                             Description="HTTP path the target groups check")
        self.grace = p("HealthCheckGracePeriodSeconds", "Container", "Health check grace (seconds)", Type="Number",
                       Default=60, MinValue=0, MaxValue=3600,
                       Description="Seconds ECS ignores failing health checks of a new task")
        self.deregistration = p("DeregistrationDelaySeconds", "Container", "Deregistration delay (seconds)",
                                Type="Number", Default=30, MinValue=0, MaxValue=3600,
                                Description="Seconds a target group drains a task before removing it")
        self.log_retention = p("LogRetentionDays", "Container", "Container log retention (days)", Type="Number",
                               Default=30, AllowedValues=LOG_RETENTION_DAYS,
                               Description="Days CloudWatch Logs keeps container logs")
        self.desired = p("DesiredCount", "Scaling", "Desired tasks", Type="Number", Default=2, MinValue=1,
                         MaxValue=100, Description="Tasks the service starts with")
        self.min_capacity = p("MinCapacity", "Scaling", "Minimum tasks", Type="Number", Default=2, MinValue=1,
                              MaxValue=100, Description="Fewest tasks auto scaling keeps")
        self.max_capacity = p("MaxCapacity", "Scaling", "Maximum tasks", Type="Number", Default=4, MinValue=1,
                              MaxValue=100, Description="Most tasks auto scaling starts")
        self.cpu_target = p("CpuTargetPercent", "Scaling", "CPU target (%)", Type="Number", Default=60, MinValue=10,
                            MaxValue=90, Description="Average CPU utilisation auto scaling aims for")
        self.deployment_config = p("DeploymentConfigName", "Deployment", "Deployment configuration", Type="String",
                                   Default="CodeDeployDefault.ECSCanary10Percent5Minutes",
                                   AllowedValues=ECS_DEPLOYMENT_CONFIGS,
                                   Description="How CodeDeploy shifts traffic: canary, linear or all at once")
        self.termination_wait = p("TerminationWaitMinutes", "Deployment", "Old tasks kept (minutes)", Type="Number",
                                  Default=5, MinValue=0, MaxValue=2880,
                                  Description="Minutes the replaced (blue) tasks keep running after a successful "
                                              "deployment, for a fast manual rollback")
        self.alarm_5xx = p("Target5xxThreshold", "Alarms", "Target 5xx per minute", Type="Number", Default=5,
                           MinValue=1, MaxValue=100000,
                           Description="Target 5xx answers per minute that raise the alarm (and roll back)")
        self.alarm_periods = p("AlarmEvaluationMinutes", "Alarms", "Alarm evaluation (minutes)", Type="Number",
                               Default=2, MinValue=1, MaxValue=60,
                               Description="Consecutive breaching minutes before an alarm fires")

    def create_conditions(self):
        self.has_certificate = self.condition("HasCertificate", Not(Equals(Ref(self.certificate), "")))
        self.is_readonly = self.condition("ReadonlyRootFilesystemEnabled", Equals(Ref(self.readonly), "true"))
        ecs.fargate_size_rules(self, self.cpu, self.memory)

    # -- network and load balancer ------------------------------------------
    def create_security_groups(self):
        self.production_port = If(self.has_certificate, 443, 80)
        cidr = Ref(self.ingress_cidr)
        self.groups = alb.LoadBalancerSecurityGroups(
            self, Ref(self.vpc),
            [(self.production_port, cidr), (Ref(self.test_port), Ref(self.test_cidr)), (80, cidr, self.has_certificate)],
            Ref(self.container_port),
        )
        public = Suppression(
            "A public service's load balancer: with the internet-facing scheme and AllowedIngressCidr 0.0.0.0/0 "
            "(prod) only the production listener port (443, and 80 which only redirects to it) is open to the "
            "world; the test listener has its own private TestListenerCidr and the tasks accept the load balancer only",
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
            "Deletion protection is the DeletionProtection parameter: true in prod, false where stacks are torn down",
            checkov=("CKV_AWS_150",),
        ))
        suppress(self.load_balancer.load_balancer, Suppression(
            "The scheme is the LoadBalancerScheme parameter: internet-facing only where the service is public "
            "(prod), with HTTPS, dropped invalid headers and access logs",
            cfripper=("PublicELBCheckerRule",),
        ))
        target_groups = {}
        for colour in ("Blue", "Green"):
            target_groups[colour] = alb.IpTargetGroup(
                self, f"{colour}TargetGroup", vpc=Ref(self.vpc), port=Ref(self.container_port),
                health_check_path=Ref(self.health_path), deregistration_delay=Ref(self.deregistration),
            )
        self.blue, self.green = target_groups["Blue"], target_groups["Green"]
        self.production_listener = alb.Listener(
            self, "ProductionListener", load_balancer=self.load_balancer, port=self.production_port,
            has_certificate=self.has_certificate, certificate=Ref(self.certificate), target_group=self.blue,
        )
        self.test_listener = alb.Listener(
            self, "TestListener", load_balancer=self.load_balancer, port=Ref(self.test_port),
            has_certificate=self.has_certificate, certificate=Ref(self.certificate), target_group=self.blue,
        )
        for listener in (self.production_listener, self.test_listener):
            suppress(listener.listener, Suppression(
                "HTTPS with TLS 1.2+ whenever CertificateArn is set; plain HTTP only for stacks given no "
                "certificate (internal scheme, private CIDR), which the parameter files of prod do not do",
                checkov=("CKV_AWS_2", "CKV_AWS_103"),
            ))
        alb.http_to_https_redirect(self, "HttpRedirectListener", self.load_balancer, self.has_certificate)

    # -- compute --------------------------------------------------------------
    def create_cluster_and_task(self):
        self.cluster = ecs.Cluster(self, "Cluster", naming.physical_name(APP_COMPONENT))
        self.log_group = EncryptedLogGroup(
            self, "ContainerLogGroup", Sub("/ecs/${ProjectName}-${EnvironmentName}-%s" % APP_COMPONENT),
            self.key, Ref(self.log_retention),
        )
        self.execution_role, self.task_role = ecs.task_roles(self, ecr.EXECUTION_ROLE_COMPONENT, TASK_ROLE_COMPONENT)
        repository = ecr.repository("tools")
        self.execution_role.grant(repository.grant_pull())
        self.task = ecs.FargateTaskDefinition(
            self, "TaskDefinition", naming.physical_name(APP_COMPONENT),
            cpu=Ref(self.cpu), memory=Ref(self.memory),
            execution_role=self.execution_role, task_role=self.task_role,
            container_name=Ref(self.container_name), container_port=Ref(self.container_port),
            image=Sub("${Repository}:${ImageTag}", Repository=repository.uri),
            log_group=self.log_group, readonly=self.is_readonly,
        )

    def create_service(self):
        self.service = ecs.FargateService(
            self, "Service", naming.physical_name(APP_COMPONENT), cluster=self.cluster, task_definition=self.task,
            desired_count=Ref(self.desired), subnets=Ref(self.task_subnets), security_group=self.groups.tasks_id,
            target_group=self.blue.arn, grace_period=Ref(self.grace),
            # The listeners must forward to the target group, and the execution role must be able to pull
            # and log (its policies are separate resources), before the first tasks start.
            depends_on=[self.production_listener.listener.title, self.test_listener.listener.title,
                        self.execution_role.logical_id + "Policy", self.execution_role.logical_id + "UnscopedPolicy"],
        )
        self.service.autoscale_on_cpu(Ref(self.min_capacity), Ref(self.max_capacity), Ref(self.cpu_target))

    # -- deployment safety ----------------------------------------------------
    def create_alarms(self):
        periods = Ref(self.alarm_periods)
        self.alarms = [
            target_5xx_alarm(self, self.load_balancer, Ref(self.alarm_5xx), periods, self.topic),
            unhealthy_hosts_alarm(self, "BlueUnhealthyHostsAlarm", "blue-unhealthy-hosts", self.load_balancer,
                                  self.blue, periods, self.topic),
            unhealthy_hosts_alarm(self, "GreenUnhealthyHostsAlarm", "green-unhealthy-hosts", self.load_balancer,
                                  self.green, periods, self.topic),
        ]

    def create_deployment(self):
        name = "${ProjectName}-${EnvironmentName}-%s" % APP_COMPONENT
        self.application = EcsApplication(self, "CodeDeployApplication", Sub(name))
        self.deployment_group = EcsBlueGreenDeploymentGroup(
            self, "DeploymentGroup", Sub(name),
            application=self.application, role=service_role(self, name), service=self.service,
            production_listener=self.production_listener, test_listener=self.test_listener,
            blue=self.blue, green=self.green, deployment_config=Ref(self.deployment_config),
            termination_wait=Ref(self.termination_wait), alarms=self.alarms,
        )

    def create_outputs(self):
        dns = self.load_balancer.dns_name
        values = [
            (EXPORTS.cluster_name, self.cluster.name),
            (EXPORTS.service_name, self.service.service_name),
            (EXPORTS.application_name, self.application.name),
            (EXPORTS.deployment_group_name, self.deployment_group.deployment_group_name),
            (EXPORTS.task_family, self.task.family),
            (EXPORTS.execution_role_arn, self.execution_role.arn),
            (EXPORTS.task_role_arn, self.task_role.arn),
            (EXPORTS.production_listener_arn, self.production_listener.arn),
            (EXPORTS.test_listener_arn, self.test_listener.arn),
            (EXPORTS.blue_target_group, self.blue.name),
            (EXPORTS.green_target_group, self.green.name),
            (EXPORTS.container_name, Ref(self.container_name)),
            (EXPORTS.container_port, Ref(self.container_port)),
            (EXPORTS.log_group, self.log_group.name),
            (EXPORTS.service_url, If(self.has_certificate, Sub("https://${Dns}", Dns=dns), Sub("http://${Dns}", Dns=dns))),
            (EXPORTS.test_url, If(self.has_certificate, Sub("https://${Dns}:${TestListenerPort}", Dns=dns),
                                  Sub("http://${Dns}:${TestListenerPort}", Dns=dns))),
            (EXPORTS.deploy_spec, Sub(DEPLOY_SPEC, Family=self.task.family, ExecutionRoleArn=self.execution_role.arn,
                                      TaskRoleArn=self.task_role.arn, Cpu=Ref(self.cpu), Memory=Ref(self.memory),
                                      LogGroup=self.log_group.name, ContainerName=Ref(self.container_name),
                                      ContainerPort=Ref(self.container_port), Readonly=Ref(self.readonly))),
        ]
        for value, expression in values:
            self.export(value, expression)
