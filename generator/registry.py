"""The stacks the generator renders, derived from the model (delivery.yaml), and the order they
deploy in, derived from the exports each imports.

``stacks()`` is every stack of the current model: the shared ones (``foundation`` in every
environment; ``artifacts`` and the scanners in tools) and each application's own (``generator.kinds``).
``requires(stack)`` is what a stack needs deployed first, recorded from the ``Fn::ImportValue`` names
in its template; ``deploy_order(env)`` sorts an environment's stacks by it, and a cycle is an error
naming the cycle.
"""
from __future__ import annotations

import re

from . import model as model_module
from .paramfile import ParamFileError
from .kinds import BUILDERS, container_applications, pipeline_components  # noqa: F401 (re-exported)
from .stacks.artifacts import ArtifactsStack
from .stacks.bootstrap import BootstrapStack
from .stacks.bootstrap_away import BootstrapAwayStack
from .stacks.bootstrap_stackset import BootstrapAwayStackSetStack, BootstrapStackSetStack
from .components.placement import away_environments, regional_environments
from .stacks.foundation import FoundationStack
from .stacks.regional_store import RegionalStoreStack
from .stacks.scanners import ImageScannerStack, SourceScannerStack
from .stacks.source_trail import SourceTrailStack
from .stacks.deployments import DeploymentsStack


class UnknownStack(LookupError):
    pass


class DependencyError(ParamFileError):
    """An import no stack exports, or a cycle of imports; one line naming the stacks."""

    def __init__(self, message):
        super().__init__([message])


_stacks_cache: dict = {}
_requires_cache: dict = {}
_exporters_cache: dict = {}
_imported_cache: dict = {}


def _shared(base, model, environments):
    return type(base.__name__, (base,), {"name": base.name, "model": model, "app": None,
                                         "environments": tuple(environments), "__module__": base.__module__,
                                         "__qualname__": base.__qualname__})


def stacks(model=None) -> list:
    """Every stack of ``model`` (default: the current one): shared runtime stacks, each application's
    runtime stacks, the scanners, then each application's delivery stacks."""
    model = model or model_module.current()
    key = id(model)
    cached = _stacks_cache.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    tools = [model.tools]
    runtime, delivery = [], []
    for app in model.applications:
        app_runtime, app_delivery = BUILDERS[app.kind](model, app)
        for cls in app_runtime:  # the target stacks (a pipeline may deploy them: components.infrastructure)
            cls.runtime_stack = True
        runtime += app_runtime
        delivery += app_delivery
    targets = [e for e in model.environment_names if e != model.tools]
    found = [_shared(BootstrapStack, model, targets)] if targets else []  # first: the roles the others need
    away = away_environments(model)  # the deploy role's grants for the actions of waves in another account/Region
    if away:
        found.append(_shared(BootstrapAwayStack, model, away))
    found += [_shared(FoundationStack, model, model.environment_names), _shared(ArtifactsStack, model, tools)]
    regional = regional_environments(model)  # waves in another Region than tools: their artifact store
    if regional:
        found.append(_shared(RegionalStoreStack, model, regional))
    if model.source_trail:  # who uploaded which source archive (audit.source_trail)
        found.append(_shared(SourceTrailStack, model, tools))
    found += runtime
    if model.applications:  # the shared scanners and the deployment history serve the pipelines
        found.append(_shared(SourceScannerStack, model, tools))
        found.append(_shared(DeploymentsStack, model, tools))
    if container_applications(model):
        found.append(_shared(ImageScannerStack, model, tools))
    for env in model.environments:  # a service-managed StackSet per target environment that names OUs
        if env.organizational_units and env.name != model.tools:
            for base in (BootstrapStackSetStack,) + ((BootstrapAwayStackSetStack,) if env.name in away else ()):
                cls = _shared(base, model, tools)
                cls.name, cls.target = f"{base.name}-{env.name}", env.name
                found.append(cls)
    found += delivery
    seen = {}
    for cls in found:
        if cls.name in seen:
            raise model_module.ModelError([f"{model.path}: two stacks are named '{cls.name}' (applications "
                                           f"'{getattr(seen[cls.name].app, 'name', None)}' and "
                                           f"'{getattr(cls.app, 'name', None)}'); rename an application"])
        seen[cls.name] = cls
    _stacks_cache.clear()
    _stacks_cache[key] = (model, found)
    return found


def __getattr__(name):
    if name == "STACKS":  # the current model's stacks (a module attribute for readers of the old list)
        return stacks()
    raise AttributeError(name)


def names():
    return [stack.name for stack in stacks()]


def get(name: str):
    for stack in stacks():
        if stack.name == name:
            return stack
    raise UnknownStack(f"unknown stack '{name}'; known stacks: {', '.join(names())}")


