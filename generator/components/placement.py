"""Where a wave's pipeline actions run: the tools account and Region, or the wave's own (issue 15).

A wave whose environment names another ``account`` than the tools environment runs every action
(deploy, smoke test, recorder, CloudFormation change sets) under that environment's bootstrap deploy
role (``RoleArn``); one in another Region carries ``Region`` on the action (and the pipeline an
artifact store in that Region). Same account and Region: neither, the pipeline's own role and Region.

The ARNs are built from the naming convention (``{project}-{env}-bootstrap-deploy``) and a parameter
``<Wave>AccountId`` filled from the model, never a literal id; the Region is a parameter
``<Wave>Region`` likewise. Callers pass their stack: the parameters are declared on first use, so a
stack declares only what it references. ``model_values`` is what the stack's parameter files get.
"""
from __future__ import annotations

from dataclasses import dataclass

from troposphere import Ref, Sub

from ..model import Value

#: The bootstrap stack's roles (``stacks/bootstrap.py`` names them with these components).
DEPLOY_ROLE = "bootstrap-deploy"
EXECUTION_ROLE = "bootstrap-cfn-exec"
ACCOUNT_PATTERN = r"^[0-9]{12}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"


def _label(env: str) -> str:
    return "".join(part.capitalize() for part in env.split("-"))


def tools_region(model):
    """The Region of the tools environment (its pipelines): ``region``, else the project's."""
    return model.environment(model.tools).region or model.project.region


@dataclass(frozen=True)
class Placement:
    """``account``: the wave's account id when it is not the tools account, else ``None``;
    ``region``: the wave's Region when it is not the pipeline's, else ``None``."""

    env: str
    account: str = None
    region: str = None
    account_origin: str = None
    region_origin: str = None

    @property
    def cross_account(self) -> bool:
        return self.account is not None

    @property
    def cross_region(self) -> bool:
        return self.region is not None

    @property
    def account_parameter(self) -> str:
        return f"{_label(self.env)}AccountId"

    @property
    def region_parameter(self) -> str:
        return f"{_label(self.env)}Region"


def placement(model, env: str) -> Placement:
    """Where ``env``'s wave runs, from the model (``environments[].account`` / ``.region``)."""
    tools = model.environment(model.tools)
    target = model.environment(env)
    account = target.account if target.account and target.account != tools.account else None
    here, there = tools_region(model), target.region or model.project.region
    region = there if there and there != here else None
    return Placement(env, account, region, target.origin.get("account"), target.origin.get("region"))


def _declare(stack, name, actions_only=False, **props):
    """Declare parameter ``name`` once. ``actions_only``: read by pipeline actions only, so a pipeline's
    roles stack (which builds the same stages) does not declare it (``pipeline_parameter``)."""
    if name not in stack.template.parameters:
        declare = getattr(stack, "pipeline_parameter", None) if actions_only else None
        (declare or stack.parameter)(name, "Accounts", name, Type="String", **props)
    return Ref(name)


def account_id(stack, env: str):
    """``env``'s account id in ``stack``: ``<Wave>AccountId`` when another account, else this account."""
    where = placement(stack.model, env)
    if not where.cross_account:
        return Ref("AWS::AccountId")
    return _declare(stack, where.account_parameter, AllowedPattern=ACCOUNT_PATTERN,
                    ConstraintDescription="a 12-digit AWS account id",
                    Description=f"Account of the {env} environment (its bootstrap roles run the wave's actions)")


def deploy_role_arn(stack, env: str):
    """The bootstrap deploy role of ``env`` when its wave runs in another account, else ``None``."""
    if not placement(stack.model, env).cross_account:
        return None
    return Sub("arn:${AWS::Partition}:iam::${Account}:role/${ProjectName}-%s-%s" % (env, DEPLOY_ROLE),
               Account=account_id(stack, env))


def execution_role_arn(stack, env: str):
    """``env``'s CloudFormation execution role (every environment but tools has one, in its account)."""
    return Sub("arn:${AWS::Partition}:iam::${Account}:role/${ProjectName}-%s-%s" % (env, EXECUTION_ROLE),
               Account=account_id(stack, env))


def action_region(stack, env: str):
    """``Region`` for ``env``'s actions when it is not the pipeline's Region, else ``None``."""
    where = placement(stack.model, env)
    if not where.cross_region:
        return None
    return _declare(stack, where.region_parameter, actions_only=True, AllowedPattern=REGION_PATTERN,
                    ConstraintDescription="a Region name like eu-central-1",
                    Description=f"Region of the {env} environment (where the wave's actions run)")


def wave_placement(stack, env: str) -> tuple:
    """``(RoleArn or None, Region or None)`` for an action of ``env``'s wave in ``stack``."""
    return deploy_role_arn(stack, env), action_region(stack, env)


def model_values(model, envs) -> dict:
    """The ``<Wave>AccountId`` / ``<Wave>Region`` values of ``envs`` from the model (parameter files
    keep only what a template declares)."""
    values = {}
    for env in envs:
        where = placement(model, env)
        if where.cross_account:
            values[where.account_parameter] = Value(where.account, where.account_origin or f"{model.path}: {env}")
        if where.cross_region:
            values[where.region_parameter] = Value(where.region, where.region_origin or f"{model.path}: {env}")
    return values
