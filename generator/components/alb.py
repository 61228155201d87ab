"""Application load balancers: hardened attributes, access logs, IP target groups, listeners, security groups.

Load balancers and target groups get no ``Name``: their scheme, port, protocol,
VPC and target type are create-only, so a change replaces them, and a fixed name
would make that replacement fail. CloudFormation's generated names start with
the stack name (``{project}-{env}-...``), which keeps them recognisable.
"""
from __future__ import annotations

from troposphere import GetAtt, If, NoValue, Ref, Sub, ec2
from troposphere import elasticloadbalancingv2 as elb

from ..core.suppress import Suppression, suppress
from .s3 import BucketReference

#: A validation client (CodeBuild in the VPC) fetches its input artifact from S3, writes CloudWatch Logs
#: and reports to CodeBuild through NAT or VPC endpoints, whose addresses are not fixed.
VALIDATION_EGRESS = Suppression(
    "A validation client (CodeBuild in the VPC) reaches S3, CloudWatch Logs and CodeBuild endpoints over TCP 443 "
    "through NAT; their addresses are not fixed, so egress is 443 only but to any address",
    guard=("EC2_SECURITY_GROUP_EGRESS_OPEN_TO_WORLD_RULE",),
)
#: TLS 1.3 and 1.2 only (the ELB policy AWS recommends for new listeners).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ACCESS_LOG_PREFIX = "alb"


class LoadBalancerSecurityGroups:
    """The load balancer's group (ingress: listener ports from one CIDR; egress: to the tasks only)
    and the tasks' group (ingress: the container port from the load balancer's group only).

    ``listener_ports``: ``(port, cidr)`` pairs, or ``(port, cidr, condition)`` for a listener created
    only under ``condition``."""

    def __init__(self, stack, vpc, listener_ports, container_port):
        self.alb = stack.add(ec2.SecurityGroup(
            "LoadBalancerSecurityGroup",
            GroupDescription=Sub("${ProjectName}-${EnvironmentName} load balancer: listener ports from the allowed CIDR"),
            VpcId=vpc,
            SecurityGroupIngress=[self._ingress(port, cidr) for port, cidr, *condition in listener_ports
                                  if not condition],
            # Replaces the default allow-all egress rule with one that matches nothing (the rule
            # aws-cdk uses for the same purpose); the only real egress is the rule to the tasks below.
            SecurityGroupEgress=[ec2.SecurityGroupRule(
                IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32",
                Description="Disallow all traffic (removes the default allow-all egress)",
            )],
        ))
        suppress(self.alb, Suppression(
            "The only egress entry is the match-nothing ICMP rule (type 252, code 86 to 255.255.255.255/32) "
            "that removes the default allow-all; its FromPort/ToPort are an ICMP type and code, not a port range",
            guard=("SECURITY_GROUP_EGRESS_PORT_RANGE_RULE",),
        ))
        self.tasks = stack.add(ec2.SecurityGroup(
            "TaskSecurityGroup",
            GroupDescription=Sub("${ProjectName}-${EnvironmentName} tasks: container port from the load balancer only"),
            VpcId=vpc,
            SecurityGroupIngress=[ec2.SecurityGroupRule(
                IpProtocol="tcp", FromPort=container_port, ToPort=container_port,
                SourceSecurityGroupId=GetAtt(self.alb, "GroupId"),
                Description="Container port from the load balancer",
            )],
            SecurityGroupEgress=[ec2.SecurityGroupRule(
                IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0",
                Description="HTTPS to AWS APIs (ECR, CloudWatch Logs) through NAT or VPC endpoints",
            )],
        ))
        suppress(self.tasks, Suppression(
            "Tasks reach ECR, CloudWatch Logs and Secrets Manager public endpoints over TCP 443 via NAT; "
            "their addresses are not fixed, so egress is 443 only but to any address",
            guard=("EC2_SECURITY_GROUP_EGRESS_OPEN_TO_WORLD_RULE",),
        ))
        stack.add(ec2.SecurityGroupEgress(
            "LoadBalancerToTasksEgress",
            GroupId=GetAtt(self.alb, "GroupId"),
            IpProtocol="tcp", FromPort=container_port, ToPort=container_port,
            DestinationSecurityGroupId=GetAtt(self.tasks, "GroupId"),
            Description="Traffic and health checks to the tasks' container port",
        ))
        # A listener that exists only when its condition holds gets its own rule resource, same condition.
        self.conditional_ingress = [
            stack.add(ec2.SecurityGroupIngress(
                f"LoadBalancerIngress{port}", Condition=condition[0], GroupId=GetAtt(self.alb, "GroupId"),
                IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp=cidr,
                Description="Listener port from the allowed CIDR",
            ))
            for port, cidr, *condition in listener_ports if condition
        ]
        self.alb_id = GetAtt(self.alb, "GroupId")
        self.tasks_id = GetAtt(self.tasks, "GroupId")


    @staticmethod
    def _ingress(port, cidr):
        return ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp=cidr,
                                     Description="Listener port from the allowed CIDR")


