"""A Python Lambda function whose code is a module of ``generator/functions`` rendered inline, with its own
role, log group (KMS, retention) and, when its target is only reachable there, the target's VPC.

The role holds exactly what the function does: write its log group, the network interfaces Lambda
creates in the VPC for it (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions),
and the grants its caller adds. Reserved concurrency bounds what it can cost and reach.
"""
from __future__ import annotations

from awacs import awslambda as lambda_actions
from awacs import ec2 as ec2_actions
from troposphere import GetAtt, Ref, Split, Sub, awslambda

from ..core.suppress import Suppression, suppress
from ..functions import source
from .codebuild import VpcAccess
from .iam import Role, allow
from .logs import EncryptedLogGroup

#: A currently supported Python runtime (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
RUNTIME = "python3.12"


def vpc_grants(vpc: VpcAccess):
    """Lambda's network interfaces in the function's subnets, with the client security group (Lambda
    also assigns and releases their private addresses)."""
    return vpc.interface_grants([ec2_actions.AssignPrivateIpAddresses, ec2_actions.UnassignPrivateIpAddresses])


class InlineFunction:
    """Function ``{project}-{env}-<component>`` running ``generator/functions/<module>.py``."""

    def __init__(self, stack, logical_id, component, module, description, *, key, log_retention, environment,
                 vpc: VpcAccess = None, timeout=60, memory=128, reserved=1):
        full_name = "${ProjectName}-${EnvironmentName}-%s" % component
        self.role = Role(stack, logical_id + "Role", "lambda.amazonaws.com", component, description=description)
        self.log_group = EncryptedLogGroup(stack, logical_id + "Logs", Sub("/aws/lambda/" + full_name), key,
                                           log_retention)
        self.role.grant(self.log_group.grant_write())
        props = dict(
            FunctionName=Sub(full_name), Description=description, Runtime=RUNTIME, Handler="index.handler",
            Code=awslambda.Code(ZipFile=source(module)), Role=self.role.arn, Timeout=timeout, MemorySize=memory,
            ReservedConcurrentExecutions=reserved,
            Environment=awslambda.Environment(Variables=dict(environment)),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=self.log_group.name),
        )
        if vpc is not None:
            self.role.grant(vpc_grants(vpc))
            subnets = Split(",", vpc.subnet_ids) if vpc.subnets_joined else vpc.subnet_ids
            props["VpcConfig"] = awslambda.VPCConfig(SubnetIds=subnets, SecurityGroupIds=[vpc.security_group_id])
        # The role's policies must exist first: Lambda checks the network-interface permissions on create.
        depends = [self.role.logical_id + "Policy", self.role.logical_id + "UnscopedPolicy"]
        self.function = stack.add(awslambda.Function(logical_id, DependsOn=depends, **props))
        suppress(self.function, Suppression(
            "Invoked synchronously by CodePipeline, which reports a failed invocation as a failed action, so there "
            "is no asynchronous event to dead-letter; the environment holds names and a URL, no secret, so the "
            "default encryption of environment variables suffices",
            checkov=("CKV_AWS_116", "CKV_AWS_173"),
        ))
        suppress(self.function, Suppression(
            "Named {project}-{env}-{component}: its log group is created first under that name and the pipeline "
            "imports it by name",
            guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
        ))
        if vpc is None:
            suppress(self.function, Suppression(
                "Calls AWS APIs only (no private resource), so it runs outside a VPC (no NAT or endpoints to pay for)",
                checkov=("CKV_AWS_117",),
            ))
        self.name = Ref(self.function)
        self.arn = GetAtt(self.function, "Arn")


class FunctionReference:
    """A function known by name (imported), handing out the invoke grant."""

    def __init__(self, name, arn=None):
        self.name = name
        self.arn = arn if arn is not None else Sub(
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}", Name=name)

    def grant_invoke(self):
        return [allow([lambda_actions.InvokeFunction], [self.arn])]
