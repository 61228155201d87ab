"""Elastic Beanstalk runtime: the shared application (``beanstalk-app``, tools) and one
load-balanced environment per target (``beanstalk-env``: dev, staging, prod), whose roles live in
``beanstalk-env-roles`` (``stacks/beanstalk_roles.py``).

The application lives in its own small stack in ``tools``: every environment stack
and the pipeline import its name, and neither may own it (the pipeline needs the
environments to exist first; environments must share one application so the
pipeline promotes one application version).

An application and its environments are of one account and Region (an environment names its application,
``CreateEnvironment``'s ``ApplicationName``, in the caller's account and Region:
https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_CreateEnvironment.html). An environment in another
account or Region than tools (an away wave, ``components.placement``) therefore gets its own ``beanstalk-app``
stack, in that environment: its stacks import the application from there (``DeliveryEnvironment`` is that
environment in their parameter files, ``application_environment``), and the tools pipeline names it by its
physical name (``named``). The pipeline still promotes one artifact: each such account gets its own
application version of the same bundle.
"""
from __future__ import annotations

from awacs import elasticbeanstalk as eb
from awacs.aws import StringEquals
from troposphere import Equals, GetAtt, If, Join, Not, Ref, Sub, ec2, elasticbeanstalk

from ..components import beanstalk as components
from ..components import placement
from ..components.alb import VALIDATION_EGRESS
from ..components.iam import Role, allow
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import LOG_RETENTION_DAYS, Stack
from ..core.suppress import suppress
from . import foundation
from .beanstalk_roles import INSTANCE_ROLE, ROLES_EXPORTS, SERVICE_ROLE

#: The platform is chosen by ARN only, and has no default: a default would name a platform version that
#: Beanstalk retires, and changing ``SolutionStackName`` replaces the environment (it is a create-only
#: property in the resource schema), which fails for an environment with a fixed name. ``PlatformArn``
#: updates in place. List current ARNs with the command in docs/beanstalk.md.
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticbeanstalk-environment.html
PLATFORM_ARN_PATTERN = r"^arn:aws[a-z-]*:elasticbeanstalk:[a-z0-9-]+::platform/[^/]+/[0-9]+\.[0-9]+\.[0-9]+$"
PLATFORM_EXAMPLE = "arn:<partition>:elasticbeanstalk:<region>::platform/Python 3.12 running on 64bit Amazon Linux 2023/4.5.2"
MAX_MIN_SIZE = 20
MAX_MAX_SIZE = 40
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
    vpc_id = declare(stack, "VpcId", "VPC of the environment")
    validation_subnets = declare(stack, "ValidationSubnetIds", "Private subnets (comma-joined) a validation client can run in")
    validation_security_group = declare(stack, "ValidationSecurityGroupId",
                                        "Security group for validation clients (egress 80/443 to the VPC)")
    service_url = declare(stack, "ServiceUrl", "URL validation calls: https://<ServiceHostName> with a certificate, "
                                               "else http://<load balancer>")


def application_environment(model, env: str) -> str:
    """The environment whose ``beanstalk-app`` stack holds the application of ``env``'s Beanstalk environment:
    ``env`` itself when it is in another account or Region than tools, else tools."""
    return env if placement.placement(model, env).away else model.tools


def application_environments(model, app) -> list:
    """Where ``app``'s ``beanstalk-app`` stack is deployed: tools, and each of its runtime environments in
    another account or Region (model order)."""
    return [env for env in model.environment_names
            if env == model.tools or (env in app.runtime_environments and application_environment(model, env) == env)]


