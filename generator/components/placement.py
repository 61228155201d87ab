"""Where a wave's pipeline actions run: the tools account and Region, or the wave's own (issue 15).

A wave whose environment names another ``account`` (or Region) than the tools environment runs every
action (deploy, smoke test, recorder, CloudFormation change sets) under that environment's bootstrap
deploy role (``RoleArn``); one in another Region also carries ``Region`` on the action (and the pipeline
an artifact store in that Region). Same account and Region: neither, the pipeline's own roles and Region.

The ARNs are built from the naming convention (``{project}-{env}-bootstrap-deploy``) and a parameter
``<Wave>AccountId`` filled from the model, never a literal id; the Region is a parameter
``<Wave>Region`` likewise. Callers pass their stack: the parameters are declared on first use, so a
stack declares only what it references. ``model_values`` is what the stack's parameter files get.
"""
from __future__ import annotations

from dataclasses import dataclass

from awacs.aws import Allow, ArnEquals, AWSPrincipal, Condition, Statement
from troposphere import Ref, Sub

from ..model import Value

#: The bootstrap stack's roles (``stacks/bootstrap.py`` names them with these components).
DEPLOY_ROLE = "bootstrap-deploy"
EXECUTION_ROLE = "bootstrap-cfn-exec"
ACCOUNT_PATTERN = r"^[0-9]{12}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"


def label(env: str) -> str:
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
    def away(self) -> bool:
        """Another account or Region: the wave's actions run under its bootstrap deploy role."""
        return self.cross_account or self.cross_region

    @property
    def account_parameter(self) -> str:
        return f"{label(self.env)}AccountId"

    @property
    def region_parameter(self) -> str:
        return f"{label(self.env)}Region"


def placement(model, env: str) -> Placement:
    """Where ``env``'s wave runs, from the model (``environments[].account`` / ``.region``)."""
    tools = model.environment(model.tools)
    target = model.environment(env)
    account = target.account if target.account and target.account != tools.account else None
    # Another Region only when both are known (absent: the deploying credentials' Region, for both).
    here, there = tools_region(model), target.region or model.project.region
    region = there if there and here and there != here else None
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
    """The bootstrap deploy role of ``env`` when its wave runs in another account or Region, else ``None``
    (in another Region of the tools account too: every grant of an away wave lives in its bootstrap stack)."""
    if not placement(stack.model, env).away:
        return None
    return Sub("arn:${AWS::Partition}:iam::${Account}:role/${ProjectName}-%s-%s" % (env, DEPLOY_ROLE),
               Account=account_id(stack, env))


def execution_role_arn(stack, env: str):
    """``env``'s CloudFormation execution role (every environment but tools has one, in its account)."""
    return Sub("arn:${AWS::Partition}:iam::${Account}:role/${ProjectName}-%s-%s" % (env, EXECUTION_ROLE),
               Account=account_id(stack, env))


def action_region(stack, env: str, actions_only=True):
    """``Region`` for ``env``'s actions when it is not the pipeline's Region, else ``None``
    (``actions_only=False``: a grant reads it too, so a pipeline's roles stack declares it as well)."""
    where = placement(stack.model, env)
    if not where.cross_region:
        return None
    return _declare(stack, where.region_parameter, actions_only=actions_only, AllowedPattern=REGION_PATTERN,
                    ConstraintDescription="a Region name (lower-case letters, dashes, one digit)",
                    Description=f"Region of the {env} environment (where the wave's actions run)")


#: The artifact store of a wave in another Region: a bucket ``{project}-{env}-<this>-{account}-{region}`` in the
#: wave's environment (``stacks/regional_store.py``), known to the pipeline by that name.
REGIONAL_STORE = "regional"
#: Model parameter (environments[tools].parameters) carrying that store's key ARN to the pipeline: a key ARN
#: holds an id the model cannot know, an alias is refused for another account's key
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codepipeline-pipeline-encryptionkey.html).
KEY_PARAMETER = "{label}ArtifactKeyArn"
KEY_ARN_PATTERN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$"


def regional_store(stack, env: str) -> tuple:
    """``(Region, bucket name, key ARN)`` of the artifact store in cross-Region wave ``env``'s environment, as
    a pipeline stack sees it (parameters ``<Wave>AccountId``, ``<Wave>Region``, ``<Wave>ArtifactKeyArn``)."""
    region = action_region(stack, env, actions_only=False)
    bucket = Sub("${ProjectName}-%s-%s-${Account}-${Region}" % (env, REGIONAL_STORE),
                 Account=account_id(stack, env), Region=region)
    key = _declare(stack, KEY_PARAMETER.format(label=label(env)), AllowedPattern=KEY_ARN_PATTERN,
                   ConstraintDescription="a KMS key ARN",
                   Description=f"Key of the {env} environment's regional artifact store (its stack's KeyArn output)")
    return region, bucket, key


