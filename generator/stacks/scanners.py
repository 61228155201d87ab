"""The security gates every pipeline runs, built once in tools, one stack each:

- ``source-scanner``: ``SecurityScanProject`` (``buildspecs/security-scan.yml``), SAST and dependency
  scan of the source;
- ``image-scanner``: ``ImageScanProject`` (``buildspecs/image-scan.yml``), the gate on ECR's scan
  (basic or enhanced) of the image a build pushed.

Their buildspecs are rendered into the templates (the source cannot change what a gate runs) and
are large (the scanners are pinned by version and hash, inline), so they live here once rather than
in every pipeline's build stack, each in its own template to keep both far from the size limit. Each pipeline passes its settings (``APP_DIR``, ``FAIL_ON_SEVERITY``,
``REPOSITORY_NAME``) as action variables from its own, reviewed template. The projects read the
input artifacts of every pipeline's artifact store and write to none: a store's policy admits
writes from its own pipeline's roles only (``store``), so a shared scanner cannot swap artifacts.

Neither role lists a store or a repository: each store's bucket policy (``store``) and each ECR
repository's policy (``ecr``) names the scanner roles, whose ARNs these stacks export. The stacks
therefore do not grow with the number of applications, and import nothing from them.
"""
from __future__ import annotations

from awacs import inspector2

from ..components.codebuild import LOCAL_CACHE, BuildProject, ProjectReference, build_settings
from ..components.iam import unscoped
from ..components.kms import KeyReference
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from . import foundation

#: Role components of the scanners: not a prefix-match of any pipeline's roles (``registry``).
COMPONENT = "scanner"


class SOURCE_EXPORTS(ExportSet):
    stack = "source-scanner"
    project = declare(stack, "SecurityScanProjectName", "CodeBuild project: SAST and dependency scan of the source")
    role_arn = declare(stack, "SecurityScanRoleArn", "Role of the source scan, admitted by every artifact store")


class IMAGE_EXPORTS(ExportSet):
    stack = "image-scanner"
    project = declare(stack, "ImageScanProjectName", "CodeBuild project: gate on ECR's scan of the built image")
    role_arn = declare(stack, "ImageScanRoleArn",
                       "Role of the image scan gate, admitted by the container pipelines' stores and repositories")


def security_scan() -> ProjectReference:
    return ProjectReference(SOURCE_EXPORTS.project.imported())


def image_scan() -> ProjectReference:
    return ProjectReference(IMAGE_EXPORTS.project.imported())


class _ScannerStack(Stack):
    def common(self):
        # artifact_bucket None: the stores' bucket policies admit this role (see ``store``).
        return dict(settings=build_settings(self), key=KeyReference(foundation.EXPORTS.key_arn.imported()),
                    artifact_bucket=None, cache=LOCAL_CACHE, writes_artifacts=False)


class SourceScannerStack(_ScannerStack):
    name = SOURCE_EXPORTS.stack
    description = "Source and dependency scan shared by every pipeline (SAST, vulnerable dependencies, pinned tools)"

    def create(self):
        project = BuildProject(
            self, "SecurityScanProject", f"{COMPONENT}-source", "security-scan.yml",
            description="SAST and dependency scan; every scanner runs, fails at the end on findings at the threshold",
            report="sast", **self.common(),
        )
        self.export(SOURCE_EXPORTS.project, project.name)
        self.export(SOURCE_EXPORTS.role_arn, project.role.arn)


class ImageScannerStack(_ScannerStack):
    name = IMAGE_EXPORTS.stack
    description = "Gate on ECR's scan (basic or enhanced) of the image a pipeline built, shared by every ECS pipeline"

    def create(self):
        project = BuildProject(
            self, "ImageScanProject", f"{COMPONENT}-image", "image-scan.yml",
            description="Gate on ECR's scan (basic or enhanced) of the built image", report="scan", **self.common(),
        )
        # The repositories' policies admit this role to their scan findings (``ecr``); enhanced
        # scanning reports through Inspector, whose list actions take no resource.
        project.role.grant(unscoped([inspector2.ListFindings, inspector2.ListCoverage],
                                    "inspector2 list actions have no resource level permission"))
        self.export(IMAGE_EXPORTS.project, project.name)
        self.export(IMAGE_EXPORTS.role_arn, project.role.arn)