def for_application(app_name: str) -> list:
    """The stacks of one application (``templates --app``)."""
    found = [s for s in stacks() if s.app is not None and s.app.name == app_name]
    if not found:
        known = ", ".join(a.name for a in model_module.current().applications)
        raise UnknownStack(f"unknown application '{app_name}'; applications in "
                           f"{model_module.current().path}: {known}")
    return found


def for_environment(env: str):
    """Stacks deployed in ``env``, in deploy order (the import graph; registry order breaks ties)."""
    return deploy_order(env)


# -- dependencies recorded from imports ---------------------------------------------------------
_IMPORT = re.compile(r"^\$\{ProjectName\}-(?P<env>\$\{[A-Za-z0-9]+\}|[a-z][a-z0-9]{1,7})-(?P<name>.+)$")


def _imports(value, found):
    """Every ``Fn::ImportValue`` argument in ``value``, in document order (one walk, no recursion)."""
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "Fn::ImportValue" in value:
                found.append(value["Fn::ImportValue"])
            stack.extend(reversed(value.values()))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return found


def _imported(stack_cls, template) -> list:
    """The import names of ``stack_cls``'s template, walked once per stack (``requires`` asks once per
    environment the stack is deployed in; the template is the same in each)."""
    model = stack_cls.model
    key = (id(model), stack_cls.name)
    cached = _imported_cache.get(key)
    if cached is not None and cached[0] is model:  # an id is reused once its model is gone
        return cached[1]
    found = _imports(template.get("Outputs"), _imports(template.get("Resources"), []))
    if len(_imported_cache) > 10_000:
        _imported_cache.clear()
    _imported_cache[key] = (model, found)
    return found


def _export_names(template: dict) -> list:
    names = []
    for output in (template.get("Outputs") or {}).values():
        name = (output.get("Export") or {}).get("Name")
        if isinstance(name, dict) and "Fn::Sub" in name and isinstance(name["Fn::Sub"], str):
            names.append(name["Fn::Sub"])
    return names


def _template(cls) -> dict:
    from . import render

    return render.rendered(cls)[0]


def _exporters(model) -> dict:
    """``<stack>-<key>`` (the export name after project and environment) -> the exporting stack; built
    once per model (every ``requires`` reads it: rebuilding it per stack made a plan quadratic)."""
    cached = _exporters_cache.get(id(model))
    if cached is not None and cached[0] is model:  # an id is reused once its model is gone
        return cached[1]
    index = {}
    prefix = "${ProjectName}-${EnvironmentName}-"
    for cls in stacks(model):
        for name in _export_names(_template(cls)):
            if name.startswith(prefix):
                index[name[len(prefix):]] = cls
    _exporters_cache.clear()
    _exporters_cache[id(model)] = (model, index)
    return index


def requires(stack_cls, env: str = None) -> tuple:
    """What ``stack_cls`` needs deployed first: ``"stack"`` in the same environment, ``"env:stack"``
    elsewhere, from the exports its template imports (``DependencyError`` for an import no stack of
    the model exports). ``env`` resolves environment-valued parameters such as ``${DeliveryEnvironment}``."""
    model = getattr(stack_cls, "model", None)
    if model is None:  # a class without a model (tests' fake stacks): its own ``requires``
        return tuple(getattr(stack_cls, "requires", ()) or ())
    env = env or (stack_cls.environments[0] if stack_cls.environments else model.tools)
    key = (id(model), stack_cls.name, env)
    cached = _requires_cache.get(key)
    if cached is not None and cached[0] is model:  # an id is reused once its model is gone
        return cached[1]
    from .paramgen import parameter_values

    exporters = _exporters(model)
    template = _template(stack_cls)
    values = parameter_values(stack_cls, env)
    found = []
    for imported in _imported(stack_cls, template):
        text = imported.get("Fn::Sub") if isinstance(imported, dict) else None
        if isinstance(text, list) and text:
            text = text[0]
        match = _IMPORT.match(text) if isinstance(text, str) else None
        if not match:
            raise DependencyError(f"{stack_cls.name}: imports {imported!r}, which is not an export name of the "
                                  "naming convention ${ProjectName}-<env>-<stack>-<key>")
        where = match.group("env")
        if where.startswith("${"):
            where = env if where == "${EnvironmentName}" else values.get(where[2:-1])
        producer = exporters.get(match.group("name"))
        if producer is None:
            raise DependencyError(f"{stack_cls.name} ({env}): imports '{match.group('name')}', which no stack of "
                                  f"{model.path} exports")
        if not deploys(producer, where):
            raise DependencyError(f"{stack_cls.name} ({env}): imports {producer.name} from '{where}', where "
                                  f"{producer.name} is not deployed ({', '.join(producer.environments)}); "
                                  f"fix the application's waves in {model.path}")
        entry = producer.name if where == env else f"{where}:{producer.name}"
        if entry not in found and producer is not stack_cls:
            found.append(entry)
    result = tuple(found)
    _requires_cache[key] = (model, result)
    return result