def delivery_environment(stack):
    """The ``DeliveryEnvironment`` parameter of a stack that imports the application's name: the environment
    whose ``beanstalk-app`` stack owns it (``application_environment``; the parameter files carry it)."""
    if "DeliveryEnvironment" in stack.template.parameters:
        return stack.template.parameters["DeliveryEnvironment"]
    return stack.parameter(
        "DeliveryEnvironment", "Application", "Delivery environment",
        Type="String", Default=stack.model.tools, AllowedPattern=naming.ENVIRONMENT_PATTERN,
        ConstraintDescription="an environment name (2-8 lower-case letters or digits)",
        Description="Environment whose beanstalk-app stack owns the application",
    )


def delivery_environment_value(model, env: str) -> dict:
    """The ``DeliveryEnvironment`` value of an application-importing stack in ``env`` when it is not tools
    (``paramgen`` gives tools to every stack that declares the parameter)."""
    from ..model import Value

    home = application_environment(model, env)
    if home == model.tools:
        return {}
    where = placement.placement(model, env)
    origin = (where.account_origin if where.cross_account else where.region_origin) or f"{model.path}: {env}"
    return {"DeliveryEnvironment": Value(home, origin)}


def named(application: str, env: str) -> tuple:
    """``(application name, environment name, instance role ARN, service role ARN)`` of ``application`` in
    ``env`` by their physical names (``BeanstalkAppStack`` and ``BeanstalkEnvStack``: ``{project}-{env}-<app>``;
    ``beanstalk_roles``: ``-instance`` / ``-service``), for an environment in another account or Region whose
    exports the tools stacks cannot import. ``env``: ``Fn::Sub`` text (a name, or the bootstrap's
    ``${EnvironmentName}``); ``application``: a name, or ``*`` for every application of the kind. The ARNs are
    of the account of the stack using them (the wave's bootstrap stack)."""
    name = Sub("${ProjectName}-%s-%s" % (env, application))

    def role(component):
        return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-%s-%s-%s"
                   % (env, application, component))

    return name, name, role(INSTANCE_ROLE), role(SERVICE_ROLE)


def environment_deploy_grants(app_exports, env_exports, roles_exports, env: str) -> list:
    """The CodePipeline ElasticBeanstalk deploy action's grants for the environment ``env`` (a wave),
    as seen from the pipeline stack in ``tools`` (names and roles from the application's exports:
    ``APP_EXPORTS``/``EXPORTS``/``ROLES_EXPORTS`` for its stacks)."""
    return components.deploy_grants(
        app_exports.application_name.imported(), env_exports.environment_name.imported(env),
        instance_role_arn=roles_exports.instance_role_arn.imported(env),
        service_role_arn=roles_exports.service_role_arn.imported(env),
    )


class BeanstalkAppStack(Stack):
    name = "beanstalk-app"
    description = "Elastic Beanstalk application shared by the environments the pipeline deploys to"
    EXPORTS = APP_EXPORTS

    def create(self):
        self.versions_kept = self.parameter(
            "VersionsKept", "Lifecycle", "Application versions kept",
            Type="Number", Default=200, MinValue=10, MaxValue=1000,
            Description="Newest application versions kept; older ones are deleted (bundles stay in S3)",
        )
        name = "${ProjectName}-${EnvironmentName}-%s" % self.app.name
        # The version lifecycle runs as this role: it may list and delete this application's versions only.
        lifecycle = Role(
            self, "LifecycleRole", "elasticbeanstalk.amazonaws.com", f"{self.app.name}-lifecycle", source_account=False,
            trust_conditions={StringEquals: {"sts:ExternalId": "elasticbeanstalk"}},
            description="Elastic Beanstalk application version lifecycle",
        )
        lifecycle.grant(allow(
            [eb.DescribeApplicationVersions, eb.DeleteApplicationVersion],
            [naming.arn("elasticbeanstalk", "applicationversion/%s/*" % name)],
        ))
        self.application = self.add(elasticbeanstalk.Application(
            "Application", ApplicationName=Sub(name),
            Description=Sub("${ProjectName} %s application" % self.app.name),
            ResourceLifecycleConfig=elasticbeanstalk.ApplicationResourceLifecycleConfig(
                ServiceRole=lifecycle.arn,
                VersionLifecycleConfig=elasticbeanstalk.ApplicationVersionLifecycleConfig(
                    MaxCountRule=elasticbeanstalk.MaxCountRule(
                        Enabled=True, MaxCount=Ref(self.versions_kept), DeleteSourceFromS3=False,
                    ),
                ),
            ),
        ))
        self.export(self.EXPORTS.application_name, Ref(self.application))


