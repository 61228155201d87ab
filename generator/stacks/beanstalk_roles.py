"""The IAM of one Beanstalk environment (``beanstalk-env-roles``, in each environment the application
runs in): the instances' role and instance profile, and the Beanstalk service role.

Apart from ``beanstalk-env`` so the environment's template keeps its headroom (the two were 40,918
of the 40,960-byte budget together; issue 12): the roles change rarely, the environment's options
often. It deploys before the environment stack, which imports the profile and the service role, so
both roles carry their grants before Beanstalk first uses them. The roles keep their physical names
(``{project}-{env}-<app>-instance`` / ``-service``); docs/architecture.md says how a deployed setup
moves them.
"""
from __future__ import annotations

from awacs.aws import StringEquals

from ..components import beanstalk as components
from ..components.iam import InstanceProfile, Role
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import Stack


#: The roles' names are ``{project}-{env}-<app>-<this>`` (``beanstalk.named`` builds them for an away wave).
INSTANCE_ROLE = "instance"
SERVICE_ROLE = "service"


class ROLES_EXPORTS(ExportSet):
    stack = "beanstalk-env-roles"
    instance_role_arn = declare(stack, "InstanceRoleArn", "Role of the environment's instances (pass it to EC2)")
    instance_profile = declare(stack, "InstanceProfileName", "Instance profile of the environment's instances")
    service_role_arn = declare(stack, "ServiceRoleArn", "Beanstalk service role of the environment")


class BeanstalkEnvRolesStack(Stack):
    name = "beanstalk-env-roles"
    description = "IAM of one Elastic Beanstalk environment: instance role and profile, service role"
    EXPORTS = ROLES_EXPORTS
    APP_EXPORTS = None  # beanstalk.APP_EXPORTS for the application (set by generator/kinds.py)

    @classmethod
    def model_values(cls, env: str) -> dict:
        from .beanstalk import delivery_environment_value

        return delivery_environment_value(cls.model, env)

    def create(self):
        from .beanstalk import delivery_environment  # beanstalk imports this module's exports

        # The application's name is imported from the stack that owns it (as beanstalk-env does).
        delivery_environment(self)
        env_name = naming.physical_name(self.app.name)
        app_name = self.APP_EXPORTS.application_name.imported("${DeliveryEnvironment}")
        # Scoped inline grants instead of AWSElasticBeanstalkWebTier, which lets any instance write to
        # every elasticbeanstalk-* bucket (a staging instance could replace production's bundles).
        instance_role = Role(
            self, "InstanceRole", "ec2.amazonaws.com", f"{self.app.name}-{INSTANCE_ROLE}", source_account=False,
            description="Elastic Beanstalk web-tier instances of one environment",
        )
        instance_role.grant(components.instance_grants(app_name, env_name))
        profile = InstanceProfile(self, "InstanceProfile", instance_role)
        # Beanstalk documents sts:ExternalId "elasticbeanstalk" as its service role trust condition.
        # Scoped grants instead of AWSElasticBeanstalkEnhancedHealth and
        # AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy (elasticbeanstalk:*, cloudformation:* and
        # iam:PassRole to any role): see components/beanstalk.py service_grants.
        service_role = Role(
            self, "ServiceRole", "elasticbeanstalk.amazonaws.com", f"{self.app.name}-{SERVICE_ROLE}", source_account=False,
            trust_conditions={StringEquals: {"sts:ExternalId": "elasticbeanstalk"}},
            description="Elastic Beanstalk service: enhanced health and managed updates of one environment",
            unscoped_managed=True,  # keeps the inline policies 20 % inside IAM's per-role aggregate
        )
        service_role.grant(components.service_grants(app_name, env_name, instance_role.arn))
        self.export(self.EXPORTS.instance_role_arn, instance_role.arn)
        self.export(self.EXPORTS.instance_profile, profile.name)
        self.export(self.EXPORTS.service_role_arn, service_role.arn)
