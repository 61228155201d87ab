"""Elastic Beanstalk delivery (tools): ``beanstalk-build`` (the projects) and ``beanstalk-pipeline``
(build once, test and scan in parallel, deploy to the staging Beanstalk environment, validate,
wait for approval, deploy the same artifact to production).

Only what is Beanstalk-specific lives here: the build and check projects and the
ElasticBeanstalk deploy actions. Each target's deploy role holds exactly what the deploy
action needs for that one environment (``components.beanstalk.deploy_grants``), never an
AWS managed administrator policy.
"""
from __future__ import annotations

from ..components.codebuild import BuildProject
from .beanstalk import APP_EXPORTS, EXPORTS, environment_deploy_grants
from .beanstalk_roles import ROLES_EXPORTS
from .delivery import BUILD_OUTPUT, DeliveryBuildStack, DeliveryPipelineStack, DeliveryValidationStack, Target


class BeanstalkBuildStack(DeliveryBuildStack):
    name = "beanstalk-build"
    description = "Elastic Beanstalk delivery projects: build, unit tests, security scan, per-target validation"
    check_actions = (("Test", "TestProject", ["Source"]),)

    def create_projects(self):
        common = self.common
        self.build_project = BuildProject(
            self, "BuildProject", f"{self.component}-build", "build.yml", description="Package the application bundle",
            environment=[("APP_DIR", ".")], **common,
        )
        self.checks = [
            ("Test", BuildProject(
                self, "TestProject", f"{self.component}-test", "test.yml", description="Unit tests (JUnit report)",
                report="junit", environment=[("APP_DIR", ".")], writes_artifacts=False, **common,
            ), "Source"),
        ]


class BeanstalkValidationStack(DeliveryValidationStack):
    name = "beanstalk-validation"
    description = "Elastic Beanstalk delivery: validation of each target from inside its VPC"


class BeanstalkPipelineStack(DeliveryPipelineStack):
    name = "beanstalk-pipeline"
    description = "Elastic Beanstalk delivery pipeline: build, test and scan, then each wave (approval before protected ones)"
    build_class = BeanstalkBuildStack
    APP_EXPORTS = APP_EXPORTS
    EXPORTS = EXPORTS
    ROLES_EXPORTS = ROLES_EXPORTS

    def deploy_grants(self, target: Target):
        return environment_deploy_grants(self.APP_EXPORTS, self.EXPORTS, self.ROLES_EXPORTS, target.env)

    def deploy_action(self, target: Target, role):
        return self.pipeline.action(
            "Deploy", "Deploy", "ElasticBeanstalk", {
                "ApplicationName": self.APP_EXPORTS.application_name.imported(),
                "EnvironmentName": self.EXPORTS.environment_name.imported(target.env),
            },
            inputs=[BUILD_OUTPUT], role_arn=role.arn,
        )

    def target_url(self, target: Target):
        return self.delivery.target_export("ServiceUrl").imported(target.env)
