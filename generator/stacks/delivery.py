"""The shape every delivery pipeline shares, for stacks that differ only in how they build and deploy.

``Source → Build → (checks in parallel) → DeployStaging → ValidateStaging → Approval
→ DeployProduction → ValidateProduction``. A subclass sets ``component`` and
implements :meth:`create_projects` (the build, the parallel checks, the smoke test),
:meth:`deploy_action` and :meth:`target_url`; parameters, imports from the tools
foundation and artifacts stacks, the pipeline role, source trigger, approval,
rollback and notifications come from here.
"""
from __future__ import annotations

from dataclasses import dataclass

from troposphere import Ref, Sub

from ..components.codebuild import action_variables, build_settings
from ..components.kms import KeyReference
from ..components.pipeline import SOURCE, DeliveryPipeline
from ..components.sns import TopicReference
from ..core import naming
from ..core.stack import Stack
from . import artifacts, foundation

BUILD_OUTPUT = "BuildOutput"


@dataclass(frozen=True)
class Target:
    """A deployment target: ``label`` in stage names, ``environment`` a parameter naming its environment."""

    label: str
    environment: object

    @property
    def env(self) -> str:
        """The environment as a ``${...}`` reference for ``CrossStackValue.imported(env=...)``."""
        return "${%s}" % self.environment.title


class DeliveryPipelineStack(Stack):
    environments = ("tools",)
    #: Pipeline ``{project}-{env}-{component}``; prefix of its projects, roles and rules.
    component = ""
    build_stage = "Build"
    checks_stage = "TestAndScan"

    def create(self):
        self.create_parameters()
        self.create_imports()
        self.pipeline = DeliveryPipeline(self, self.component, self.artifact_bucket, self.key)
        self.create_projects()
        self.create_stages()
        self.pipeline.notify(self.notifications)
        self.output("PipelineName", self.pipeline.name, "Name of the pipeline")

    # -- hooks ---------------------------------------------------------------
    def create_projects(self):  # pragma: no cover - abstract
        """Set ``self.build_project``, ``self.checks`` ``[(action, project, input or [inputs])]``, ``self.smoke_project``."""
        raise NotImplementedError

    def deploy_action(self, target: Target):  # pragma: no cover - abstract
        raise NotImplementedError

    def target_url(self, target: Target):  # pragma: no cover - abstract
        """Base URL (``http(s)://host``) of the deployed application in ``target``."""
        raise NotImplementedError

    # -- shared steps --------------------------------------------------------
    def create_parameters(self):
        self.source_key = self.parameter(
            "SourceObjectKey", "Source", "Source archive key",
            Type="String", Default=f"{self.component}/source.zip", AllowedPattern=r"^[A-Za-z0-9!_.*'()/-]+\.zip$",
            ConstraintDescription="an S3 object key ending in .zip",
            Description="Key of the source archive in the source bucket; uploading it starts the pipeline",
        )
        self.staging = Target("Staging", self.parameter(
            "StagingEnvironment", "Targets", "Staging environment",
            Type="String", Default="staging", AllowedPattern=naming.ENVIRONMENT_PATTERN,
            ConstraintDescription="an environment name (2-8 lower-case letters or digits)",
            Description="Environment deployed first; its stacks' exports name the target",
        ))
        self.production = Target("Production", self.parameter(
            "ProductionEnvironment", "Targets", "Production environment",
            Type="String", Default="prod", AllowedPattern=naming.ENVIRONMENT_PATTERN,
            ConstraintDescription="an environment name (2-8 lower-case letters or digits)",
            Description="Environment deployed after the manual approval",
        ))
        self.health_path = self.parameter(
            "HealthCheckPath", "Targets", "Health check path",
            Type="String", Default="/health", AllowedPattern=r"^/[A-Za-z0-9/._-]*$",
            ConstraintDescription="a URL path starting with /",
            Description="Path the smoke tests request on each target",
        )
        self.build = build_settings(self)

    def create_imports(self):
        self.key = KeyReference(foundation.EXPORTS.key_arn.imported())
        self.artifact_bucket = artifacts.artifact_bucket()
        self.source_bucket = artifacts.source_bucket()
        self.approvals = artifacts.approvals_topic()
        self.notifications = TopicReference(foundation.EXPORTS.notifications_topic.imported(), self.key)

    def create_stages(self):
        p = self.pipeline
        p.source_stage(self.source_bucket, Ref(self.source_key))
        p.add_stage(self.build_stage, [p.codebuild_action("Build", self.build_project, [SOURCE], [BUILD_OUTPUT])])
        # Same RunOrder: the checks run in parallel and both must pass.
        p.add_stage(self.checks_stage, [
            p.codebuild_action(name, project, artifacts if isinstance(artifacts, list) else [artifacts], category="Test")
            for name, project, artifacts in self.checks
        ])
        self.create_target_stages(self.staging)
        p.add_stage("Approval", [p.approval_action(
            "PromoteToProduction", self.approvals,
            Sub("Promote the build validated on ${Staging} to ${Production}. Open the link, check the staging "
                "release, then approve to deploy the same artifact to production.",
                Staging=Ref(self.staging.environment), Production=Ref(self.production.environment)),
            self.target_url(self.staging),
        )])
        self.create_target_stages(self.production)

    def create_target_stages(self, target: Target):
        p = self.pipeline
        p.add_stage("Deploy" + target.label, [self.deploy_action(target)], rollback_on_failure=True)
        variables = action_variables({"TARGET_URL": "${Url}", "HEALTH_PATH": "${Path}"},
                                     Url=self.target_url(target), Path=Ref(self.health_path))
        p.add_stage("Validate" + target.label, [
            p.codebuild_action("SmokeTest", self.smoke_project, [SOURCE], variables=variables, category="Test"),
        ])
