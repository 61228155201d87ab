"""``beanstalk-pipeline`` (tools): build once, test and scan in parallel, deploy to the staging
Beanstalk environment, validate, wait for approval, deploy the same artifact to production.

Only what is Beanstalk-specific lives here: the four CodeBuild projects and the
ElasticBeanstalk deploy actions. Stages, roles, trigger, approval, rollback and
notifications come from :class:`~.delivery.DeliveryPipelineStack`.
"""
from __future__ import annotations

from troposphere import Sub

from ..components.codebuild import LOCAL_CACHE, BuildProject
from .beanstalk import APP_EXPORTS, EXPORTS, managed_policy
from .delivery import BUILD_OUTPUT, DeliveryPipelineStack, Target


class BeanstalkPipelineStack(DeliveryPipelineStack):
    name = "beanstalk-pipeline"
    description = "Elastic Beanstalk delivery pipeline: build, test and scan, staging, approval, production"
    requires = ("foundation", "artifacts", "beanstalk-app", "staging:beanstalk-env", "prod:beanstalk-env")
    component = "beanstalk"

    def create_projects(self):
        common = dict(settings=self.build, key=self.key, artifact_bucket=self.artifact_bucket)
        self.build_project = BuildProject(
            self, "BuildProject", "beanstalk-build", "build.yml", description="Package the application bundle",
            environment=[("APP_DIR", ".")], **common,
        )
        self.checks = [
            ("Test", BuildProject(
                self, "TestProject", "beanstalk-test", "test.yml", description="Unit tests (JUnit report)",
                report="junit", environment=[("APP_DIR", ".")], writes_artifacts=False, **common,
            ), "Source"),
            ("SecurityScan", BuildProject(
                self, "ScanProject", "beanstalk-scan", "security-scan.yml",
                description="SAST and dependency scan; fails on high or critical findings", report="sast",
                environment=[("APP_DIR", "."), ("FAIL_ON_SEVERITY", "high")], writes_artifacts=False, **common,
            ), "Source"),
        ]
        self.smoke_project = BuildProject(
            self, "SmokeProject", "beanstalk-smoke", "smoke-test.yml", description="Smoke test a deployed target",
            report="smoke",
            cache=LOCAL_CACHE, writes_artifacts=False, **common,
        )
        # The ElasticBeanstalk deploy action updates the environment's CloudFormation stack, Auto
        # Scaling group, load balancer and instances with the caller's permissions; AWS documents
        # the managed policy AdministratorAccess-AWSElasticBeanstalk for that. It is kept off the
        # pipeline role: only this role, assumable by the pipeline role alone, carries it.
        self.deploy_role = self.pipeline.action_role(
            "DeployRole", "beanstalk-deploy", "Beanstalk deploy actions of the pipeline",
            managed_policy_arns=[managed_policy("AdministratorAccess-AWSElasticBeanstalk")],
        )
        self.deploy_role.grant(self.artifact_bucket.grant_read())

    def deploy_action(self, target: Target):
        return self.pipeline.action(
            "Deploy", "Deploy", "ElasticBeanstalk", {
                "ApplicationName": APP_EXPORTS.application_name.imported(),
                "EnvironmentName": EXPORTS.environment_name.imported(target.env),
            },
            inputs=[BUILD_OUTPUT], role_arn=self.deploy_role.arn,
        )

    def target_url(self, target: Target):
        return Sub("http://${Host}", Host=EXPORTS.endpoint.imported(target.env))
