"""ECS delivery (tools), in two variants that differ only in the deploy action and the service
kind they target — each pipeline targets only services whose deployment controller accepts its
deploy action:

- ``ecs-build`` + ``ecs-pipeline``: CodePipeline's ``CodeDeployToECS`` action, blue/green through
  CodeDeploy, for the ``ecs-service`` stacks (deployment controller ``CODE_DEPLOY``);
- ``ecs-native-build`` + ``ecs-native-pipeline``: CodePipeline's ``ECS`` action (UpdateService
  with ``imagedefinitions.json``), for the ``ecs-native-service`` stacks (deployment controller
  ``ECS``: Amazon ECS's built-in blue/green or rolling deployments). The ``ECS`` action cannot
  deploy a ``CODE_DEPLOY`` service: ECS refuses UpdateService with a task definition for it
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html).

Both build the image once, run the unit tests, the source and dependency scan and the ECR image
scan gate in parallel, then deploy the same image to each wave of the application, validating
each and waiting for approval before protected ones.
"""
from __future__ import annotations

from troposphere import Ref, Sub

from ..components import ecs, placement
from ..components.codebuild import LOCAL_CACHE, BuildProject, action_variables
from ..components.codedeploy import DeploymentGroupReference
from ..components.pipeline import SOURCE
from . import ecr, ecs_native_service, ecs_service, scanners
from .delivery import BUILD_OUTPUT, DeliveryBuildStack, DeliveryPipelineStack, DeliveryValidationStack, Target
from .ecs_web import DEPLOY_SPEC, TASK_ROLE_COMPONENT, references

IMAGE_SCAN_SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]


def artifact_dir(target: Target) -> str:
    """Folder of a wave's ``taskdef.json`` / ``appspec.yaml`` in the build output: its environment's name."""
    return target.env


def named(application: str, env: str):
    """``(task definition, service, deployment group)`` of ``application`` in wave ``env`` by their physical
    names (``ecs_web``: ``{project}-{env}-{application}`` for cluster, service, family, CodeDeploy application
    and group; roles ``-execution`` / ``-task``), for a wave in another account whose exports a tools stack
    cannot import. ``env``: ``Fn::Sub`` text (a name, or ``${EnvironmentName}`` in the wave's own stacks).
    The ARNs they build are of the account and Region of the stack using them."""
    name = Sub("${ProjectName}-%s-%s" % (env, application))

    def role(component):
        return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-%s-%s" % (env, component))

    task_definition = ecs.TaskDefinitionReference(name, role(ecr.execution_role_component(application)),
                                                  role(f"{application}-{TASK_ROLE_COMPONENT}"))
    return task_definition, ecs.ServiceReference(name, name), DeploymentGroupReference(name, name)


class EcsBuildStack(DeliveryBuildStack):
    """The image build, its checks and the validation projects of one ECS pipeline."""

    name = "ecs-build"
    description = "ECS (CodeDeploy blue/green) delivery projects: image build, unit tests, scans"
    #: The target service stack's exports (set per application): ``deploy_spec`` per wave feeds ``taskdef.json``.
    SERVICE = ecs_service.EXPORTS
    build_project_id = "ImageBuildProject"
    check_actions = (("UnitTest", "TestProject", ["Source"]),)

    def create_parameters(self):
        self.dockerhub_username = self.parameter(
            "DockerHubUsername", "Image build", "Docker Hub user",
            Type="String", AllowedPattern=r"^[a-z0-9]{4,30}$",
            ConstraintDescription="a Docker Hub user name (4-30 lower-case letters or digits)",
            Description="Docker Hub user the image build logs in as",
        )
        self.dockerhub_token = self.parameter(
            "DockerHubTokenParameter", "Image build", "Docker Hub token (SSM parameter name)",
            Type="String", Default=f"/{self.model.project.name}/{self.app.name}/dockerhub/token",
            AllowedPattern=r"^/[A-Za-z0-9_.\-/]{1,1010}$",
            ConstraintDescription="an SSM parameter name starting with /",
            Description="SecureString parameter (foundation key) holding the Docker Hub token, read at build time",
        )

    def create_projects(self):
        common = self.common
        repository = ecr.repository(self.app.name, "${EnvironmentName}")
        image_component = ecr.image_build_component(self.component)  # the repository lets this role push
        self.build_project = BuildProject(
            self, "ImageBuildProject", image_component, "docker-build.yml",
            description="Build and push the image; write deploy artifacts",
            privileged=True, cache=LOCAL_CACHE, environment=self.image_build_variables(repository), **common,
        ).add_parameter_store_variable("DOCKERHUB_TOKEN", Ref(self.dockerhub_token), self.key)
        self.build_project.role.grant(repository.grant_push())
        self.checks = [
            ("UnitTest", BuildProject(
                self, "TestProject", f"{self.component}-test", "test.yml", description="Unit tests (JUnit report)",
                report="junit", environment=[("APP_DIR", ".")], writes_artifacts=False, **common,
            ), "Source"),
        ]

    def image_build_variables(self, repository):
        """What ``buildspecs/docker-build.yml`` reads (see its header)."""
        variables = [
            ("REPOSITORY_URI", repository.uri),
            ("DOCKER_CONTEXT", "."),
            ("ECS_DEPLOY_TARGETS", " ".join(artifact_dir(t) for t in self.targets)),
            ("DOCKERHUB_USERNAME", Ref(self.dockerhub_username)),
        ]
        for target in self.targets:
            spec = (self.away_deploy_spec(target.env) if placement.placement(self.model, target.env).away
                    else self.SERVICE.deploy_spec.imported(target.env))
            variables.append(("ECS_DEPLOY_SPEC_" + artifact_dir(target).upper(), spec))
        return variables

    def away_deploy_spec(self, env: str):
        """The service stack's ``DeploySpec`` export for a wave in another account, which this stack cannot
        import: the same JSON from the physical names and the values the model gives that stack in ``env``
        (its parameter file), the account from ``<Wave>AccountId``."""
        from .. import paramgen, registry

        service = next(cls for cls in registry.stacks(self.model) if cls.name == self.SERVICE.stack)
        values = paramgen.parameter_values(service, env)
        task_definition, _, _ = named(self.app.name, env)
        arn = "arn:${AWS::Partition}:iam::${Account}:role/${ProjectName}-%s-%s"
        account = placement.account_id(self, env)
        return Sub(DEPLOY_SPEC, Family=task_definition.family,
                   ExecutionRoleArn=Sub(arn % (env, ecr.execution_role_component(self.app.name)), Account=account),
                   TaskRoleArn=Sub(arn % (env, f"{self.app.name}-{TASK_ROLE_COMPONENT}"), Account=account),
                   Cpu=values["TaskCpu"], Memory=values["TaskMemory"],
                   LogGroup=Sub("/ecs/${ProjectName}-%s-%s" % (env, self.app.name)),
                   Readonly=values["ReadonlyRootFilesystem"])

    @classmethod
    def model_values(cls, env: str) -> dict:
        return placement.model_values(cls.model, cls.app.waves)