class BeanstalkEnvStack(Stack):
    name = "beanstalk-env"
    description = "Elastic Beanstalk environment: load-balanced, enhanced health, managed updates, IMDSv2"
    EXPORTS = EXPORTS
    APP_EXPORTS = APP_EXPORTS
    ROLES_EXPORTS = ROLES_EXPORTS

    @classmethod
    def model_values(cls, env: str) -> dict:
        return delivery_environment_value(cls.model, env)

    def create(self):
        self.create_parameters()
        self.create_rules()
        self.create_validation_group()
        self.create_environment()
        self.create_exports()

    def create_parameters(self):
        p = self.parameter
        self.delivery_env = delivery_environment(self)
        self.platform_arn = p(
            "PlatformArn", "Platform", "Platform ARN",
            Type="String", AllowedPattern=PLATFORM_ARN_PATTERN,
            ConstraintDescription="a Beanstalk platform version ARN such as " + PLATFORM_EXAMPLE
                                  + " (list current ones: see docs/beanstalk.md)",
            Description="Platform version by ARN (changes update the environment in place); "
                        "aws elasticbeanstalk list-platform-versions lists current ones",
        )
        self.instance_type = p(
            "InstanceType", "Capacity", "Instance type",
            Type="String", Default="t3.small", AllowedPattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$",
            ConstraintDescription="an EC2 instance type such as t3.small", Description="EC2 instance type",
        )
        # AllowedValues (not MinValue/MaxValue) so each value has one spelling the Rules can compare.
        self.min_size = p("MinSize", "Capacity", "Minimum instances", Type="Number", Default=1,
                          AllowedValues=list(range(1, MAX_MIN_SIZE + 1)),
                          Description="Minimum instances in the Auto Scaling group (at most MaxSize)")
        self.max_size = p("MaxSize", "Capacity", "Maximum instances", Type="Number", Default=2,
                          AllowedValues=list(range(1, MAX_MAX_SIZE + 1)),
                          Description="Maximum instances in the Auto Scaling group")
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
            "PrivateSubnetIds", "Network", "Instance subnets", Type="List<AWS::EC2::Subnet::Id>",
            Description="Private subnets for the instances (two or more AZs)",
        )
        self.lb_subnets = p(
            "LoadBalancerSubnetIds", "Network", "Load balancer subnets", Type="List<AWS::EC2::Subnet::Id>",
            Description="Subnets for the load balancer (public for an internet-facing one)",
        )
        # The ELBv2 vocabulary every kind shares (one environment value serves Beanstalk and ECS alike);
        # create_environment maps it to Beanstalk's own ELBScheme values.
        self.lb_scheme = p(
            "LoadBalancerScheme", "Network", "Load balancer scheme",
            Type="String", Default="internet-facing", AllowedValues=["internal", "internet-facing"],
            Description="internet-facing, or internal: reachable inside the VPC only",
        )
        self.certificate = p(
            "CertificateArn", "Network", "HTTPS certificate",
            Type="String", Default="", AllowedPattern=r"^$|^arn:[a-z-]+:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$",
            ConstraintDescription="empty, or an ACM certificate ARN",
            Description="ACM certificate for HTTPS on 443; required when internet-facing. "
                        "With a certificate the port-80 listener is disabled",
        )
        self.host_name = p(
            "ServiceHostName", "Network", "Service host name",
            Type="String", Default="",
            AllowedPattern=r"^$|^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
            ConstraintDescription="empty, or a lower-case DNS name such as app.example.com",
            Description="DNS name the certificate covers and clients (and validation) call; required with a certificate",
        )
        self.vpc_cidr = p(
            "VpcCidr", "Network", "VPC CIDR",
            Type="String", AllowedPattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$",
            ConstraintDescription="the VPC's IPv4 CIDR block such as 10.0.0.0/16",
            Description="CIDR of the VPC; validation clients may connect to it on 80 and 443",
        )
        self.log_retention = p(
            "LogRetentionDays", "Logging", "Log retention (days)",
            Type="Number", Default=30, AllowedValues=LOG_RETENTION_DAYS,
            Description="Days CloudWatch Logs keeps instance and health logs",
        )

    def create_rules(self):
        """Template ``Rules``: CloudFormation refuses these parameter combinations before any change,
        and ``params validate`` evaluates the same assertions locally."""
        self.template.add_rule("PublicLoadBalancerNeedsCertificate", {
            "RuleCondition": {"Fn::Equals": [Ref(self.lb_scheme), "internet-facing"]},
            "Assertions": [{
                "Assert": {"Fn::Not": [{"Fn::Equals": [Ref(self.certificate), ""]}]},
                "AssertDescription": "An internet-facing load balancer serves HTTPS only: set CertificateArn "
                                     "(and ServiceHostName), or use LoadBalancerScheme internal",
            }],
        })
        self.template.add_rule("CertificateNeedsServiceHostName", {
            "RuleCondition": {"Fn::Not": [{"Fn::Equals": [Ref(self.certificate), ""]}]},
            "Assertions": [{
                "Assert": {"Fn::Not": [{"Fn::Equals": [Ref(self.host_name), ""]}]},
                "AssertDescription": "With a certificate, set ServiceHostName to the DNS name it covers "
                                     "(clients and validation call https://<ServiceHostName>)",
            }],
        })
        # Rules have no numeric comparison: one rule per MinSize value lists the MaxSize values that are
        # too small (shorter than listing the allowed ones; MaxSize's AllowedValues bound the rest).
        for low in range(2, MAX_MIN_SIZE + 1):
            self.template.add_rule(f"MaxSizeAtLeastMinSize{low}", {
                "RuleCondition": {"Fn::Equals": [Ref(self.min_size), str(low)]},
                "Assertions": [{
                    "Assert": {"Fn::Not": [{"Fn::Contains": [[str(n) for n in range(1, low)], Ref(self.max_size)]}]},
                    "AssertDescription": f"MaxSize must be at least MinSize ({low})",
                }],
            })

    def create_validation_group(self):
        """A group for validation clients (a CodeBuild project in the VPC): HTTP to the VPC (an internal
        load balancer's port 80), HTTPS anywhere (the load balancer, and the S3, CloudWatch Logs and
        CodeBuild endpoints CodeBuild needs, through NAT). The Beanstalk-managed load balancer group
        admits its listener ports."""
        self.validation_group = self.add(ec2.SecurityGroup(
            "ValidationSecurityGroup",
            GroupDescription="Validation clients of the Beanstalk environment: HTTP in the VPC, HTTPS",
            VpcId=Ref(self.vpc),
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp=Ref(self.vpc_cidr),
                                      Description="to the load balancer on 80"),
                ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0",
                                      Description="to the load balancer, and AWS endpoints through NAT, on 443"),
            ],
        ))
        suppress(self.validation_group, VALIDATION_EGRESS)

    def create_environment(self):
        self.has_certificate = self.condition("HasCertificate", Not(Equals(Ref(self.certificate), "")))
        # Beanstalk's aws:ec2:vpc ELBScheme takes public | internal, not ELBv2's internet-facing:
        # https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/command-options-general.html#command-options-general-ec2vpc
        self.internal_lb = self.condition("InternalLoadBalancer", Equals(Ref(self.lb_scheme), "internal"))
        options = {
            "aws:elasticbeanstalk:environment": {
                "EnvironmentType": "LoadBalanced", "LoadBalancerType": "application",
                # The roles stack of this environment deploys first (its grants are in place by then).
                "ServiceRole": self.ROLES_EXPORTS.service_role_arn.imported(),
            },
            "aws:elasticbeanstalk:environment:process:default": {
                "HealthCheckPath": Ref(self.health_path), "MatcherHTTPCode": "200",
            },
            "aws:elasticbeanstalk:application": {"Application Healthcheck URL": Ref(self.health_path)},
            # EnvironmentHealth published to CloudWatch for the operations stack's health alarm:
            # https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/health-enhanced-cloudwatch.html
            "aws:elasticbeanstalk:healthreporting:system": {
                "SystemType": "enhanced",
                "ConfigDocument": '{"Version":1,"CloudWatchMetrics":{"Environment":{"EnvironmentHealth":60}}}',
            },
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
                "DisableIMDSv1": "true", "IamInstanceProfile": self.ROLES_EXPORTS.instance_profile.imported(),
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
                "ELBSubnets": Join(",", Ref(self.lb_subnets)), "ELBScheme": If(self.internal_lb, "internal", "public"),
                "AssociatePublicIpAddress": "false",
            },
        }
        self.env = self.add(elasticbeanstalk.Environment(
            "Environment",
            ApplicationName=self.APP_EXPORTS.application_name.imported("${DeliveryEnvironment}"),
            EnvironmentName=naming.physical_name(self.app.name),
            Description=Sub("${ProjectName} ${EnvironmentName} %s environment" % self.app.name),
            PlatformArn=Ref(self.platform_arn),
            Tier=elasticbeanstalk.Tier(Name="WebServer", Type="Standard"),
            OptionSettings=[
                elasticbeanstalk.OptionSetting(Namespace=namespace, OptionName=name, Value=value)
                for namespace, settings in options.items() for name, value in settings.items()
            ] + self.https_listener(),
        ))

    def https_listener(self):
        """Listener 443 with TLS 1.2+ when a certificate is given; port 80 is then not exposed.

        Beanstalk's option namespaces cannot give the default port-80 listener of a dedicated ALB a
        redirect action (``aws:elbv2:listener`` has no DefaultActions; a redirect needs an
        .ebextensions resource override), so with a certificate the port-80 listener is disabled
        (``aws:elbv2:listener:default`` ListenerEnabled false). Without one (internal only, by the
        Rules) port 80 serves HTTP inside the VPC.
        https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/command-options-general.html#command-options-general-elbv2-listener
        """
        https = self.has_certificate
        settings = {
            "ListenerEnabled": "true", "Protocol": "HTTPS",
            "SSLCertificateArns": Ref(self.certificate), "SSLPolicy": TLS_POLICY,
        }
        return [
            If(https, elasticbeanstalk.OptionSetting(Namespace="aws:elbv2:listener:443", OptionName=name, Value=value),
               Ref("AWS::NoValue"))
            for name, value in settings.items()
        ] + [elasticbeanstalk.OptionSetting(Namespace="aws:elbv2:listener:default", OptionName="ListenerEnabled",
                                            Value=If(https, "false", "true"))]

    def create_exports(self):
        self.export(self.EXPORTS.environment_name, Ref(self.env))
        self.export(self.EXPORTS.endpoint, GetAtt(self.env, "EndpointURL"))
        self.export(self.EXPORTS.vpc_id, Ref(self.vpc))
        self.export(self.EXPORTS.validation_subnets, Join(",", Ref(self.instance_subnets)))
        self.export(self.EXPORTS.validation_security_group, GetAtt(self.validation_group, "GroupId"))
        self.export(self.EXPORTS.service_url, If(self.has_certificate, Sub("https://${ServiceHostName}"),
                                            Sub("http://${Host}", Host=GetAtt(self.env, "EndpointURL"))))
