"""CodeBuild projects for pipelines: one role, one log group, one cache place per project.

A :class:`BuildProject` runs a buildspec file from ``buildspecs/`` (read from the
source artifact), encrypts its output with the environment key, logs to its own
KMS-encrypted log group with retention, caches to the artifact bucket (or locally),
and hands the pipeline the one grant it needs: :meth:`BuildProject.grant_start_build`.

:func:`build_settings` declares the parameters every pipeline's projects share
(image, compute type, timeouts, log retention), so each pipeline stack asks for them once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from awacs import codebuild as cb
from awacs import ssm
from troposphere import GetAtt, Ref, Sub, codebuild

from ..core import naming
from ..core.stack import LOG_RETENTION_DAYS
from .iam import Role, allow
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
    """

    def __init__(self, stack, logical_id, component, buildspec, *, settings: BuildSettings,
                 key: KeyReference, artifact_bucket: BucketReference, description,
                 cache=S3_CACHE, privileged=False, report=None, environment=(), writes_artifacts=True):
        self.stack = stack
        self.logical_id = logical_id
        self.buildspec = f"buildspecs/{buildspec}"
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


def action_variables(variables: dict, **values) -> Sub:
    """A CodeBuild action's ``EnvironmentVariables`` (JSON text): ``{name: text}`` where ``text``
    may use ``${Var}``, resolved by ``Sub`` from ``values`` (imports, parameters)."""
    items = [{"name": name, "value": text, "type": PLAINTEXT} for name, text in variables.items()]
    return Sub(json.dumps(items, separators=(",", ":")), **values)
