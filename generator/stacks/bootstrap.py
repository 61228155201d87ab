"""``bootstrap``: what the tools account's pipelines need in a target environment's account (issue 15).

Deployed once per environment outside tools, by an administrator of the target account, before any
other stack of that environment (``cfn-delivery deploy --env <env> --stack bootstrap``), or to every
account of an organisational unit by the ``bootstrap-stackset`` stack in tools:

- ``DeployActionRole`` (``{project}-{env}-bootstrap-deploy``): assumed by the tools account's pipeline
  roles only (the account root as principal, narrowed by ``aws:PrincipalArn``), runs change sets on this
  environment's stacks with the execution role, and reads the tools artifacts (the tools key by alias).
- ``ExecutionRole`` (``{project}-{env}-bootstrap-cfn-exec``): CloudFormation's service role for this
  environment's stacks, with the policy derived from their resource types (``generator/execrole.py``).

What the deploy role needs for the actions of a wave in another account or Region is in ``bootstrap-away``
(``stacks/bootstrap_away.py``), deployed after this stack where such a wave lives.
"""
from __future__ import annotations

from awacs import cloudformation as cfn
from awacs import iam as iam_actions
from awacs import kms, s3
from awacs.aws import (AWSPrincipal, ArnLike, Condition, Deny, ForAnyValueStringEquals, Statement,
                       StringEquals)
from troposphere import AccountId, Equals, If, Ref, Region, Sub, iam

from .. import budget, execrole
from ..components.iam import Role, allow, document, is_unscoped, unscoped
from ..components.placement import DEPLOY_ROLE, EXECUTION_ROLE
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from ..core.suppress import Suppression, suppress
from ..model import Value

ACCOUNT_PATTERN = r"^([0-9]{12})?$"
REGION_PATTERN = r"^([a-z]{2}(-[a-z]+)+-[0-9])?$"
#: The tools pipelines' roles are ``{project}-{tools}-<component>-pipeline`` (components/pipeline.py).
PIPELINE_ROLE = "role/${ProjectName}-${DeliveryEnvironment}-*-pipeline"
#: IAM's identity-based managed policy quota, with the budget's headroom (generator/budget.py).
MANAGED_POLICY_BUDGET = budget.MANAGED_POLICY.budget
#: Change-set calls CodePipeline's CloudFormation action makes with its action role
#: (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html#action-reference-CloudFormation-permissions-action).
CHANGE_SET_ACTIONS = (cfn.CreateChangeSet, cfn.DeleteChangeSet, cfn.DescribeChangeSet, cfn.ExecuteChangeSet,
                      cfn.DescribeStacks, cfn.DescribeStackEvents, cfn.GetTemplate, cfn.SetStackPolicy,
                      cfn.UpdateStack, cfn.CreateStack, cfn.DeleteStack)


class EXPORTS(ExportSet):
    stack = "bootstrap"
    deploy_role_arn = declare(stack, "DeployActionRoleArn", "Role the tools pipelines assume in this environment")
    execution_role_arn = declare(stack, "ExecutionRoleArn", "CloudFormation service role of this environment's stacks")


def tools_values(model) -> dict:
    """``ToolsAccountId``/``ToolsRegion`` from the model: the tools environment's ``account`` and
    ``region`` (the project's region), empty when unset (then the deploying account and Region)."""
    tools = model.environment(model.tools)
    region = tools.region or model.project.region or ""
    return {
        "ToolsAccountId": Value(tools.account or "", f"{model.path}: environments[{model.tools}].account"),
        "ToolsRegion": Value(region, f"{model.path}: environments[{model.tools}].region"),
    }


