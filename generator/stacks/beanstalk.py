"""Elastic Beanstalk runtime: the shared application (``beanstalk-app``, tools) and one
load-balanced environment per target (``beanstalk-env``: dev, staging, prod).

The application lives in its own small stack in ``tools``: every environment stack
and the pipeline import its name, and neither may own it (the pipeline needs the
environments to exist first; environments must share one application so the
pipeline promotes one application version).
"""
from __future__ import annotations

from awacs import elasticbeanstalk as eb
from awacs.aws import StringEquals
from troposphere import Equals, GetAtt, If, Join, Not, Ref, Sub, elasticbeanstalk

from ..components.iam import InstanceProfile, Role, allow
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import LOG_RETENTION_DAYS, Stack
from . import foundation

#: A current Amazon Linux 2023 Python platform (see `aws elasticbeanstalk list-available-solution-stacks`).
DEFAULT_SOLUTION_STACK = "64bit Amazon Linux 2023 v4.5.2 running Python 3.12"
DEPLOYMENT_POLICIES = ["Immutable", "RollingWithAdditionalBatch"]
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def managed_policy(name: str) -> Sub:
    """An AWS managed policy by name, with its IAM path where it has one (``service-role/...``)."""
    return Sub("arn:${AWS::Partition}:iam::aws:policy/" + name)


class APP_EXPORTS(ExportSet):
    stack = "beanstalk-app"
    application_name = declare(stack, "ApplicationName", "Elastic Beanstalk application shared by the environments")


class EXPORTS(ExportSet):
    stack = "beanstalk-env"
    environment_name = declare(stack, "EnvironmentName", "Elastic Beanstalk environment name")
    endpoint = declare(stack, "EndpointHost", "Host name of the environment's load balancer")


class BeanstalkAppStack(Stack):
    name = "beanstalk-app"
    description = "Elastic Beanstalk application shared by the environments the pipeline deploys to"
    environments = ("tools",)
    requires = ()

    def create(self):
        self.versions_kept = self.parameter(
            "VersionsKept", "Lifecycle", "Application versions kept",
            Type="Number", Default=200, MinValue=10, MaxValue=1000,
            Description="Newest application versions kept; older ones are deleted (bundles stay in S3)",
        )
        name = "${ProjectName}-${EnvironmentName}-app"
        # The version lifecycle runs as this role: it may list and delete this application's versions only.
        lifecycle = Role(
            self, "LifecycleRole", "elasticbeanstalk.amazonaws.com", "app-lifecycle", source_account=False,
            trust_conditions={StringEquals: {"sts:ExternalId": "elasticbeanstalk"}},
            description="Elastic Beanstalk application version lifecycle",
        )
        lifecycle.grant(allow(
            [eb.DescribeApplicationVersions, eb.DeleteApplicationVersion],
            [naming.arn("elasticbeanstalk", "applicationversion/%s/*" % name)],
        ))
        self.application = self.add(elasticbeanstalk.Application(
            "Application", ApplicationName=Sub(name),
            Description=Sub("${ProjectName} web application"),
            ResourceLifecycleConfig=elasticbeanstalk.ApplicationResourceLifecycleConfig(
                ServiceRole=lifecycle.arn,
                VersionLifecycleConfig=elasticbeanstalk.ApplicationVersionLifecycleConfig(
                    MaxCountRule=elasticbeanstalk.MaxCountRule(
                        Enabled=True, MaxCount=Ref(self.versions_kept), DeleteSourceFromS3=False,
                    ),
                ),
            ),
        ))
        self.export(APP_EXPORTS.application_name, Ref(self.application))


