"""``bootstrap-stackset-<env>``: the ``bootstrap`` stack of one target environment rolled out to every
account of the environment's organizational units (``organizational_units`` in delivery.yaml) by a
service-managed StackSet, with automatic deployment to accounts that join them (issue 15).

Rendered only for environments that list organizational units. Deployed (as a stack of the tools
environment) from the organization's management account, or from a delegated administrator with
``CallAs: DELEGATED_ADMIN``, once trusted access between StackSets and Organizations is active:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-activate-trusted-access.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html.
StackSets never deploys to the management account itself, even inside a targeted OU
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-concepts.html).
"""
from __future__ import annotations

import json

from troposphere import Equals, If, Not, Ref, Region, Split, Sub, cloudformation

from ..core import naming
from ..core.exports import declare
from ..core.stack import Stack
from ..model import Placeholder, Value
from .bootstrap import ACCOUNT_PATTERN, tools_values

OU_PATTERN = r"^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}(,ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})*$"
REGIONS_PATTERN = r"^([a-z]{2}(-[a-z]+)+-[0-9](,[a-z]{2}(-[a-z]+)+-[0-9])*)?$"
# StackSet resource: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stackset.html
STACKSET_DOC = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stackset.html"


def stack_set_arn(target: str):
    """The export of ``bootstrap-stackset-<target>``'s StackSet ARN (tools): the away grants' StackSet of the same
    environment depends on it for auto-deployment, and the import orders the two stacks."""
    return declare(f"{BootstrapStackSetStack.name}-{target}", "StackSetArn",
                   f"StackSet deploying the {target} bootstrap stack")