class BootstrapStack(Stack):
    name = "bootstrap"
    description = ("Target-account bootstrap: the deploy-action role the tools pipelines assume and the "
                   "CloudFormation execution role derived from the target stacks' resource types")
    #: Deployed before the execution role exists: not one of the stacks the role manages.
    bootstrap = True

    @classmethod
    def model_values(cls, env: str) -> dict:
        return tools_values(cls.model)

    def create(self):
        self.create_parameters()
        self.create_conditions()
        self.create_execution_role()
        self.create_deploy_action_role()
        self.create_outputs()

    def create_parameters(self):
        p = self.parameter
        self.delivery_env = p(
            "DeliveryEnvironment", "Tools account", "Tools environment",
            Type="String", Default=self.model.tools, AllowedPattern=naming.ENVIRONMENT_PATTERN,
            ConstraintDescription="an environment name (2-8 lower-case letters or digits)",
            Description="Environment of the pipelines that deploy into this one",
        )
        self.tools_account = p(
            "ToolsAccountId", "Tools account", "Tools account id",
            Type="String", Default="", AllowedPattern=ACCOUNT_PATTERN,
            ConstraintDescription="a 12-digit AWS account id, or empty for this account",
            Description="Account of the tools environment (empty: this account)",
        )
        self.tools_region = p(
            "ToolsRegion", "Tools account", "Tools Region",
            Type="String", Default="", AllowedPattern=REGION_PATTERN,
            ConstraintDescription="a Region name, or empty for this Region",
            Description="Region of the tools environment's key and artifact stores (empty: this Region)",
        )

    def create_conditions(self):
        self.condition("ToolsInThisAccount", Equals(Ref(self.tools_account), ""))
        self.condition("ToolsInThisRegion", Equals(Ref(self.tools_region), ""))
        self.tools_account_id = If("ToolsInThisAccount", AccountId, Ref(self.tools_account))
        self.tools_region_name = If("ToolsInThisRegion", Region, Ref(self.tools_region))

    # -- the execution role ---------------------------------------------------------------------
    def create_execution_role(self):
        derived = execrole.derive(execrole.target_templates(self.model))
        self.derived = derived
        policies = []
        for index, group in enumerate(execrole.split(execrole.statements(derived), MANAGED_POLICY_BUDGET), 1):
            policy = self.add(iam.ManagedPolicy(
                f"ExecutionPolicy{index}", PolicyDocument=document(group),
                Description=f"CloudFormation handler permissions of the target stacks' resource types and what their "
                            f"services do as the caller, part {index}",
            ))
            if any(is_unscoped(s) for s in group):
                suppress(policy, Suppression(
                    "Holds the handler actions IAM's data lists without resource-level permissions (Sid "
                    "says so); every other statement is scoped (generator/execrole.py)",
                    guard=("IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",), cfripper=("WildcardResourceRule",),
                ))
            actions = {str(a.JSONrepr()) for st in group for a in st.properties.get("Action", [])}
            if any(a.startswith("iam:") for a in actions):
                suppress(policy, Suppression(
                    "CloudFormation must create this environment's roles and their policies (the IAM resource "
                    "types' handler permissions); scoped to {project}-{env}-* roles and policies, with iam:* "
                    "denied on the bootstrap stack's own",
                    cfripper=("PrivilegeEscalationRule",),
                ))
            if "ecs:TagResource" in actions:
                suppress(policy, Suppression(
                    "ecs:TagResource is a handler permission (tag updates) granted on this account's ECS "
                    "resources without condition, which covers tagging on create as well",
                    cfn_lint=("E9109",),
                ))
            policies.append(Ref(policy))
        # CloudFormation's service role: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html
        self.execution = Role(self, "ExecutionRole", "cloudformation.amazonaws.com", EXECUTION_ROLE,
                              managed_policy_arns=policies,
                              description="CloudFormation service role for this environment's stacks")
        self.execution.grant(self.protect_bootstrap())
        # What the policy was derived from and what it could not cover, for review in the template diff.
        metadata = dict(self.execution.role.resource.get("Metadata", {}) or {})
        gaps = {kind: {t: found[t] or True for t in sorted(found)} for kind, found in derived["gaps"].items() if found}
        orchestrated = sorted(set(derived["types"]) & set(execrole.ORCHESTRATED))
        metadata["cfn-delivery-execution-role"] = {"resource-types": sorted(derived["types"]), **(
            {"orchestration-granted": orchestrated} if orchestrated else {}), **({"not-covered": gaps} if gaps else {})}
        self.execution.role.Metadata = metadata

    def protect_bootstrap(self):
        """The execution role may manage this environment's roles and policies, but never the bootstrap
        stack's own (it would widen itself): a Deny wins over any Allow."""
        return Statement(Effect=Deny, Action=[iam_actions.Action("*")], Resource=[
            Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-${EnvironmentName}-bootstrap-*"),
            Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/${ProjectName}-${EnvironmentName}-bootstrap-*"),
        ])

    # -- the deploy-action role -----------------------------------------------------------------
    def create_deploy_action_role(self):
        tools_root = Sub("arn:${AWS::Partition}:iam::${Account}:root", Account=self.tools_account_id)
        pipelines = Sub("arn:${AWS::Partition}:iam::${Account}:" + PIPELINE_ROLE, Account=self.tools_account_id)
        # The tools account as principal, narrowed to its pipeline roles by aws:PrincipalArn: a role ARN
        # as Principal must exist when the policy is saved (IAM turns it into an id), so naming roles of
        # pipelines deployed later would fail; aws:PrincipalArn takes patterns and needs no existing role
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles,
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
        self.deploy = Role(self, "DeployActionRole", AWSPrincipal(tools_root), DEPLOY_ROLE,
                           source_account=False, trust_conditions={ArnLike: {"aws:PrincipalArn": pipelines}},
                           description="Assumed by the tools pipelines to deploy this environment's stacks")
        stacks = naming.arn("cloudformation", "stack/${ProjectName}-${EnvironmentName}-*/*")
        self.deploy.grant(
            allow(CHANGE_SET_ACTIONS, [stacks]),
            unscoped([cfn.ValidateTemplate], "ValidateTemplate has no resource-level permission"),
            allow([iam_actions.PassRole], [self.execution.arn],
                  condition=Condition(StringEquals({"iam:PassedToService": "cloudformation.amazonaws.com"}))),
            # The tools artifact stores are buckets of the tools environment ({project}-{tools}-...;
            # their policies must admit this role too).
            allow([s3.GetObject, s3.GetObjectVersion],
                  [Sub("arn:${AWS::Partition}:s3:::${ProjectName}-${DeliveryEnvironment}-*/*")]),
            # The tools key by its alias: its ARN holds a key id the model cannot know
            # (https://docs.aws.amazon.com/kms/latest/developerguide/alias-authorization.html).
            allow([kms.Decrypt, kms.DescribeKey],
                  [Sub("arn:${AWS::Partition}:kms:${ToolsRegion}:${ToolsAccount}:key/*",
                       ToolsRegion=self.tools_region_name, ToolsAccount=self.tools_account_id)],
                  condition=Condition(ForAnyValueStringEquals(
                      {"kms:ResourceAliases": Sub("alias/${ProjectName}-${DeliveryEnvironment}")}))),
        )

    def create_outputs(self):
        self.export(EXPORTS.deploy_role_arn, self.deploy.arn)
        self.export(EXPORTS.execution_role_arn, self.execution.arn)
