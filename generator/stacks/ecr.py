"""``ecr`` (tools only): the application's container image repository.

The repository lives in ``tools`` with the pipeline that pushes to it; every
environment's ECS tasks pull from it (same account). Its policy refers to the
roles by the naming convention (``aws:PrincipalArn`` patterns), so it can be
deployed before those roles exist:

- push: the image build projects' roles, ``{project}-tools-<component>-role`` for each of
  ``IMAGE_BUILD_COMPONENTS`` (a ``codebuild.BuildProject``'s role is ``<component>-role``);
- pull: the ECS task execution roles of every environment (``{project}-*-ecs-execution``)
  and the tools pipeline roles (``{project}-tools-*``: image scan gate, deploy actions).
"""
from __future__ import annotations

from troposphere import Ref

from ..components.ecr import Repository, RepositoryReference, role_arn_pattern
from ..components.kms import KeyReference
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from . import foundation

#: Components of the CodeBuild projects that build and push the image, one per ECS pipeline
#: variant (``ecs-pipeline``, ``ecs-rolling-pipeline``); only their roles may push.
IMAGE_BUILD_COMPONENTS = ("ecs-codedeploy-image", "ecs-native-image")
#: Component name of the ECS task execution role in each environment (``ecs_service``).
EXECUTION_ROLE_COMPONENT = "ecs-execution"
REPOSITORY_COMPONENT = "app"


class EXPORTS(ExportSet):
    stack = "ecr"
    repository_name = declare(stack, "RepositoryName", "Name of the application's ECR repository")
    repository_arn = declare(stack, "RepositoryArn", "ARN of the application's ECR repository")
    repository_uri = declare(stack, "RepositoryUri", "URI of the application's ECR repository (no tag)")


def repository(env: str = "tools") -> RepositoryReference:
    """The repository as seen from another stack (by default of another environment: it lives in tools)."""
    return RepositoryReference(EXPORTS.repository_name.imported(env), EXPORTS.repository_arn.imported(env),
                               EXPORTS.repository_uri.imported(env))


class EcrStack(Stack):
    name = "ecr"
    description = "Container image repository: immutable tags, scan on push, KMS, lifecycle (tools environment)"
    environments = ("tools",)
    requires = ("foundation",)

    def create(self):
        self.create_parameters()
        self.create_repository()
        self.create_outputs()

    def create_parameters(self):
        self.keep_images = self.parameter(
            "KeepImageCount", "Retention", "Images kept",
            Type="Number", Default=50, MinValue=1, MaxValue=1000,
            Description="Newest images the lifecycle policy keeps; older ones expire (untagged ones after a day)",
        )

    def create_repository(self):
        self.repository = Repository(
            self, "Repository", naming.physical_name(REPOSITORY_COMPONENT),
            KeyReference(foundation.EXPORTS.key_arn.imported()), Ref(self.keep_images),
            push_roles=[role_arn_pattern("${ProjectName}-${EnvironmentName}-%s-role" % component)
                        for component in IMAGE_BUILD_COMPONENTS],
            pull_roles=[role_arn_pattern("${ProjectName}-*-%s" % EXECUTION_ROLE_COMPONENT),
                        role_arn_pattern("${ProjectName}-${EnvironmentName}-*")],
        )

    def create_outputs(self):
        self.export(EXPORTS.repository_name, self.repository.name)
        self.export(EXPORTS.repository_arn, self.repository.arn)
        self.export(EXPORTS.repository_uri, self.repository.uri)