def regional_environments(model) -> list:
    """Environments holding a regional artifact store: waves in another Region than tools."""
    waves = {env for app in model.applications for env in app.waves}
    return [env for env in model.environment_names if env in waves and placement(model, env).cross_region]


def away_environments(model) -> list:
    """Environments hosting a wave of another account or Region than tools, in the model's order."""
    waves = {env for app in model.applications for env in app.waves}
    return [env for env in model.environment_names if env in waves and placement(model, env).away]


def tools_location(stack, purpose: str) -> tuple:
    """``(account, Region)`` of the tools environment in a stack of a wave's environment: parameters
    ``ToolsAccountId`` / ``ToolsRegion`` (``bootstrap.tools_values``; empty: this account / Region), for
    what the stack names there by physical name (``purpose``): exports do not cross accounts or Regions."""
    from troposphere import AccountId, Equals, If, Region

    from ..stacks import bootstrap  # the patterns admit empty (this account / Region)

    for name, pattern, what in (("ToolsAccountId", bootstrap.ACCOUNT_PATTERN, "Account"),
                                ("ToolsRegion", bootstrap.REGION_PATTERN, "Region")):
        if name not in stack.template.parameters:
            stack.parameter(name, "Tools account", f"Tools {what.lower()}", Type="String", Default="",
                            AllowedPattern=pattern, Description=f"{what} of {purpose} (empty: this one)")
            stack.condition(f"ToolsInThis{what}", Equals(Ref(name), ""))
    return If("ToolsInThisAccount", AccountId, Ref("ToolsAccountId")), If("ToolsInThisRegion", Region, Ref("ToolsRegion"))


def recorder_roles(model, components=None) -> list:
    """``[(env, [role name text, ...])]``: the recorder roles of waves in another account than tools (they
    write the tools deployment history across the account boundary). ``components``: ``{application:
    pipeline component}`` (default: every application's); the recorder is ``{project}-{env}-<component>-record``
    (``Delivery.recorder_component``)."""
    from .. import kinds

    if components is None:
        components = {app.name: kinds.pipeline_component(app.kind, app.name) for app in model.applications}
    found = []
    for env in model.environment_names:
        apps = [app for app in model.applications if app.name in components and env in app.waves]
        if apps and placement(model, env).cross_account:
            found.append((env, ["${ProjectName}-%s-%s-record" % (env, components[app.name]) for app in apps]))
    return found


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


def validation_role(env: str, component: str) -> str:
    """``Fn::Sub`` text of the role of pipeline ``component``'s validation project in wave ``env``
    (``BuildProject``: ``{project}-{env}-<component>-check-<env>-role``)."""
    return "${ProjectName}-%s-%s-check-%s-role" % (env, component, env)


def artifact_readers(stack, components=None, region=None) -> list:
    """``[(env, account id, [role ARN, ...])]``: the roles of other accounts that read a pipeline's artifact store
    in Region ``region`` (``None``: the tools Region): each such wave's bootstrap deploy role (its deploy
    action) and its validation project's role (CodeBuild reads the input artifact with it). ``components``:
    ``{application: pipeline component}`` (default: every application's)."""
    from .. import kinds  # the kinds build the stacks that use this module

    model = stack.model
    if components is None:
        components = {app.name: kinds.pipeline_component(app.kind, app.name) for app in model.applications}
    readers = []
    for env in model.environment_names:
        where = placement(model, env)
        apps = [app for app in model.applications if app.name in components and env in app.waves]
        if not where.cross_account or where.region != region or not apps:
            continue
        account = account_id(stack, env)
        names = ["${ProjectName}-%s-%s" % (env, DEPLOY_ROLE)] + [validation_role(env, components[app.name])
                                                                for app in apps]
        readers.append((env, account, [Sub("arn:${AWS::Partition}:iam::${Account}:role/" + name, Account=account)
                                  for name in names]))
    return readers


def reader_statement(sid, account, roles, actions, resources=None, condition=None) -> Statement:
    """Let exactly ``roles`` of another ``account`` do ``actions``: the account root as principal narrowed
    to those role ARNs by ``aws:PrincipalArn`` (``ArnEquals``, no pattern). Not the role ARNs as principals:
    S3 and KMS resolve a named role when the policy is saved and refuse one that does not exist yet
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles),
    and these roles live in other accounts' stacks this one cannot import or wait for (rule E9114); a role
    re-created there (a StackSet re-deploying the bootstrap) would silently drop out of a principal list,
    never out of a condition (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
    The other account's own IAM policy must allow the call too (cross-account access needs both)."""
    conditions = [ArnEquals({"aws:PrincipalArn": list(roles)})]
    if condition is not None:
        conditions.append(condition)
    props = {"Resource": list(resources)} if resources is not None else {}  # none: the policy's own resource (ECR)
    return Statement(Sid=sid, Effect=Allow,
                     Principal=AWSPrincipal(Sub("arn:${AWS::Partition}:iam::${Account}:root", Account=account)),
                     Action=list(actions), Condition=Condition(conditions), **props)
