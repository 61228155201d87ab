"""CodeBuild projects for pipelines: one role, one log group, one cache place per project.

A :class:`BuildProject` runs a buildspec file from ``buildspecs/``. By default the file's
text is rendered into the template at generate time, so whoever can write the source
cannot change what a gate (test, scan, validation) runs; only a project created with
``buildspec_from_source=True`` reads ``buildspecs/<file>`` from the source artifact.
It encrypts its output with the environment key, logs to its own KMS-encrypted log
group with retention, caches to the artifact bucket (or locally), optionally runs in a
VPC (:class:`VpcAccess`, for targets only reachable from inside it), and hands the
pipeline the one grant it needs: :meth:`BuildProject.grant_start_build` (or, from
another stack, :class:`ProjectReference`).

:func:`build_settings` declares the parameters every pipeline's projects share
(image, compute type, timeouts, log retention), so each pipeline stack asks for them once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from awacs import codebuild as cb
from awacs import ec2 as ec2_actions
from awacs import ssm
from awacs.aws import Condition, StringEquals
from troposphere import GetAtt, Ref, Split, Sub, codebuild

from ..core import naming, pycompact
from ..core.stack import LOG_RETENTION_DAYS
from .iam import Role, allow, unscoped
from .kms import KeyReference
from .logs import EncryptedLogGroup
from .s3 import BucketReference

PLAINTEXT = "PLAINTEXT"
PARAMETER_STORE = "PARAMETER_STORE"
S3_CACHE = "s3"
LOCAL_CACHE = "local"
#: Default Linux image: CodeBuild's current standard image (Ubuntu, Python 3.12, Docker).
STANDARD_IMAGE = "aws/codebuild/standard:7.0"
COMPUTE_TYPES = ["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"]
REPORT_ACTIONS = [cb.CreateReport, cb.UpdateReport, cb.BatchPutTestCases, cb.BatchPutCodeCoverages]
#: The buildspec files, rendered into templates at generate time.
BUILDSPEC_DIR = Path(__file__).resolve().parents[2] / "buildspecs"
#: What CodeBuild does with the service role to put a build in a VPC: create, describe and
#: delete the build's network interface. https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html#customer-managed-policies-example-create-vpc-network-interface
ENI_DESCRIBE_ACTIONS = [
    ec2_actions.DescribeDhcpOptions, ec2_actions.DescribeNetworkInterfaces, ec2_actions.DescribeSecurityGroups,
    ec2_actions.DescribeSubnets, ec2_actions.DescribeVpcs,
]


def buildspec_text(name: str) -> str:
    """The text of ``buildspecs/<name>`` as it goes into a template."""
    path = BUILDSPEC_DIR / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"buildspec {path} not found; add it to buildspecs/") from None
    lines = [line.rstrip() for line in text.splitlines()]  # trailing blanks would force a quoted style
    # The file's header comment documents it for readers of buildspecs/; the template says where it is from.
    while lines and (lines[0].startswith("#") or not lines[0]):
        lines.pop(0)
    # Inlined scripts go in without their docstrings and comments (generator/core/pycompact.py).
    body = pycompact.compact_inlined_scripts("\n".join(lines) + "\n")
    return f"# buildspecs/{name}, rendered by `make templates`\n" + body


@dataclass(frozen=True)
class VpcAccess:
    """Where a build runs when its target is only reachable inside a VPC (an internal load balancer):
    the VPC, its private subnets (``List``-valued or comma-joined text) and the client security group."""

    vpc_id: object
    subnet_ids: object
    security_group_id: object
    subnets_joined: bool = True

    def config(self):
        subnets = Split(",", self.subnet_ids) if self.subnets_joined else self.subnet_ids
        return codebuild.VpcConfig(VpcId=self.vpc_id, Subnets=subnets, SecurityGroupIds=[self.security_group_id])

    def grants(self):
        """A CodeBuild service role's network-interface permissions: interface permissions authorised
        for CodeBuild only."""
        return self.interface_grants(authorized_service="codebuild.amazonaws.com")

    def interface_grants(self, interface_actions=(), authorized_service: str = None):
        """Network interfaces in this VPC's subnets with the client security group, scoped to this
        account and region: create, delete (and ``interface_actions``) them, and, for a service that
        attaches them itself, ``CreateNetworkInterfacePermission`` authorised for that service only."""
        interface = Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:network-interface/*")
        statements = [
            allow([ec2_actions.CreateNetworkInterface], [
                interface,
                Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:subnet/*"),
                Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group/${Group}",
                    Group=self.security_group_id),
            ]),
            allow([ec2_actions.DeleteNetworkInterface, *interface_actions], [interface]),
        ]
        if authorized_service:
            statements.append(allow([ec2_actions.CreateNetworkInterfacePermission], [interface], condition=Condition(
                StringEquals({"ec2:AuthorizedService": authorized_service}))))
        return statements + [unscoped(ENI_DESCRIBE_ACTIONS, "ec2 Describe actions have no resource level permission")]


@dataclass(frozen=True)
class BuildSettings:
    """Parameter references shared by the CodeBuild projects of one stack."""

    image: Ref
    compute_type: Ref
    timeout: Ref
    queued_timeout: Ref
    log_retention: Ref


def build_settings(stack, group="Build") -> BuildSettings:
    """Declare the CodeBuild parameters of ``stack`` (once per stack)."""
    return BuildSettings(
        image=Ref(stack.parameter(
            "BuildImage", group, "CodeBuild image",
            Type="String", Default=STANDARD_IMAGE, AllowedPattern=r"^aws/codebuild/[a-z0-9._-]+:[0-9a-z.-]+$",
            ConstraintDescription="a CodeBuild-managed Linux image such as aws/codebuild/standard:7.0",
            Description="CodeBuild-managed Linux image for every project",
        )),
        compute_type=Ref(stack.parameter(
            "BuildComputeType", group, "CodeBuild compute type",
            Type="String", Default=COMPUTE_TYPES[0], AllowedValues=COMPUTE_TYPES,
            Description="Compute type of every CodeBuild project",
        )),
        timeout=Ref(stack.parameter(
            "BuildTimeoutMinutes", group, "Build timeout (minutes)",
            Type="Number", Default=15, MinValue=5, MaxValue=480,
            Description="Minutes before CodeBuild stops a running build",
        )),
        queued_timeout=Ref(stack.parameter(
            "BuildQueuedTimeoutMinutes", group, "Queued timeout (minutes)",
            Type="Number", Default=30, MinValue=5, MaxValue=480,
            Description="Minutes a build may wait in the queue",
        )),
        log_retention=Ref(stack.parameter(
            "BuildLogRetentionDays", group, "Build log retention (days)",
            Type="Number", Default=30, AllowedValues=LOG_RETENTION_DAYS,
            Description="Days CloudWatch Logs keeps build logs",
        )),
    )


class BuildProject:
    """A CodeBuild project fed by CodePipeline, running ``buildspecs/<buildspec>``.

    ``component``: short name; the project is ``{project}-{env}-{component}``.
    ``cache``: ``"s3"`` (artifact bucket, prefix ``build-cache/<project name>``) or ``"local"``.
    ``report``: name of a JUnit report declared in the buildspec's ``reports:`` section;
    the report group ``{project name}-{report}`` is created so CodeBuild uses it.
    ``artifact_bucket`` None: a project shared by several pipelines (a scanner), admitted to each
    store by the store's bucket policy; its role gets only decryption under ``key``, through S3.
    """

    def __init__(self, stack, logical_id, component, buildspec, *, settings: BuildSettings,
                 key: KeyReference, artifact_bucket: BucketReference | None, description,
                 cache=S3_CACHE, privileged=False, report=None, environment=(), writes_artifacts=True,
                 buildspec_from_source=False, vpc: VpcAccess = None):
        self.stack = stack
        self.logical_id = logical_id
        self.buildspec_file = buildspec
        self.buildspec_from_source = buildspec_from_source
        self.buildspec = f"buildspecs/{buildspec}" if buildspec_from_source else buildspec_text(buildspec)
        full_name = "${ProjectName}-${EnvironmentName}-%s" % component
        self.name = Sub(full_name)
        self.arn = naming.arn("codebuild", "project/" + full_name)
        self._variables = []
        self.role = Role(stack, logical_id + "Role", "codebuild.amazonaws.com", component + "-role",
                         source_arn=self.arn, description=f"CodeBuild project {component}")
        self.log_group = EncryptedLogGroup(stack, logical_id + "Logs", Sub("/aws/codebuild/" + full_name),
                                           key, settings.log_retention)
        # Input artifacts are read from the artifact bucket; output artifacts (when the project
        # has any) and an S3 cache are written to it, with the key through S3 only.
        if artifact_bucket is None:
            if writes_artifacts or cache == S3_CACHE:
                raise ValueError(f"{logical_id}: a project without its own artifact store writes no artifacts "
                                 "and caches locally")
            self.role.grant(self.log_group.grant_write(), key.grant_decrypt("s3"))
        else:
            self.role.grant(self.log_group.grant_write(), artifact_bucket.grant_read())
        if writes_artifacts:
            self.role.grant(artifact_bucket.grant_write())
        self.report_group = None
        if report:
            self.report_group = stack.add(codebuild.ReportGroup(
                logical_id + "Reports", Name=Sub(f"{full_name}-{report}"), Type="TEST",
                ExportConfig=codebuild.ReportExportConfig(ExportConfigType="NO_EXPORT"),
            ))
            self.role.grant(allow(REPORT_ACTIONS, [GetAtt(self.report_group, "Arn")]))
        if vpc is not None:
            self.role.grant(vpc.grants())
        self.project = stack.add(codebuild.Project(
            logical_id,
            Name=self.name,
            Description=description,
            ServiceRole=self.role.arn,
            EncryptionKey=key.arn,
            Source=codebuild.Source(Type="CODEPIPELINE", BuildSpec=self.buildspec),
            Artifacts=codebuild.Artifacts(Type="CODEPIPELINE"),
            Environment=codebuild.Environment(
                Type="LINUX_CONTAINER", Image=settings.image, ComputeType=settings.compute_type,
                ImagePullCredentialsType="CODEBUILD", PrivilegedMode=bool(privileged),
            ),
            Cache=self._cache(cache, privileged, artifact_bucket, full_name),
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(Status="ENABLED", GroupName=self.log_group.name),
                S3Logs=codebuild.S3Logs(Status="DISABLED"),
            ),
            TimeoutInMinutes=settings.timeout,
            QueuedTimeoutInMinutes=settings.queued_timeout,
        ))
        if vpc is not None:
            self.project.VpcConfig = vpc.config()
            # CodeBuild needs the interface permissions before the first build; the policy is its own resource.
            self.project.DependsOn = [self.role.logical_id + "Policy", self.role.logical_id + "UnscopedPolicy"]
        for name, value in environment:
            self.add_variable(name, value)

    def _cache(self, cache, privileged, bucket, full_name):
        if cache == S3_CACHE:
            prefix = "build-cache/" + full_name
            self.role.grant(bucket.grant_write(prefix + "/*"))
            return codebuild.ProjectCache(Type="S3", Location=Sub("${Bucket}/" + prefix, Bucket=bucket.name))
        if cache == LOCAL_CACHE:
            modes = ["LOCAL_SOURCE_CACHE", "LOCAL_CUSTOM_CACHE"]
            if privileged:
                modes.append("LOCAL_DOCKER_LAYER_CACHE")
            return codebuild.ProjectCache(Type="LOCAL", Modes=modes)
        raise ValueError(f"cache must be '{S3_CACHE}' or '{LOCAL_CACHE}', not {cache!r}")

    def add_variable(self, name, value, type_=PLAINTEXT):
        """A build environment variable (plain text unless ``type_`` says otherwise)."""
        self._variables.append(codebuild.EnvironmentVariable(Name=name, Value=value, Type=type_))
        self.project.Environment.EnvironmentVariables = self._variables
        return self

    def add_parameter_store_variable(self, name, parameter_name, key: KeyReference = None):
        """``name`` read from SSM parameter ``parameter_name`` (must start with ``/``) at build time.

        The role may read that one parameter, and decrypt with ``key`` only through SSM.
        """
        self.add_variable(name, parameter_name, PARAMETER_STORE)
        arn = Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}", Name=parameter_name)
        self.role.grant(allow([ssm.GetParameters], [arn]))
        if key is not None:
            self.role.grant(key.grant_decrypt("ssm"))
        return self

    def grant_start_build(self):
        """What a pipeline role needs to run this project and follow its builds."""
        return [allow([cb.StartBuild, cb.BatchGetBuilds, cb.StopBuild], [self.arn])]


class ProjectReference:
    """A project known by name (this stack's or imported from the build stack)."""

    def __init__(self, name):
        self.name = name
        self.arn = Sub("arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/${Name}", Name=name)

    def grant_start_build(self):
        """What a pipeline role needs to run this project and follow its builds."""
        return [allow([cb.StartBuild, cb.BatchGetBuilds, cb.StopBuild], [self.arn])]


def action_variables(variables: dict, **values) -> Sub:
    """A CodeBuild action's ``EnvironmentVariables`` (JSON text): ``{name: text}`` where ``text``
    may use ``${Var}``, resolved by ``Sub`` from ``values`` (imports, parameters)."""
    items = [{"name": name, "value": text, "type": PLAINTEXT} for name, text in variables.items()]
    return Sub(json.dumps(items, separators=(",", ":")), **values)
