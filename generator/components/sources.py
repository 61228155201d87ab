"""Where a delivery pipeline starts: the model's ``source`` as template parameters, the source
action, what starts it, and the grants the pipeline role needs to read it.

- ``s3``: an archive in the tools source bucket; EventBridge ``Object Created`` on its key.
- ``codecommit``: a branch of an **existing** repository (never created here: CodeCommit is closed
  to new customers and CreateRepository fails in accounts without a repository,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codecommit-repository.html);
  EventBridge ``referenceCreated``/``referenceUpdated`` on that branch, no polling.
- ``connection``: a branch of a GitHub/GitLab/Bitbucket repository through a CodeConnections
  connection whose ARN is a parameter (no token anywhere); a V2 trigger filters pushes on the branch
  and, optionally, file paths.

A pipeline stack calls :func:`for_application` while declaring its parameters and
:meth:`attach` when it adds its first stage.
"""
from __future__ import annotations

from awacs import codecommit, codeconnections, codestar_connections
from troposphere import Ref, codepipeline

from ..core import naming
from ..model.schema import (BRANCH_PATTERN, CODECOMMIT_REPOSITORY_PATTERN, CONNECTION_REPOSITORY_PATTERN,
                            OBJECT_KEY_PATTERN)
from .iam import allow
from .pipeline import SOURCE, DeliveryPipeline

GROUP = "Source"
#: What the CodeCommit source action calls, exactly as CodePipeline's action reference lists it
#: ("Service role permissions: CodeCommit action",
#: https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeCommit.html).
CODECOMMIT_SOURCE_ACTIONS = [
    codecommit.CancelUploadArchive, codecommit.GetBranch, codecommit.GetCommit, codecommit.GetRepository,
    codecommit.GetUploadArchiveStatus, codecommit.UploadArchive,
]
#: Connections made before the CodeStar Connections → CodeConnections rename have
#: ``codestar-connections`` ARNs, newer ones ``codeconnections`` ARNs; both are accepted
#: (https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html).
CONNECTION_ARN_PATTERN = (r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z]{2}(-[a-z]+)+-\d:\d{12}:"
                          r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: The action a connection's user needs, in the service prefix of each ARN form: the ARN's prefix
#: decides which one IAM evaluates, so the role holds both, on that ARN only. awacs types both.
USE_CONNECTION = [codestar_connections.UseConnection, codeconnections.UseConnection]


class S3Source:
    """An archive uploaded to the tools source bucket (``bucket`` is called when the stage is added)."""

    def __init__(self, stack, app, bucket):
        self.bucket = bucket
        self.object_key = _action_parameter(stack)(
            "SourceObjectKey", GROUP, "Source archive key",
            Type="String", Default=app.object_key, AllowedPattern=OBJECT_KEY_PATTERN,
            ConstraintDescription="an S3 object key ending in .zip",
            Description="Key of the source archive in the source bucket; uploading it starts the pipeline",
        )

    def attach(self, pipeline: DeliveryPipeline, output=SOURCE):
        pipeline.source_stage(self.bucket(), Ref(self.object_key), output)


class CodeCommitSource:
    """A branch of an existing CodeCommit repository, started by EventBridge (no polling)."""

    def __init__(self, stack, app, bucket=None):
        source = app.source
        self.repository = stack.parameter(
            "SourceRepositoryName", GROUP, "CodeCommit repository",
            Type="String", Default=source.repository, AllowedPattern=CODECOMMIT_REPOSITORY_PATTERN,
            ConstraintDescription="a CodeCommit repository name (1-100 letters, digits, '.', '_' or '-')",
            Description="Existing CodeCommit repository the pipeline reads (never created by this template)",
        )
        self.branch = _branch_parameter(stack, source.branch)  # the rule and the action read it, no grant
        self.arn = naming.arn("codecommit", "${SourceRepositoryName}")

    def attach(self, pipeline: DeliveryPipeline, output=SOURCE):
        pipeline.role.grant(allow(CODECOMMIT_SOURCE_ACTIONS, [self.arn]))
        # OutputArtifactFormat CODE_ZIP: a zip of the commit, what every build reads (no full clone, so
        # the build roles need no codecommit:GitPull).
        action = pipeline.action("Source", "Source", "CodeCommit", {
            "RepositoryName": Ref(self.repository), "BranchName": Ref(self.branch),
            "PollForSourceChanges": False, "OutputArtifactFormat": "CODE_ZIP",
        }, outputs=[output])
        pipeline.add_stage("Source", [action])
        # The rule CodePipeline's console creates for a CodeCommit source, on this branch only
        # (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-trigger-source-repo-changes-cli.html);
        # referenceCreated starts it for the branch's first push as well.
        pipeline.start_on_event("Start the pipeline when the branch is pushed to", {
            "source": ["aws.codecommit"],
            "detail-type": ["CodeCommit Repository State Change"],
            "resources": [self.arn],
            "detail": {"event": ["referenceCreated", "referenceUpdated"], "referenceType": ["branch"],
                       "referenceName": [Ref(self.branch)]},
        })


