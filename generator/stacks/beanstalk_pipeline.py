"""Elastic Beanstalk delivery (tools): ``beanstalk-build`` (the projects) and ``beanstalk-pipeline``
(build once, test and scan in parallel, deploy to the staging Beanstalk environment, validate,
wait for approval, deploy the same artifact to production).

Only what is Beanstalk-specific lives here: the build and check projects and the
ElasticBeanstalk deploy actions. Each target's deploy role holds exactly what the deploy
action needs for that one environment (``components.beanstalk.deploy_grants``), never an
AWS managed administrator policy.

A wave in another account or Region (``components.placement``) runs its deploy action under that environment's
bootstrap deploy role, which holds the same scoped grants by physical names (``away_deploy_grants``); the action
names the application and environment of that account (``beanstalk.named``), and the action creates the
application version there, from the bundle it copies into that account's Beanstalk storage bucket. The
CodePipeline action takes ``RoleArn`` like any action ("the IAM service role that performs the declared action":
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionDeclaration.html; a user's report of it
deploying to another account's environment: https://github.com/aws/aws-cdk/discussions/13069).
"""
from __future__ import annotations

from ..components.codebuild import BuildProject
from ..components import beanstalk as components
from .beanstalk import APP_EXPORTS, EXPORTS, environment_deploy_grants, named
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

    supports_away = True

    def deploy_grants(self, target: Target):
        return environment_deploy_grants(self.APP_EXPORTS, self.EXPORTS, self.ROLES_EXPORTS, target.env)

    @classmethod
    def away_deploy_grants(cls, env: str, application: str) -> list:
        """The same grants as a same-account wave's deploy role, by physical names in the wave's account (the
        storage bucket ``elasticbeanstalk-<Region>-<account>`` is the bootstrap stack's own account and Region)."""
        application_name, environment_name, instance_role, service_role = named(application, env)
        return components.deploy_grants(application_name, environment_name, instance_role_arn=instance_role,
                                        service_role_arn=service_role)

    def deploy_action(self, target: Target, role):
        if self.away(target):
            application, environment, _, _ = named(self.app.name, target.env)
        else:
            application = self.APP_EXPORTS.application_name.imported()
            environment = self.EXPORTS.environment_name.imported(target.env)
        return self.pipeline.action(
            "Deploy", "Deploy", "ElasticBeanstalk", {"ApplicationName": application, "EnvironmentName": environment},
            inputs=[BUILD_OUTPUT], role_arn=role.arn,
        )

    def target_url(self, target: Target):
        return self.delivery.target_export("ServiceUrl").imported(target.env)
