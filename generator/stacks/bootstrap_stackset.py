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
from ..core.stack import Stack
from ..model import Placeholder, Value
from .bootstrap import ACCOUNT_PATTERN, tools_values

OU_PATTERN = r"^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}(,ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})*$"
REGIONS_PATTERN = r"^([a-z]{2}(-[a-z]+)+-[0-9](,[a-z]{2}(-[a-z]+)+-[0-9])*)?$"
# StackSet resource: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stackset.html
STACKSET_DOC = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-stackset.html"


class BootstrapStackSetStack(Stack):
    name = "bootstrap-stackset"  # the registry names each copy bootstrap-stackset-<env>
    description = ("Service-managed StackSet deploying one target environment's bootstrap stack to every "
                   "account of its organizational units, new accounts included")
    #: The target environment whose bootstrap stack this StackSet deploys (set by the registry).
    target = None

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
        # Deployed from the management (or delegated administrator) account, "this account" is not the
        # tools account: the id must be given.
        self.template.add_rule("ToolsAccountGiven", {"Assertions": [{
            "Assert": Not(Equals(Ref(self.tools_account), "")),
            "AssertDescription": "ToolsAccountId is required: set environments[tools].account in delivery.yaml",
        }]})
        self.condition("AllRegionsDefault", Equals(Ref(self.regions), ""))
        self.condition("ToolsRegionDefault", Equals(Ref(self.tools_region), ""))

    def create_stack_set(self):
        from .. import registry
        from ..render import rendered

        bootstrap = next(c for c in registry.stacks(self.model) if getattr(c, "bootstrap", False))
        # Compact JSON: the same template as templates/bootstrap.yaml in a third fewer bytes, which keeps
        # this template (body included) inside its budget.
        body = json.dumps(rendered(bootstrap)[0], separators=(",", ":"), ensure_ascii=False)
        model = self.model
        self.add(cloudformation.StackSet(
            "BootstrapStackSet",
            StackSetName=Sub("${ProjectName}-%s-bootstrap" % self.target),
            Description=f"{bootstrap.description} ({self.target})",
            PermissionModel="SERVICE_MANAGED",
            # New accounts in the OUs get the roles; an account leaving them loses them.
            AutoDeployment=cloudformation.AutoDeployment(Enabled=True, RetainStacksOnAccountRemoval=False),
            CallAs=Ref(self.call_as),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            ManagedExecution=cloudformation.ManagedExecution(Active=True),
            OperationPreferences=cloudformation.OperationPreferences(
                FailureToleranceCount=0, MaxConcurrentCount=1, RegionConcurrencyType="SEQUENTIAL"),
            Parameters=[
                cloudformation.Parameter(ParameterKey=naming.PROJECT, ParameterValue=Ref(naming.PROJECT)),
                cloudformation.Parameter(ParameterKey=naming.ENVIRONMENT, ParameterValue=self.target),
                cloudformation.Parameter(ParameterKey="CostCenter", ParameterValue=model.cost_center(self.target)),
                cloudformation.Parameter(ParameterKey="DeliveryEnvironment", ParameterValue=model.tools),
                cloudformation.Parameter(ParameterKey="ToolsAccountId", ParameterValue=Ref(self.tools_account)),
                cloudformation.Parameter(ParameterKey="ToolsRegion",
                                         ParameterValue=If("ToolsRegionDefault", Region, Ref(self.tools_region))),
            ],
            StackInstancesGroup=[cloudformation.StackInstances(
                DeploymentTargets=cloudformation.DeploymentTargets(
                    OrganizationalUnitIds=Split(",", Ref(self.units))),
                Regions=If("AllRegionsDefault", [Region], Split(",", Ref(self.regions))),
            )],
            TemplateBody=body,
        ))