class LoadBalancerReference:
    """A load balancer known by ARN, full name and DNS name (this stack's or imported)."""

    def __init__(self, arn, full_name, dns_name):
        self.arn, self.full_name, self.dns_name = arn, full_name, dns_name


class TargetGroupReference:
    """A target group known by ARN, name and full name (this stack's or imported)."""

    def __init__(self, arn, name, full_name):
        self.arn, self.name, self.full_name = arn, name, full_name


class ListenerReference:
    def __init__(self, arn):
        self.arn = arn


class LoadBalancer(LoadBalancerReference):
    """An application load balancer: invalid headers dropped, access logs to ``access_logs``,
    deletion protection from a ``"true"``/``"false"`` parameter."""

    def __init__(self, stack, logical_id, *, scheme, subnets, security_group, access_logs: BucketReference,
                 deletion_protection, idle_timeout=60):
        self.load_balancer = stack.add(elb.LoadBalancer(
            logical_id,
            Type="application",
            Scheme=scheme,
            IpAddressType="ipv4",
            Subnets=subnets,
            SecurityGroups=[security_group],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=access_logs.name),
                elb.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value=ACCESS_LOG_PREFIX),
                elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="routing.http.desync_mitigation_mode", Value="defensive"),
                elb.LoadBalancerAttributes(Key="deletion_protection.enabled", Value=deletion_protection),
                elb.LoadBalancerAttributes(Key="idle_timeout.timeout_seconds", Value=str(idle_timeout)),
            ],
        ))
        if deletion_protection not in ("true", True):
            suppress(self.load_balancer, Suppression(
                "deletion_protection.enabled is a stack parameter (on in protected environments, off where "
                "stacks are torn down); Guard cannot read a Ref",
                guard=("ELB_DELETION_PROTECTION_ENABLED",),
            ))
        super().__init__(Ref(self.load_balancer), GetAtt(self.load_balancer, "LoadBalancerFullName"),
                         GetAtt(self.load_balancer, "DNSName"))


class IpTargetGroup(TargetGroupReference):
    """HTTP target group of IP targets (Fargate tasks) with an HTTP health check."""

    def __init__(self, stack, logical_id, *, vpc, port, health_check_path, deregistration_delay):
        self.target_group = stack.add(elb.TargetGroup(
            logical_id,
            TargetType="ip",
            Protocol="HTTP",
            ProtocolVersion="HTTP1",
            Port=port,
            VpcId=vpc,
            HealthCheckEnabled=True,
            HealthCheckProtocol="HTTP",
            HealthCheckPath=health_check_path,
            HealthCheckIntervalSeconds=15,
            HealthCheckTimeoutSeconds=5,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=3,
            Matcher=elb.Matcher(HttpCode="200-399"),
            TargetGroupAttributes=[
                elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value=deregistration_delay),
            ],
        ))
        super().__init__(Ref(self.target_group), GetAtt(self.target_group, "TargetGroupName"),
                         GetAtt(self.target_group, "TargetGroupFullName"))


class Listener(ListenerReference):
    """HTTPS with ``certificate`` when condition ``has_certificate`` holds, else HTTP; forwards to
    ``target_group`` (CodeDeploy switches the forward target during blue/green deployments)."""

    def __init__(self, stack, logical_id, *, load_balancer: LoadBalancer, port, has_certificate, certificate,
                 target_group: IpTargetGroup):
        self.listener = stack.add(elb.Listener(
            logical_id,
            LoadBalancerArn=load_balancer.arn,
            Port=port,
            Protocol=If(has_certificate, "HTTPS", "HTTP"),
            Certificates=If(has_certificate, [elb.Certificate(CertificateArn=certificate)], NoValue),
            SslPolicy=If(has_certificate, TLS_POLICY, NoValue),
            DefaultActions=[elb.Action(Type="forward", TargetGroupArn=target_group.arn)],
        ))
        super().__init__(Ref(self.listener))