class EcsValidationStack(DeliveryValidationStack):
    name = "ecs-validation"
    description = "ECS (CodeDeploy blue/green) delivery: validation of each target from inside its VPC"


class EcsPipelineStack(DeliveryPipelineStack):
    """Blue/green through CodeDeploy (``CodeDeployToECS``) to the ``ecs-service`` of each target."""

    name = "ecs-pipeline"
    description = "ECS delivery pipeline (CodeDeploy blue/green): image build, tests and scans, then each wave"
    build_class = EcsBuildStack
    SERVICE = ecs_service.EXPORTS
    build_stage = "BuildImage"
    #: With infrastructure: pipeline the service stack's change set takes the release's image tag (from the
    #: build's imageDetail.json), so a task definition it registers runs the image being deployed.
    release_parameters = {"ImageTag": (BUILD_OUTPUT, "imageDetail.json", "ImageTag")}

    def create_parameters(self):
        super().create_parameters()
        self.image_scan_threshold = self.pipeline_parameter(
            "ImageScanFailOnSeverity", "Checks", "Image scan gate",
            Type="String", Default="HIGH", AllowedValues=IMAGE_SCAN_SEVERITIES,
            Description="ImageScan fails on ECR findings of this severity or worse",
        )

    def scan_actions(self) -> list:
        """The source scan, and the gate on ECR's scan of the image the build pushed (it reads
        ``imageDetail.json`` from the build output)."""
        variables = action_variables({"REPOSITORY_NAME": "${Repository}", "FAIL_ON_SEVERITY": "${Threshold}"},
                                     Repository=ecr.repository(self.app.name, "${EnvironmentName}").name,
                                     Threshold=Ref(self.image_scan_threshold))
        return super().scan_actions() + [("ImageScan", scanners.image_scan(), [SOURCE, BUILD_OUTPUT], variables)]

    supports_away = True

    def deploy_grants(self, target: Target):
        task_definition, _ = references(self.SERVICE)
        return [ecs_service.deployment_group(self.SERVICE, target.env).grant_deploy(),
                task_definition(target.env).grant_register()]

    @classmethod
    def away_deploy_grants(cls, env: str, application: str) -> list:
        task_definition, _, group = named(application, env)
        return [group.grant_deploy(), task_definition.grant_register()]

    def deploy_action(self, target: Target, role):
        if self.away(target):
            group = named(self.app.name, target.env)[2]
        else:
            group = ecs_service.deployment_group(self.SERVICE, target.env)
        folder = artifact_dir(target)
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
            inputs=[BUILD_OUTPUT], role_arn=role.arn,
        )

    def target_url(self, target: Target):
        return self.delivery.target_export("ServiceUrl").imported(target.env)


class EcsNativeBuildStack(EcsBuildStack):
    name = "ecs-native-build"
    description = "ECS (native deployments) delivery projects: image build, unit tests, scans"
    SERVICE = ecs_native_service.EXPORTS


class EcsNativeValidationStack(DeliveryValidationStack):
    name = "ecs-native-validation"
    description = "ECS (native deployments) delivery: validation of each target from inside its VPC"


class EcsNativePipelineStack(EcsPipelineStack):
    """CodePipeline's ``ECS`` action to the ``ecs-native-service`` of each target: the service's own
    deployment (built-in blue/green with bake time and alarm rollback, or rolling) takes it from there."""

    name = "ecs-native-pipeline"
    description = "ECS delivery pipeline (ECS native rolling or blue/green): image build, tests and scans, then each wave"
    build_class = EcsNativeBuildStack
    SERVICE = ecs_native_service.EXPORTS

    def deploy_grants(self, target: Target):
        task_definition, service = references(self.SERVICE)
        return [service(target.env).grant_rolling_deploy(), task_definition(target.env).grant_register()]

    @classmethod
    def away_deploy_grants(cls, env: str, application: str) -> list:
        task_definition, service, _ = named(application, env)
        return [service.grant_rolling_deploy(), task_definition.grant_register()]

    def deploy_action(self, target: Target, role):
        if self.away(target):
            service = named(self.app.name, target.env)[1]
        else:
            _, service = references(self.SERVICE)
            service = service(target.env)
        return self.pipeline.action(
            "Deploy", "Deploy", "ECS", {
                "ClusterName": service.cluster_name,
                "ServiceName": service.service_name,
                "FileName": "imagedefinitions.json",
            },
            inputs=[BUILD_OUTPUT], role_arn=role.arn,
        )
