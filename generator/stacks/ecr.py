"""``<application>-ecr`` (tools only): one container application's image repository.

The repository lives in ``tools`` with the pipeline that pushes to it; every
environment's ECS tasks pull from it (same account). Its policy refers to the
roles by the naming convention (``aws:PrincipalArn`` patterns), so it can be
deployed before those roles exist:

- push: DENIED to every principal except the application's image build project's role,
  ``{project}-tools-<component>-image-role`` (a ``codebuild.BuildProject``'s role is
  ``<component>-role``), and, while ``BootstrapPusherArn`` is set, that one role (the operator
  pushing the ``bootstrap`` image once);
- pull: the application's ECS task execution roles in every environment
  (``{project}-*-<application>-execution``) and the tools pipeline roles (``{project}-tools-*``:
  deploy actions); an environment in another account: exactly its execution role (``other_account_pullers``);
- scan findings: the shared image scan gate's role, named by its imported ARN (the ``image-scanner``
  stack deploys first), so that role's own policy lists no repository and does not grow with the
  number of applications.
"""
from __future__ import annotations

from troposphere import Equals, If, Not, Ref, Sub

from ..components.ecr import PULL_ACTIONS, Repository, RepositoryReference, role_arn_pattern
from ..components.kms import KeyReference
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from . import foundation, scanners

ROLE_ARN_PATTERN = r"^$|^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/*-]{1,128}$"


class EXPORTS(ExportSet):
    stack = "ecr"
    repository_name = declare(stack, "RepositoryName", "Name of the application's ECR repository")
    repository_arn = declare(stack, "RepositoryArn", "ARN of the application's ECR repository")
    repository_uri = declare(stack, "RepositoryUri", "URI of the application's ECR repository (no tag)")


def stack_name(application: str) -> str:
    """The repository stack of ``application`` (one per container application, in tools)."""
    return f"{application}-ecr"


def image_build_component(component: str) -> str:
    """Component of the CodeBuild project that builds and pushes the image of the pipeline ``component``."""
    return f"{component}-image"


def execution_role_component(application: str) -> str:
    """Component of the ECS task execution role of ``application`` in each environment."""
    return f"{application}-execution"


def repository(application: str, env: str) -> RepositoryReference:
    """The repository of ``application`` as seen from a stack of environment ``env`` (it lives in tools)."""
    x = EXPORTS.for_stack(stack_name(application))
    return RepositoryReference(x.repository_name.imported(env), x.repository_arn.imported(env),
                               x.repository_uri.imported(env))


def away(model, application) -> list:
    """The environments of ``application``'s runtime stacks in another account or Region than tools."""
    from ..components import placement

    app = model.application(application)
    return [env for env in model.environment_names if env in app.runtime_environments and env != model.tools
            and placement.placement(model, env).away]


def named_repository(stack, application: str) -> RepositoryReference:
    """The repository by its name in the tools account and Region (parameters ``ToolsAccountId`` /
    ``ToolsRegion``, empty: this one, ``bootstrap.tools_values``), for a runtime stack of an application with
    an environment in another account or Region: exports do not cross them. ECR decrypts the layers with its
    own grant on the key, so a puller of another account needs the repository policy and its own IAM only
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html)."""
    from troposphere import AccountId, Equals, If, Region, Sub

    from .bootstrap import ACCOUNT_PATTERN, REGION_PATTERN

    for name, pattern, what in (("ToolsAccountId", ACCOUNT_PATTERN, "Account"), ("ToolsRegion", REGION_PATTERN, "Region")):
        stack.parameter(name, "Tools account", f"Tools {what.lower()}", Type="String", Default="", AllowedPattern=pattern,
                        Description=f"{what} of the tools environment's image repository (empty: this one)")
        stack.condition(f"ToolsInThis{what}", Equals(Ref(name), ""))
    account = If("ToolsInThisAccount", AccountId, Ref("ToolsAccountId"))
    region = If("ToolsInThisRegion", Region, Ref("ToolsRegion"))
    name = Sub("${ProjectName}-%s-%s" % (stack.model.tools, application))
    return RepositoryReference(
        name, Sub("arn:${AWS::Partition}:ecr:${Region}:${Account}:repository/${Name}", Region=region, Account=account,
                  Name=name),
        Sub("${Account}.dkr.ecr.${Region}.${AWS::URLSuffix}/${Name}", Region=region, Account=account, Name=name))


class EcrStack(Stack):
    name = "ecr"
    description = "Container image repository: immutable tags, scan on push, KMS, lifecycle (tools environment)"
    #: The pipeline component whose image build project may push (set per application).
    component = None

    def create(self):
        self.create_parameters()
        self.create_repository()
        self.create_outputs()

    def create_parameters(self):
        self.keep_images = self.parameter(
            "KeepImageCount", "Retention", "Images kept",
            Type="Number", Default=50, MinValue=1, MaxValue=1000,
            Description="Newest CI-only (ci-*) images kept; release tags never expire, untagged ones after a day",
        )
        self.bootstrap_pusher = self.parameter(
            "BootstrapPusherArn", "Access", "Bootstrap pusher role ARN",
            Type="String", Default="", AllowedPattern=ROLE_ARN_PATTERN,
            ConstraintDescription="an IAM role ARN (may end in *), or empty",
            Description="Role that may push besides the build roles (the bootstrap image); leave empty after",
        )
        self.has_pusher = self.condition("HasBootstrapPusher", Not(Equals(Ref(self.bootstrap_pusher), "")))

    def create_repository(self):
        build_roles = [role_arn_pattern("${ProjectName}-${EnvironmentName}-%s-role"
                                        % image_build_component(self.component))]
        self.repository = Repository(
            self, "Repository", naming.physical_name(self.app.name),
            KeyReference(foundation.EXPORTS.key_arn.imported()), Ref(self.keep_images),
            push_roles=If(self.has_pusher, build_roles + [Ref(self.bootstrap_pusher)], build_roles),
            pull_roles=[role_arn_pattern("${ProjectName}-*-%s" % execution_role_component(self.app.name)),
                        role_arn_pattern("${ProjectName}-${EnvironmentName}-*")],
            scan_readers=[scanners.IMAGE_EXPORTS.role_arn.imported()],
            statements=self.other_account_pullers(),
        )

    def other_account_pullers(self) -> list:
        """The task execution role of each environment of the application in another account: exactly that
        role (``placement.reader_statement``: that account's root narrowed by ``aws:PrincipalArn``)."""
        from ..components import placement

        found = []
        for env in away(self.model, self.app.name):
            if not placement.placement(self.model, env).cross_account:
                continue  # same account: the pull statement above admits it
            account = placement.account_id(self, env)
            role = Sub("arn:${AWS::Partition}:iam::${Account}:role/${ProjectName}-%s-%s"
                       % (env, execution_role_component(self.app.name)), Account=account)
            found.append(placement.reader_statement(f"AllowPullBy{placement.label(env)}ExecutionRole", account,
                                                    [role], PULL_ACTIONS))
        return found

    @classmethod
    def model_values(cls, env: str) -> dict:
        from ..components import placement

        return placement.model_values(cls.model, cls.model.environment_names)

    def create_outputs(self):
        x = EXPORTS.for_stack(self.name)
        self.export(x.repository_name, self.repository.name)
        self.export(x.repository_arn, self.repository.arn)
        self.export(x.repository_uri, self.repository.uri)