class ConnectionSource:
    """A branch of a repository at a Git provider through a CodeConnections connection, started by a
    CodePipeline V2 push trigger filtered on the branch (and file paths)."""

    def __init__(self, stack, app, bucket=None):
        source = app.source
        self.file_paths = list(source.file_paths)
        self.connection = stack.parameter(
            "SourceConnectionArn", GROUP, f"{source.provider} connection",
            Type="String", AllowedPattern=CONNECTION_ARN_PATTERN,
            ConstraintDescription="a connection ARN: arn:<partition>:codeconnections:<region>:<account>:connection/<id> "
                                  "(or codestar-connections)",
            Description=f"ARN of the AVAILABLE connection to {source.provider} (created once, completed in the "
                        f"console; see docs/model.md)",
        )
        self.repository = _action_parameter(stack)(
            "SourceRepositoryId", GROUP, "Repository (owner/name)",
            Type="String", Default=source.repository, AllowedPattern=CONNECTION_REPOSITORY_PATTERN,
            ConstraintDescription="owner/name (GitLab: group/subgroup/name)",
            Description=f"{source.provider} repository the pipeline reads, as owner/name",
        )
        self.branch = _branch_parameter(stack, source.branch)

    def attach(self, pipeline: DeliveryPipeline, output=SOURCE):
        pipeline.role.grant(allow(USE_CONNECTION, [Ref(self.connection)]))
        action = pipeline.action("Source", "Source", "CodeStarSourceConnection", {
            "ConnectionArn": Ref(self.connection), "FullRepositoryId": Ref(self.repository),
            "BranchName": Ref(self.branch), "OutputArtifactFormat": "CODE_ZIP",
        }, outputs=[output])
        pipeline.add_stage("Source", [action])
        # A filtered trigger replaces the action's own change detection: only pushes to the branch
        # (touching the file paths) start the pipeline
        # (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html).
        push = {"Branches": codepipeline.GitBranchFilterCriteria(Includes=[Ref(self.branch)])}
        if self.file_paths:
            push["FilePaths"] = codepipeline.GitFilePathFilterCriteria(Includes=self.file_paths)
        pipeline.add_trigger(codepipeline.PipelineTriggerDeclaration(
            ProviderType="CodeStarSourceConnection",
            GitConfiguration=codepipeline.GitConfiguration(
                SourceActionName="Source", Push=[codepipeline.GitPushFilter(**push)]),
        ))


def _action_parameter(stack):
    """How ``stack`` declares a parameter only actions and rules read, never a grant (a split pipeline's
    roles stack does not declare it); the repository name and the connection ARN scope grants."""
    return getattr(stack, "pipeline_parameter", stack.parameter)


def _branch_parameter(stack, default):
    return _action_parameter(stack)(
        "SourceBranchName", GROUP, "Branch",
        Type="String", Default=default, AllowedPattern=BRANCH_PATTERN,
        ConstraintDescription="a Git branch name: letters, digits, ., _, / or -, no .., not starting with - or /",
        Description="Branch whose pushes start the pipeline",
    )


SOURCES = {"s3": S3Source, "codecommit": CodeCommitSource, "connection": ConnectionSource}


def for_application(stack, app, bucket):
    """The source of ``app``'s pipeline, its parameters declared on ``stack``; ``bucket`` returns the
    tools source bucket (S3 sources only)."""
    return SOURCES[app.source.type](stack, app, bucket)