def deploys(stack_cls, env: str) -> bool:
    """Whether ``stack_cls`` is deployed in ``env`` (``environments`` None: in every environment)."""
    environments = getattr(stack_cls, "environments", None)
    return environments is None or env in environments


def deploy_order(env: str, model=None) -> list:
    """``env``'s stacks sorted so each comes after what it imports from the same environment."""
    here = [s for s in stacks(model) if deploys(s, env)]
    by_name = {s.name: s for s in here}
    needs = {s.name: [r for r in requires(s, env) if ":" not in r] for s in here}
    return [by_name[n] for n in topological(list(by_name), needs, f"environment '{env}'")]


def topological(nodes: list, needs: dict, where: str) -> list:
    """``nodes`` ordered after their ``needs`` (stable: list order breaks ties); ``DependencyError``
    naming the cycle when there is one."""
    order, state = [], {}

    def visit(node, path):
        if state.get(node) == "done":
            return
        if state.get(node) == "visiting":
            cycle = path[path.index(node):] + [node]
            raise DependencyError(f"import cycle in {where}: {' -> '.join(cycle)}; one of these stacks must "
                                  f"stop importing from the next")
        state[node] = "visiting"
        for need in needs.get(node, []):
            if need in needs:
                visit(need, path + [node])
        state[node] = "done"
        order.append(node)

    for node in nodes:
        visit(node, [])
    return order


def plan(envs: list = None, model=None) -> list:
    """``(env, stack class)`` across environments in a deploy order that honours every import, within
    and across environments (tools foundation -> tools artifacts -> targets -> pipelines)."""
    model = model or model_module.current()
    envs = envs or model.environment_names
    nodes, needs, classes = [], {}, {}
    for env in model.environment_names:  # the model's order breaks ties
        if env not in envs:
            continue
        for cls in deploy_order(env, model):
            node = f"{env}:{cls.name}"
            nodes.append(node)
            classes[node] = (env, cls)
            needs[node] = [r if ":" in r else f"{env}:{r}" for r in requires(cls, env)]
    order = topological(nodes, needs, "the deployment plan")
    return [classes[n] for n in order]


def missing_chain(env: str, stack: str, deployed) -> list:
    """Every ``env:stack`` that must be deployed before ``stack`` in ``env`` and is not in ``deployed``
    (a set of ``env:stack``), in deploy order: the whole chain, not only the nearest step."""
    model = model_module.current()
    chain, seen = [], set()

    def walk(e, name):
        cls = get(name)
        for req in requires(cls, e):
            re_env, _, re_name = req.rpartition(":")
            re_env = re_env or e
            node = f"{re_env}:{re_name}"
            if node in seen:
                continue
            seen.add(node)
            walk(re_env, re_name)
            if node not in deployed:
                chain.append(node)

    walk(env, stack)
    del model
    return chain


# -- account and Region boundaries ------------------------------------------------------------------
IMPORT_VALUE_DOC = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-importvalue.html"


def location(model, env: str) -> tuple:
    """``(account, region)`` of ``env`` as the model says (``None``: the credentials' / default)."""
    e = model.environment(env)
    return e.account, e.region or model.project.region


def boundary(model, env: str, other: str) -> str:
    """Why ``env`` cannot import from ``other`` (another account or Region), or ``""``. Exports resolve
    only within one account and Region (IMPORT_VALUE_DOC)."""
    (account, region), (their_account, their_region) = location(model, env), location(model, other)
    if account != their_account:
        return f"accounts {their_account or 'of the credentials'} -> {account or 'of the credentials'}"
    if region != their_region:
        return f"Regions {their_region or 'default'} -> {region or 'default'}"
    return ""


def boundary_imports(model=None) -> list:
    """One line per stack importing an export from an environment in another account or Region: such a
    stack renders but cannot deploy until the value reaches it as a parameter (issue 15 item 3)."""
    model = model or model_module.current()
    found = []
    for env in model.environment_names:
        for cls in deploy_order(env, model):
            for req in requires(cls, env):
                other, _, stack = req.rpartition(":")
                crossing = boundary(model, env, other) if other else ""
                if crossing:
                    found.append(f"{env}:{cls.name} imports from {other}:{stack} across {crossing}; CloudFormation "
                                 f"exports resolve only within one account and Region ({IMPORT_VALUE_DOC})")
    return found