class BeanstalkEnvStack(Stack):
    name = "beanstalk-env"
    description = "Elastic Beanstalk environment: load-balanced, enhanced health, managed updates, IMDSv2"
    environments = ("dev", "staging", "prod")
    requires = ("foundation", "tools:beanstalk-app")

    def create(self):
        self.create_parameters()
        self.create_roles()
        self.create_environment()
        self.export(EXPORTS.environment_name, Ref(self.env))
        self.export(EXPORTS.endpoint, GetAtt(self.env, "EndpointURL"))

    def create_parameters(self):
        p = self.parameter
        self.delivery_env = p(
            "DeliveryEnvironment", "Application", "Delivery environment",
            Type="String", Default="tools", AllowedPattern=naming.ENVIRONMENT_PATTERN,
            ConstraintDescription="an environment name (2-8 lower-case letters or digits)",
            Description="Environment whose beanstalk-app stack owns the application",
        )
        self.solution_stack = p(
            "SolutionStackName", "Platform", "Solution stack",
            Type="String", Default=DEFAULT_SOLUTION_STACK, AllowedPattern=r"^64bit Amazon Linux .+ running .+$",
            ConstraintDescription="a Beanstalk solution stack name such as " + DEFAULT_SOLUTION_STACK,
            Description="Platform by solution stack name (ignored when PlatformArn is set)",
        )
        self.platform_arn = p(
            "PlatformArn", "Platform", "Platform ARN",
            Type="String", Default="", AllowedPattern=r"^$|^arn:[a-z-]+:elasticbeanstalk:[a-z0-9-]+::platform/.+$",
            ConstraintDescription="empty, or a Beanstalk platform ARN",
            Description="Platform by ARN; empty to use SolutionStackName",
        )
        self.instance_type = p(
            "InstanceType", "Capacity", "Instance type",
            Type="String", Default="t3.small", AllowedPattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$",
            ConstraintDescription="an EC2 instance type such as t3.small", Description="EC2 instance type",
        )
        self.min_size = p("MinSize", "Capacity", "Minimum instances", Type="Number", Default=1, MinValue=1,
                          MaxValue=20, Description="Minimum instances in the Auto Scaling group")
        self.max_size = p("MaxSize", "Capacity", "Maximum instances", Type="Number", Default=2, MinValue=1,
                          MaxValue=40, Description="Maximum instances in the Auto Scaling group")
        self.deployment_policy = p(
            "DeploymentPolicy", "Deployment", "Deployment policy",
            Type="String", Default="Immutable", AllowedValues=DEPLOYMENT_POLICIES,
            Description="How new versions roll out; both keep full capacity and roll back on failure",
        )
        self.health_path = p(
            "HealthCheckPath", "Deployment", "Health check path",
            Type="String", Default="/health", AllowedPattern=r"^/[A-Za-z0-9/._-]*$",
            ConstraintDescription="a URL path starting with /", Description="Path the load balancer checks",
        )
        self.update_window = p(
            "ManagedUpdateWindow", "Deployment", "Managed update window",
            Type="String", Default="Sun:03:00", AllowedPattern=r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01][0-9]|2[0-3]):[0-5][0-9]$",
            ConstraintDescription="day:hour:minute in UTC, e.g. Sun:03:00",
            Description="Weekly start (UTC) of managed platform updates",
        )
        self.update_level = p(
            "ManagedUpdateLevel", "Deployment", "Managed update level",
            Type="String", Default="minor", AllowedValues=["minor", "patch"],
            Description="Highest platform version change applied automatically",
        )
        self.vpc = p("VpcId", "Network", "VPC", Type="AWS::EC2::VPC::Id", Description="VPC of the environment")
        self.instance_subnets = p(
            "InstanceSubnets", "Network", "Instance subnets", Type="List<AWS::EC2::Subnet::Id>",
            Description="Private subnets for the instances (two or more AZs)",
        )
        self.lb_subnets = p(
            "LoadBalancerSubnets", "Network", "Load balancer subnets", Type="List<AWS::EC2::Subnet::Id>",
            Description="Subnets for the load balancer (public for an internet-facing one)",
        )
        self.lb_scheme = p(
            "LoadBalancerScheme", "Network", "Load balancer scheme",
            Type="String", Default="public", AllowedValues=["public", "internal"],
            Description="public: internet-facing load balancer; internal: reachable inside the VPC only",
        )
        self.certificate = p(
            "CertificateArn", "Network", "HTTPS certificate",
            Type="String", Default="", AllowedPattern=r"^$|^arn:[a-z-]+:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$",
            ConstraintDescription="empty, or an ACM certificate ARN",
            Description="ACM certificate for an HTTPS listener on 443 (empty: HTTP on 80 only)",
        )
        self.log_retention = p(
            "LogRetentionDays", "Logging", "Log retention (days)",
            Type="Number", Default=30, AllowedValues=LOG_RETENTION_DAYS,
            Description="Days CloudWatch Logs keeps instance and health logs",
        )

    def create_roles(self):
        # AWS documents these managed policies as the way to give Beanstalk instances and the
        # Beanstalk service what they need (their contents track platform changes AWS makes);
        # nothing else is attached and no inline grant is added.
        self.instance_role = Role(
            self, "InstanceRole", "ec2.amazonaws.com", "web-instance", source_account=False,
            managed_policy_arns=[managed_policy("AWSElasticBeanstalkWebTier")],
            description="Elastic Beanstalk web-tier instances",
        )
        self.instance_profile = InstanceProfile(self, "InstanceProfile", self.instance_role)
        # Beanstalk documents sts:ExternalId "elasticbeanstalk" as its service role trust condition.
        self.service_role = Role(
            self, "ServiceRole", "elasticbeanstalk.amazonaws.com", "web-service", source_account=False,
            trust_conditions={StringEquals: {"sts:ExternalId": "elasticbeanstalk"}},
            managed_policy_arns=[managed_policy("service-role/AWSElasticBeanstalkEnhancedHealth"),
                                 managed_policy("AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy")],
            description="Elastic Beanstalk service: health reporting and managed updates",
        )

    def create_environment(self):
        by_name = self.condition("UseSolutionStackName", Equals(Ref(self.platform_arn), ""))
        options = {
            "aws:elasticbeanstalk:environment": {
                "EnvironmentType": "LoadBalanced", "LoadBalancerType": "application",
                "ServiceRole": self.service_role.arn,
            },
            "aws:elasticbeanstalk:environment:process:default": {
                "HealthCheckPath": Ref(self.health_path), "MatcherHTTPCode": "200",
            },
            "aws:elasticbeanstalk:application": {"Application Healthcheck URL": Ref(self.health_path)},
            "aws:elasticbeanstalk:healthreporting:system": {"SystemType": "enhanced"},
            "aws:elasticbeanstalk:managedactions": {
                "ManagedActionsEnabled": "true", "PreferredStartTime": Ref(self.update_window),
            },
            "aws:elasticbeanstalk:managedactions:platformupdate": {
                "UpdateLevel": Ref(self.update_level), "InstanceRefreshEnabled": "true",
            },
            "aws:elasticbeanstalk:command": {
                "DeploymentPolicy": Ref(self.deployment_policy), "BatchSizeType": "Percentage",
                "BatchSize": "50", "IgnoreHealthCheck": "false",
            },
            "aws:autoscaling:updatepolicy:rollingupdate": {
                "RollingUpdateEnabled": "true", "RollingUpdateType": "Health",
            },
            "aws:autoscaling:launchconfiguration": {
                "DisableIMDSv1": "true", "IamInstanceProfile": self.instance_profile.name,
            },
            "aws:ec2:instances": {"InstanceTypes": Ref(self.instance_type)},
            "aws:autoscaling:asg": {"MinSize": Ref(self.min_size), "MaxSize": Ref(self.max_size)},
            "aws:elasticbeanstalk:cloudwatch:logs": {
                "StreamLogs": "true", "RetentionInDays": Ref(self.log_retention), "DeleteOnTerminate": "false",
            },
            "aws:elasticbeanstalk:cloudwatch:logs:health": {
                "HealthStreamingEnabled": "true", "RetentionInDays": Ref(self.log_retention),
                "DeleteOnTerminate": "false",
            },
            "aws:elbv2:loadbalancer": {
                "AccessLogsS3Enabled": "true", "AccessLogsS3Bucket": foundation.EXPORTS.access_log_bucket.imported(),
                "AccessLogsS3Prefix": foundation.ALB_LOG_PREFIX,
            },
            "aws:ec2:vpc": {
                "VPCId": Ref(self.vpc), "Subnets": Join(",", Ref(self.instance_subnets)),
                "ELBSubnets": Join(",", Ref(self.lb_subnets)), "ELBScheme": Ref(self.lb_scheme),
                "AssociatePublicIpAddress": "false",
            },
        }
        self.env = self.add(elasticbeanstalk.Environment(
            "Environment",
            ApplicationName=APP_EXPORTS.application_name.imported("${DeliveryEnvironment}"),
            EnvironmentName=naming.physical_name("web"),
            Description=Sub("${ProjectName} ${EnvironmentName} web environment"),
            SolutionStackName=If(by_name, Ref(self.solution_stack), Ref("AWS::NoValue")),
            PlatformArn=If(by_name, Ref("AWS::NoValue"), Ref(self.platform_arn)),
            Tier=elasticbeanstalk.Tier(Name="WebServer", Type="Standard"),
            OptionSettings=[
                elasticbeanstalk.OptionSetting(Namespace=namespace, OptionName=name, Value=value)
                for namespace, settings in options.items() for name, value in settings.items()
            ] + self.https_listener(),
        ))

    def https_listener(self):
        """Listener 443 with TLS 1.2+ when a certificate is given (options left out otherwise)."""
        https = self.condition("HasCertificate", Not(Equals(Ref(self.certificate), "")))
        settings = {
            "ListenerEnabled": "true", "Protocol": "HTTPS",
            "SSLCertificateArns": Ref(self.certificate), "SSLPolicy": TLS_POLICY,
        }
        return [
            If(https, elasticbeanstalk.OptionSetting(Namespace="aws:elbv2:listener:443", OptionName=name, Value=value),
               Ref("AWS::NoValue"))
            for name, value in settings.items()
        ]
