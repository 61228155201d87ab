"""An application in one of its environments: checked against the model before any API call, with the
clients of that environment (and of the tools environment, where the history table lives) and the
outputs of the stacks it reads names from (a name is never spelled here: the stacks declare it)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import model as model_module, registry, stackmodel
from ..deploy import envconfig, identity
from ..deploy.errors import DeployError, UsageError, one_line
from ..stackmodel import Clients, Target
from ..stacks import deployments


@dataclass
class Place:
    app: object            # model.Application
    env: str
    config: object         # deploy.envconfig.EnvironmentConfig of ``env``
    target_stack: object   # the stack class whose outputs name the deployment target
    project: str
    tools: str
    _clients: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.app.kind

    def stack_name(self, stack: str, env: str = None) -> str:
        return stackmodel.stack_name(self.project, env or self.env, stack)


def resolve(app_name: str, env: str) -> Place:
    """``--app``/``--env`` against the model: one line naming the file, the key and the fix (exit 2)."""
    model = model_module.current()
    names = [a.name for a in model.applications]
    if app_name not in names:
        raise UsageError(f"{model.path}: applications: no application '{app_name}'; give --app one of: "
                         f"{', '.join(names) or 'none'} (or add it under applications)")
    app = model.application(app_name)
    if env not in model.environment_names:
        raise UsageError(f"{model.path}: environments: no environment '{env}'; give --env one of: "
                         f"{', '.join(model.environment_names)}")
    if env not in app.runtime_environments:
        raise UsageError(f"{model.path}: applications[{app_name}].waves: application '{app_name}' does not run in "
                         f"'{env}'; give --env one of its environments: {', '.join(app.runtime_environments)}")
    return Place(app, env, envconfig.load(env), _target_stack(app), model.project.name, model.tools)


def _target_stack(app):
    """The stack the application's pipeline deploys to (``Delivery.target_stack``), as a class."""
    stacks = registry.for_application(app.name)
    delivery = next(s.delivery for s in stacks if getattr(s, "delivery", None) is not None)
    return next(s for s in stacks if s.name == delivery.target_stack)


def clients_for(place: Place, env: str, args, given=None) -> Clients:
    """The clients of ``env`` (its region and profile in the model, ``--region``/``--profile`` over them),
    one set per (region, profile); ``given`` (tests) is used for every environment."""
    if given is not None:
        return given
    config = place.config if env == place.env else envconfig.load(env)
    key = (args.region or config.region, args.profile or config.profile)
    if key not in place._clients:
        place._clients[key] = Clients(Target(region=key[0], profile=key[1], max_attempts=args.max_attempts))
    return place._clients[key]


def check_where(env: str, region: str = None) -> None:
    """``--region`` against the environment's region (exit 2, local)."""
    identity.check_region(env, region)


def account_of(env: str, clients) -> str:
    """The account the credentials act in: checked against ``environments[].account`` when the model
    declares one (exit 2 when it differs), else read for display (GetCallerIdentity needs no permission)."""
    declared = identity.check_account(env, clients)
    if declared:
        return declared
    try:
        return str(clients.get("sts").get_caller_identity().get("Account", "unknown account"))
    except Exception as err:  # display only: the caller's own account, whatever it is
        return f"unknown account ({one_line(err)})"


def region_of(clients) -> str:
    return clients.target.region or clients.session.region_name or "the default region"


def outputs(cfn, stack_name: str, deploy_hint: str) -> dict:
    """OutputKey -> OutputValue of a deployed stack (``DeployError`` when it is not there)."""
    stack = stackmodel.describe_stack(cfn, stack_name)
    if stack is None:
        raise DeployError(f"stack {stack_name} does not exist in this account and region; deploy it first "
                          f"({deploy_hint})")
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}


def output(values: dict, declared, stack_name: str) -> str:
    """The output ``declared`` (an ``exports.CrossStackValue``) of ``stack_name``."""
    if not values.get(declared.key):
        raise DeployError(f"stack {stack_name} has no output {declared.key} ({declared.description}); deploy the "
                          f"current template of it first")
    return values[declared.key]


def history_table(place: Place, clients) -> str:
    """The physical name of the tools history table: the ``deployments`` stack's output."""
    name = place.stack_name(deployments.EXPORTS.stack, place.tools)
    values = outputs(clients.cfn, name, f"cfn-delivery deploy --env {place.tools} --stack {deployments.EXPORTS.stack}")
    return output(values, deployments.EXPORTS.table_name, name)


def target_outputs(place: Place, clients) -> tuple:
    """(stack name, outputs) of the deployment target stack in the place's environment."""
    stack = place.target_stack.name
    name = place.stack_name(stack)
    return name, outputs(clients.cfn, name, f"cfn-delivery deploy --env {place.env} --stack {stack}")
