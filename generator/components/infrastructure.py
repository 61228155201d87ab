"""An application's target stacks deployed by its pipeline (``infrastructure: pipeline``): which stacks each
wave updates and in which order, the bundle paths the actions read, the CloudFormation change-set actions
and the grants the wave's deploy role needs for them.

The bundle (``generator.publish`` builds and uploads it) is ``infrastructure/<app>.zip`` in the tools
source bucket: ``templates/<stack>.yaml`` of each target stack and ``params/<env>/<stack>.json`` of each
wave, the parameter files in CodePipeline's template configuration format. A second S3 source action
(``Infrastructure``) reads it; per wave, each target stack gets ``CHANGE_SET_REPLACE`` then
``CHANGE_SET_EXECUTE`` (action reference:
https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html),
stacks that import another's exports one step after it, all before the application deploy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from awacs import cloudformation as cfn
from awacs import iam as iam_actions
from awacs.aws import Condition, StringEquals
from troposphere import Sub

from . import placement
from .iam import allow

#: The source action and its output artifact.
ARTIFACT = "Infrastructure"
#: One change set name for every pipeline-made change set: CHANGE_SET_REPLACE deletes the previous one of
#: that name, so an abandoned run leaves nothing behind; ``cfn-delivery deploy`` names its own differently.
CHANGE_SET_NAME = "cfn-delivery-pipeline"
#: The rule starting the pipeline when the bundle is uploaded: ``{pipeline}-<suffix>``.
RULE_SUFFIX = "infrastructure"


def template_path(stack: str) -> str:
    return f"templates/{stack}.yaml"


def configuration_path(env: str, stack: str) -> str:
    return f"params/{env}/{stack}.json"


@dataclass(frozen=True)
class WaveStack:
    """One target stack a wave's Deploy stage updates: ``step`` 0 first, a stack importing from another
    one step later."""

    cls: type
    env: str
    step: int

    @property
    def name(self) -> str:
        return self.cls.name

    def deployed_name(self):
        """The stack's CloudFormation name ``{project}-{env}-{stack}`` (``stackmodel.stack_name``'s rule)."""
        return Sub("${ProjectName}-%s-%s" % (self.env, self.name))

    def arn(self):
        return Sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/"
                   "${ProjectName}-%s-%s/*" % (self.env, self.name))


def enabled(app) -> bool:
    return getattr(app, "infrastructure", "deploy") == "pipeline"


def target_classes(model, app) -> list:
    """``app``'s target stacks (the kind's runtime stacks), in registry order."""
    from .. import registry

    return [cls for cls in registry.stacks(model) if cls.app is app and getattr(cls, "runtime_stack", False)]


def pipeline_owner(cls, env: str):
    """The application whose pipeline updates stack ``cls`` in ``env``, else ``None``: with
    ``infrastructure: pipeline``, each of its target stacks in each of its waves' environments (a target
    stack in an extra environment, outside the waves, stays with ``cfn-delivery deploy``). ``deploy``
    leaves these stacks to the pipeline (``generator.deploy.owned``)."""
    app = getattr(cls, "app", None)
    if app is None or not enabled(app) or not getattr(cls, "runtime_stack", False):
        return None
    return app if env in app.waves and env in (cls.environments or ()) else None


def _imports(value, found: list) -> list:
    if isinstance(value, dict):
        imported = value.get("Fn::ImportValue")
        if imported is not None:
            text = imported.get("Fn::Sub") if isinstance(imported, dict) else imported
            found.append(text[0] if isinstance(text, list) else text)
        for item in value.values():
            _imports(item, found)
    elif isinstance(value, list):
        for item in value:
            _imports(item, found)
    return found


def _in(name: str, env: str, values: dict) -> str:
    """An export name as it resolves in ``env``: ``${EnvironmentName}`` and the environment-valued parameters
    (``DeliveryEnvironment``) replaced by their values; ``${ProjectName}`` is the same on both sides."""
    name = name.replace("${EnvironmentName}", env)
    if "DeliveryEnvironment" in values:
        name = name.replace("${DeliveryEnvironment}", values["DeliveryEnvironment"])
    return name


def _exports(template: dict) -> set:
    names = set()
    for output in (template.get("Outputs") or {}).values():
        name = (output.get("Export") or {}).get("Name")
        names.add(str(name.get("Fn::Sub") if isinstance(name, dict) else name))
    return names


def wave_stacks(model, app, env: str) -> list:
    """The target stacks of ``app`` deployed in ``env``, each with its step (imports decide: a stack comes
    one step after every stack of the wave whose exports it imports), sorted by step, then registry order.
    Names are compared as they resolve in ``env``: an import from an environment a parameter names (a Beanstalk
    stack's ``DeliveryEnvironment``: the wave's own ``<app>-app`` when the wave is away) counts too."""
    from ..paramgen import parameter_values
    from ..render import rendered

    classes = [cls for cls in target_classes(model, app) if pipeline_owner(cls, env) is app]
    templates = {cls.name: rendered(cls)[0] for cls in classes}
    exports = {cls.name: {_in(name, env, {}) for name in _exports(templates[cls.name])} for cls in classes}
    imports = {cls.name: {_in(name, env, parameter_values(cls, env)) for name in _imports(templates[cls.name], [])}
               for cls in classes}
    needs = {name: [other for other in templates if other != name and imports[name] & exports[other]]
             for name in templates}
    steps: dict = {}

    def step(name, seen=()):
        if name in seen:
            raise ValueError(f"import cycle among the target stacks of '{app.name}': {' -> '.join(seen + (name,))}")
        if name not in steps:
            steps[name] = 1 + max((step(n, seen + (name,)) for n in needs[name]), default=-1)
        return steps[name]

    found = [WaveStack(cls, env, step(cls.name)) for cls in classes]
    return sorted(found, key=lambda s: s.step)


def capabilities(cls) -> list:
    from ..deploy.plan import capabilities as template_capabilities
    from ..render import rendered

    return template_capabilities(rendered(cls)[0])


def execution_role_arn(stack, env: str):
    """The CloudFormation execution role of ``env`` (its ``bootstrap`` stack's), by name in ``env``'s account
    (``placement``: ``<Wave>AccountId`` when that is not the tools account)."""
    return placement.execution_role_arn(stack, env)


def grants(stack, stacks: list, env: str) -> list:
    """What the wave's deploy role (tools account) needs to run the change-set actions on exactly ``stacks``
    (the action reference's permissions for CHANGE_SET_REPLACE / CHANGE_SET_EXECUTE) and to pass exactly
    ``env``'s execution role to CloudFormation. None for a wave in another account: its actions run as that
    account's bootstrap deploy role, which holds these for the environment's stacks (``stacks.bootstrap``)."""
    if not stacks or placement.placement(stack.model, env).away:
        return []
    arns = [s.arn() for s in stacks]
    return [
        # cloudformation:ChangeSetName narrows the change-set calls to the pipeline's change set
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html).
        allow([cfn.CreateChangeSet, cfn.DeleteChangeSet, cfn.DescribeChangeSet, cfn.ExecuteChangeSet], arns,
              condition=Condition(StringEquals({"cloudformation:ChangeSetName": CHANGE_SET_NAME}))),
        allow([cfn.DescribeStacks], arns),
        allow([iam_actions.PassRole], [execution_role_arn(stack, env)],
              condition=Condition(StringEquals({"iam:PassedToService": "cloudformation.amazonaws.com"}))),
    ]


def release_overrides(cls, release_parameters: dict) -> tuple:
    """``(ParameterOverrides JSON or None, extra input artifacts)``: the parameters of ``release_parameters``
    (``{name: (artifact, file, key)}``) that ``cls``'s template declares, read from the release's artifacts
    with ``Fn::GetParam`` when the action runs; they take precedence over the template configuration
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/continuous-delivery-codepipeline-parameter-override-functions.html)."""
    from ..render import rendered

    declared = rendered(cls)[0].get("Parameters") or {}
    used = {name: source for name, source in sorted(release_parameters.items()) if name in declared}
    if not used:
        return None, []
    overrides = {name: {"Fn::GetParam": list(source)} for name, source in used.items()}
    return json.dumps(overrides, sort_keys=True), sorted({source[0] for source in used.values()})


def actions(pipeline, stacks: list, env: str, role_arn, release_parameters: dict = None) -> list:
    """``CHANGE_SET_REPLACE`` (run order ``2*step+1``) then ``CHANGE_SET_EXECUTE`` (``2*step+2``) per stack,
    run by the wave's deploy role ``role_arn``, or in another account by that account's bootstrap deploy
    role (with ``Region`` in another Region: ``placement.wave_placement``); the change set runs under
    ``env``'s execution role. ``release_parameters``: see :func:`release_overrides`."""
    found = []
    if not stacks:  # infrastructure: deploy (no placement parameter may be declared for nothing)
        return found
    region = execution = None
    if pipeline.writes_pipeline:  # the roles part discards actions: it must not declare their parameters
        placed_role, region = placement.wave_placement(pipeline.stack, env)
        role_arn = placed_role or role_arn
        execution = execution_role_arn(pipeline.stack, env)
    for stack in stacks:
        common = {"StackName": stack.deployed_name(), "ChangeSetName": CHANGE_SET_NAME}
        replace = dict(common, ActionMode="CHANGE_SET_REPLACE",
                       TemplatePath=f"{ARTIFACT}::{template_path(stack.name)}",
                       TemplateConfiguration=f"{ARTIFACT}::{configuration_path(env, stack.name)}")
        if execution is not None:
            replace["RoleArn"] = execution
        caps = capabilities(stack.cls)
        if caps:
            replace["Capabilities"] = ",".join(caps)
        overrides, inputs = release_overrides(stack.cls, release_parameters or {})
        if overrides:
            replace["ParameterOverrides"] = overrides
        found.append(pipeline.action(f"Prepare-{stack.name}", "Deploy", "CloudFormation", replace,
                                     [ARTIFACT] + inputs, run_order=2 * stack.step + 1, role_arn=role_arn))
        found.append(pipeline.action(f"Execute-{stack.name}", "Deploy", "CloudFormation",
                                     dict(common, ActionMode="CHANGE_SET_EXECUTE"),
                                     run_order=2 * stack.step + 2, role_arn=role_arn))
        if region is not None:
            found[-2].Region = found[-1].Region = region
    return found


def steps(stacks: list) -> int:
    """Run orders the infrastructure actions take (the application deploy comes after)."""
    return 2 * (max(s.step for s in stacks) + 1) if stacks else 0
