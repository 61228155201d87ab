"""``ecs-pipeline`` (tools): build the container image once, unit test and gate on the ECR scan in
parallel, deploy blue/green to the staging ECS service through CodeDeploy, validate, wait for
approval, deploy the same image to production.

``ecs-rolling-pipeline`` is the simpler variant: the same stages, but the ECS deploy action
updates the service in place from ``imagedefinitions.json``. It is for services that use the
``ECS`` deployment controller; the ``ecs-service`` stack creates ``CODE_DEPLOY`` services only.

Only what is ECS-specific lives here: the image build, image scan, unit test and smoke test
projects and the deploy actions. Stages, roles, trigger, approval, rollback and notifications
come from :class:`~.delivery.DeliveryPipelineStack`.
"""
from __future__ import annotations

from troposphere import Ref, Sub

from ..components.codebuild import LOCAL_CACHE, BuildProject
from . import ecr, ecs_service
from .delivery import BUILD_OUTPUT, DeliveryPipelineStack, Target

SCAN_SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
#: Folder of each target's ``taskdef.json`` / ``appspec.yaml`` in the build output: the pipeline's
#: deploy slot, not the environment name (a parameter), so the paths hold whatever the targets are.
ARTIFACT_DIRS = {"Staging": "staging", "Production": "prod"}


class EcsPipelineStack(DeliveryPipelineStack):
    name = "ecs-pipeline"
    description = "ECS delivery pipeline: image build, test and image scan, blue/green staging, approval, production"
    requires = ("foundation", "artifacts", "ecr", "staging:ecs-service", "prod:ecs-service")
    component = "ecs"
    build_stage = "BuildImage"

    def create_parameters(self):
        super().create_parameters()
        self.dockerhub_username = self.parameter(
            "DockerHubUsername", "Image build", "Docker Hub user",
            Type="String", Default="shopbuild", AllowedPattern=r"^[a-z0-9]{4,30}$",
            ConstraintDescription="a Docker Hub user name (4-30 lower-case letters or digits)",
            Description="Docker Hub user the image build logs in as",
        )
        self.dockerhub_token = self.parameter(
            "DockerHubTokenParameter", "Image build", "Docker Hub token (SSM parameter name)",
            Type="String", Default="/shop/dockerhub/token", AllowedPattern=r"^/[A-Za-z0-9_.\-/]{1,1010}$",
            ConstraintDescription="an SSM parameter name starting with /",
            Description="SecureString parameter (foundation key) holding the Docker Hub token, read at build time",
        )
        self.scan_threshold = self.parameter(
            "ImageScanFailOnSeverity", "Image build", "Image scan gate",
            Type="String", Default="CRITICAL", AllowedValues=SCAN_SEVERITIES,
            Description="ImageScan fails on ECR findings of this severity or worse",
        )

    def create_projects(self):
        common = dict(settings=self.build, key=self.key, artifact_bucket=self.artifact_bucket)
        repository = ecr.repository()
        image_component = f"{self.component}-image"
        if image_component not in ecr.IMAGE_BUILD_COMPONENTS:
            raise ValueError(f"{self.name}: image build component '{image_component}' is missing from "
                             "ecr.IMAGE_BUILD_COMPONENTS; add it there so the repository lets its role push")
        self.build_project = BuildProject(
            self, "ImageBuildProject", image_component, "docker-build.yml",
            description="Build and push the image; write deploy artifacts",
            privileged=True, cache=LOCAL_CACHE, environment=self.image_build_variables(repository), **common,
        ).add_parameter_store_variable("DOCKERHUB_TOKEN", Ref(self.dockerhub_token), self.key)
        self.build_project.role.grant(repository.grant_push())
        scan = BuildProject(
            self, "ImageScanProject", f"{self.component}-image-scan", "image-scan.yml",
            description="Gate on the ECR scan of the image",
            environment=[("REPOSITORY_NAME", repository.name), ("FAIL_ON_SEVERITY", Ref(self.scan_threshold))],
            report="scan", writes_artifacts=False, **common,
        )
        scan.role.grant(repository.grant_read_scan_findings())
        self.checks = [
            ("UnitTest", BuildProject(
                self, "TestProject", f"{self.component}-test", "test.yml", description="Unit tests (JUnit report)",
                report="junit", environment=[("APP_DIR", ".")], writes_artifacts=False, **common,
            ), "Source"),
            ("ImageScan", scan, ["Source", BUILD_OUTPUT]),
        ]
        self.smoke_project = BuildProject(
            self, "SmokeProject", f"{self.component}-smoke", "smoke-test.yml",
            description="Smoke test a deployed target", report="smoke", cache=LOCAL_CACHE,
            writes_artifacts=False, **common,
        )
        # The deploy actions run as the pipeline role (it already reads the artifacts): it gets
        # exactly what they need on the two targets and nothing wider, unlike Beanstalk's deploy.
        for target in (self.staging, self.production):
            self.pipeline.role.grant(self.deploy_grants(target))

    def image_build_variables(self, repository):
        """What ``buildspecs/docker-build.yml`` reads (see its header)."""
        variables = [
            ("REPOSITORY_URI", repository.uri),
            ("DOCKER_CONTEXT", "."),
            ("ECS_DEPLOY_TARGETS", " ".join(ARTIFACT_DIRS[t.label] for t in (self.staging, self.production))),
            ("DOCKERHUB_USERNAME", Ref(self.dockerhub_username)),
        ]
        for target in (self.staging, self.production):
            variables.append(("ECS_DEPLOY_SPEC_" + ARTIFACT_DIRS[target.label].upper(),
                              ecs_service.EXPORTS.deploy_spec.imported(target.env)))
        return variables

    # -- deploy --------------------------------------------------------------
    def deploy_grants(self, target: Target):
        return [ecs_service.deployment_group(target.env).grant_deploy(),
                ecs_service.task_definition(target.env).grant_register()]

    def deploy_action(self, target: Target):
        group = ecs_service.deployment_group(target.env)
        folder = ARTIFACT_DIRS[target.label]
        return self.pipeline.action(
            "Deploy", "Deploy", "CodeDeployToECS", {
                "ApplicationName": group.application_name,
                "DeploymentGroupName": group.deployment_group_name,
                "TaskDefinitionTemplateArtifact": BUILD_OUTPUT,
                "TaskDefinitionTemplatePath": f"{folder}/taskdef.json",
                "AppSpecTemplateArtifact": BUILD_OUTPUT,
                "AppSpecTemplatePath": f"{folder}/appspec.yaml",
                "Image1ArtifactName": BUILD_OUTPUT,
                "Image1ContainerName": "IMAGE1_NAME",
            },
            inputs=[BUILD_OUTPUT],
        )

    def target_url(self, target: Target):
        return ecs_service.EXPORTS.service_url.imported(target.env)


class EcsRollingPipelineStack(EcsPipelineStack):
    """The rolling variant: CodePipeline's ECS deploy action, ``imagedefinitions.json`` from the build."""

    name = "ecs-rolling-pipeline"
    description = "ECS delivery pipeline, rolling deploys: image build, test and image scan, staging, approval, production"
    component = "ecs-rolling"

    def deploy_grants(self, target: Target):
        return [ecs_service.service(target.env).grant_rolling_deploy(),
                ecs_service.task_definition(target.env).grant_register()]

    def deploy_action(self, target: Target):
        service = ecs_service.service(target.env)
        return self.pipeline.action(
            "Deploy", "Deploy", "ECS", {
                "ClusterName": service.cluster_name,
                "ServiceName": service.service_name,
                "FileName": "imagedefinitions.json",
            },
            inputs=[BUILD_OUTPUT],
        )