class BootstrapStackSetStack(Stack):
    name = "bootstrap-stackset"  # the registry names each copy bootstrap-stackset-<env>
    description = ("Service-managed StackSet deploying one target environment's bootstrap stack to every "
                   "account of its organizational units, new accounts included")
    #: The target environment whose bootstrap stack this StackSet deploys (set by the registry).
    target = None
    #: The stack whose template the StackSet deploys, and the suffix of the StackSet's name.
    body = "bootstrap"

    @classmethod
    def model_values(cls, env: str) -> dict:
        target = cls.model.environment(cls.target)
        values = tools_values(cls.model)
        where = f"{cls.model.path}: environments[{cls.target}]"
        values["OrganizationalUnitIds"] = Value(
            ",".join(target.organizational_units), f"{where}.organizational_units",
            placeholder=any(isinstance(ou, Placeholder) for ou in target.organizational_units))
        values["StackInstanceRegions"] = Value(target.region or "", f"{where}.region")
        return values

    def create(self):
        from .. import registry
        from ..render import rendered

        self.body_class = next(c for c in registry.stacks(self.model) if c.name == self.body)
        self.body_template = rendered(self.body_class)[0]
        # the tools account and Region only when the body reads them (bootstrap's trust and grants do)
        self.passes_tools = "ToolsAccountId" in self.body_template.get("Parameters", {})
        self.create_parameters()
        self.create_rules()
        self.create_stack_set()

    def create_parameters(self):
        p = self.parameter
        self.units = p(
            "OrganizationalUnitIds", "Targets", "Organizational units",
            Type="String", AllowedPattern=OU_PATTERN,
            ConstraintDescription="comma-separated organizational unit ids (ou-xxxx-xxxxxxxx)",
            Description=f"OUs whose accounts get the {self.target} bootstrap stack",
        )
        self.regions = p(
            "StackInstanceRegions", "Targets", "Regions",
            Type="String", Default="", AllowedPattern=REGIONS_PATTERN,
            ConstraintDescription="comma-separated Region names, or empty for this Region",
            Description="Regions of the stack instances (empty: this Region)",
        )
        self.call_as = p(
            "CallAs", "Targets", "Called as",
            Type="String", Default="SELF", AllowedValues=["SELF", "DELEGATED_ADMIN"],
            Description="SELF from the management account, DELEGATED_ADMIN from a registered delegated administrator",
        )
        if not self.passes_tools:
            return
        self.tools_account = p(
            "ToolsAccountId", "Tools account", "Tools account id",
            Type="String", AllowedPattern=ACCOUNT_PATTERN,
            ConstraintDescription="the tools environment's 12-digit account id",
            Description="Account of the pipelines the bootstrap roles trust",
        )
        self.tools_region = p(
            "ToolsRegion", "Tools account", "Tools Region",
            Type="String", Default="", AllowedPattern=r"^([a-z]{2}(-[a-z]+)+-[0-9])?$",
            ConstraintDescription="a Region name, or empty for this Region",
            Description="Region of the tools key and artifact stores (empty: this Region)",
        )

    def create_rules(self):
        self.condition("AllRegionsDefault", Equals(Ref(self.regions), ""))
        if not self.passes_tools:
            return
        # Deployed from the management (or delegated administrator) account, "this account" is not the
        # tools account: the id must be given.
        self.template.add_rule("ToolsAccountGiven", {"Assertions": [{
            "Assert": Not(Equals(Ref(self.tools_account), "")),
            "AssertDescription": "ToolsAccountId is required: set environments[tools].account in delivery.yaml",
        }]})
        self.condition("ToolsRegionDefault", Equals(Ref(self.tools_region), ""))

    def create_stack_set(self):
        bootstrap, template = self.body_class, self.body_template
        # Compact JSON: the same template as templates/<body>.yaml in a third fewer bytes, which keeps
        # this template (body included) inside its budget.
        body = json.dumps(template, separators=(",", ":"), ensure_ascii=False)
        model = self.model
        values = {
            naming.PROJECT: Ref(naming.PROJECT), naming.ENVIRONMENT: self.target,
            "CostCenter": model.cost_center(self.target), "DeliveryEnvironment": model.tools,
        }
        if self.passes_tools:
            values.update(ToolsAccountId=Ref(self.tools_account),
                          ToolsRegion=If("ToolsRegionDefault", Region, Ref(self.tools_region)))
        stack_set = self.add(cloudformation.StackSet(
            "BootstrapStackSet",
            StackSetName=Sub("${ProjectName}-%s-%s" % (self.target, self.body)),
            Description=f"{bootstrap.description} ({self.target})",
            PermissionModel="SERVICE_MANAGED",
            # New accounts in the OUs get the roles; an account leaving them loses them.
            AutoDeployment=self.auto_deployment(),
            CallAs=Ref(self.call_as),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            ManagedExecution=cloudformation.ManagedExecution(Active=True),
            OperationPreferences=cloudformation.OperationPreferences(
                FailureToleranceCount=0, MaxConcurrentCount=1, RegionConcurrencyType="SEQUENTIAL"),
            # the body's parameters only: a StackSet refuses a value for a parameter its template lacks
            Parameters=[cloudformation.Parameter(ParameterKey=key, ParameterValue=value)
                        for key, value in values.items() if key in template.get("Parameters", {})],
            StackInstancesGroup=[cloudformation.StackInstances(
                DeploymentTargets=cloudformation.DeploymentTargets(
                    OrganizationalUnitIds=Split(",", Ref(self.units))),
                Regions=If("AllRegionsDefault", [Region], Split(",", Ref(self.regions))),
            )],
            TemplateBody=body,
        ))
        self.create_outputs(stack_set)

    def auto_deployment(self):
        return cloudformation.AutoDeployment(Enabled=True, RetainStacksOnAccountRemoval=False)

    def create_outputs(self, stack_set):
        self.export(stack_set_arn(self.target), Sub(
            "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stackset/${Id}", Id=Ref(stack_set)))


class BootstrapAwayStackSetStack(BootstrapStackSetStack):
    """``bootstrap-away-stackset-<env>``: the ``bootstrap-away`` stack (the deploy role's grants for waves in
    another account or Region) to the same organizational units. Its auto-deployment waits for the bootstrap
    StackSet's in a new account (``AutoDeployment.DependsOn``: the policies attach to the role that one creates,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-cloudformation-stackset-autodeployment.html),
    and the import of its ARN deploys this stack after that one."""

    name = "bootstrap-away-stackset"
    description = ("Service-managed StackSet deploying one target environment's away-wave grants (bootstrap-away) "
                   "to every account of its organizational units, after its bootstrap StackSet")
    body = "bootstrap-away"

    def auto_deployment(self):
        return cloudformation.AutoDeployment(Enabled=True, RetainStacksOnAccountRemoval=False,
                                             DependsOn=[stack_set_arn(self.target).imported()])

    def create_outputs(self, stack_set):
        pass