def http_to_https_redirect(stack, logical_id, load_balancer: LoadBalancer, condition):
    """Port 80 answering only with a permanent redirect to HTTPS 443 (created when ``condition`` holds)."""
    return suppress(stack.add(elb.Listener(
        logical_id,
        Condition=condition,
        LoadBalancerArn=load_balancer.arn,
        Port=80,
        Protocol="HTTP",
        DefaultActions=[elb.Action(Type="redirect", RedirectConfig=elb.RedirectConfig(
            Protocol="HTTPS", Port="443", Host="#{host}", Path="/#{path}", Query="#{query}",
            StatusCode="HTTP_301",
        ))],
    )), Suppression(
        "Port 80 only answers with a permanent redirect to HTTPS 443 and forwards nothing; "
        "an HTTP listener takes no SslPolicy",
        guard=("ELBV2_LISTENER_PROTOCOL_RULE", "ELBV2_LISTENER_SSL_POLICY_RULE"),
    ))


class WeightedForwardRule:
    """A rule matching every path of ``listener`` that forwards to ``blue`` (weight 100) and ``green`` (0).

    Amazon ECS blue/green deployments with an Application Load Balancer shift traffic by rewriting
    the weights of such a rule (one for production, one for test traffic); a listener's default
    action cannot serve as that rule
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-deployment-implementation.html).
    ECS owns the weights after creation: the rule takes no parameter, so a stack update never
    rewrites it and never sends traffic back to a target group ECS has emptied.
    """

    def __init__(self, stack, logical_id, listener: Listener, blue: IpTargetGroup, green: IpTargetGroup):
        self.rule = stack.add(elb.ListenerRule(
            logical_id,
            ListenerArn=listener.arn,
            Priority=1,
            Conditions=[elb.Condition(Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=["/*"]))],
            Actions=[elb.ListenerRuleAction(Type="forward", ForwardConfig=elb.ForwardConfig(TargetGroups=[
                elb.TargetGroupTuple(TargetGroupArn=blue.arn, Weight=100),
                elb.TargetGroupTuple(TargetGroupArn=green.arn, Weight=0),
            ]))],
        ))
        self.arn = Ref(self.rule)


class ValidationSecurityGroup:
    """The group a validation client (the pipeline's smoke test, in the VPC) runs with.

    Egress: the listener ports to the load balancer's group (an internal load balancer), and HTTPS
    anywhere (AWS APIs through NAT or endpoints, and a public load balancer's HTTPS listener, which
    a client inside the VPC reaches through NAT). The load balancer's group admits this group on
    the same listener ports.
    """

    def __init__(self, stack, vpc, groups: LoadBalancerSecurityGroups, listener_ports):
        egress = [ec2.SecurityGroupRule(
            IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0",
            Description="HTTPS to AWS APIs and to a public load balancer's HTTPS listener",
        )]
        for port in listener_ports:
            egress.append(ec2.SecurityGroupRule(
                IpProtocol="tcp", FromPort=port, ToPort=port, DestinationSecurityGroupId=groups.alb_id,
                Description="Listener port of the load balancer",
            ))
        self.group = stack.add(ec2.SecurityGroup(
            "ValidationSecurityGroup",
            GroupDescription=Sub("${ProjectName}-${EnvironmentName} validation clients: the listener ports only"),
            VpcId=vpc,
            SecurityGroupEgress=egress,
        ))
        suppress(self.group, VALIDATION_EGRESS)
        self.id = GetAtt(self.group, "GroupId")
        for index, port in enumerate(listener_ports):
            stack.add(ec2.SecurityGroupIngress(
                f"LoadBalancerIngressFromValidation{index}", GroupId=groups.alb_id,
                IpProtocol="tcp", FromPort=port, ToPort=port, SourceSecurityGroupId=self.id,
                Description="Listener port from validation clients",
            ))
