"""Parameter files generated from the model: ``params/<env>/<stack>.json`` for every stack of every
environment, in the format CodePipeline, ``aws cloudformation deploy --parameter-overrides
file://...`` and ``cfn-delivery deploy`` read::

    {"Parameters": {"ProjectName": "shop", ...}, "Tags": {"Owner": "shop-team", ...}}

A stack gets every value the model sets for a parameter its template declares (the environment's
``parameters``, then the application's, then its ``overrides`` for that environment; ``ProjectName``,
``EnvironmentName``, ``CostCenter`` and ``DeliveryEnvironment`` from the model itself); the others keep
their template default. A model value no stack declares, or a parameter without default that the model
leaves unset, is an error naming the model key. The files are committed and stale-checked like
``templates/``: a hand edit is reported with the advice to edit ``delivery.yaml``.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import paths, registry
from .model import ModelError

#: Parameters the model provides for every stack that declares them.
MODEL_PARAMETERS = ("ProjectName", "EnvironmentName", "CostCenter", "DeliveryEnvironment")


def _template_parameters(stack_cls) -> dict:
    from .render import rendered

    return rendered(stack_cls)[0].get("Parameters") or {}


def model_values(stack_cls, env: str) -> dict:
    """Parameter name -> ``model.Value`` the model sets for ``stack_cls`` in ``env`` (declared or not)."""
    from .model import Value

    model = stack_cls.model
    values = model.parameter_values(env, stack_cls.app)
    values["DeliveryEnvironment"] = Value(model.tools, f"{model.path}: tools")
    extra = getattr(stack_cls, "model_values", None)  # values a stack derives from the model (bootstrap)
    if extra is not None:
        values.update(extra(env))
    return values


def parameter_values(stack_cls, env: str) -> dict:
    """Every template parameter of ``stack_cls`` in ``env`` with the value it deploys with: the model's,
    else the template default (a parameter with neither is left out)."""
    declared = _template_parameters(stack_cls)
    values = model_values(stack_cls, env)
    found = {}
    for name, spec in declared.items():
        if name in values:
            found[name] = values[name].value
        elif "Default" in spec:
            found[name] = str(spec["Default"])
    return found


def document(stack_cls, env: str) -> dict:
    """The parameter file of ``stack_cls`` in ``env``."""
    declared = _template_parameters(stack_cls)
    values = model_values(stack_cls, env)
    parameters = {name: values[name].value for name in declared if name in values}
    return {"Parameters": parameters, "Tags": stack_cls.model.tags(env)}


def text(stack_cls, env: str) -> str:
    return json.dumps(document(stack_cls, env), indent=2, ensure_ascii=False) + "\n"


def problems(model) -> list:
    """Model values that reach no stack, and required parameters the model leaves unset (one line each)."""
    found = []
    declared_anywhere = set()
    for cls in registry.stacks(model):
        declared_anywhere.update(_template_parameters(cls))
    unset = {}  # (stack class, parameter) -> environments where the model leaves it unset
    for env in model.environment_names:
        here = [s for s in registry.stacks(model) if env in s.environments]
        declared_here = set()
        for cls in here:
            declared = _template_parameters(cls)
            declared_here.update(declared)
            values = model_values(cls, env)
            for name, spec in declared.items():
                if name not in values and "Default" not in spec:
                    unset.setdefault((cls, name), []).append(env)
        for name, value in model.environment(env).parameters.items():
            if name in MODEL_PARAMETERS:
                found.append(f"{_at(value)}: {name} comes from the model itself (project.name, the environment's "
                             f"name, cost_center, tools); remove it here")
            # an environment's parameters are defaults for whichever of its stacks declare them (an
            # environment that hosts fewer applications may set more than it uses); a name no stack
            # of the model declares is a typo
            elif name not in declared_here and name not in declared_anywhere:
                found.append(f"{_at(value)}: no stack declares the parameter {name} (in '{env}' or elsewhere); "
                             f"remove it or fix the name")
    for (cls, name), envs in unset.items():  # one line per stack parameter, every environment named
        found.append(_unset_line(model, cls, name, envs))
    found += _value_problems(model)
    for app in model.applications:
        own = [s for s in registry.stacks(model) if s.app is app]
        declared = set()
        for cls in own:
            declared.update(_template_parameters(cls))
        for name, value in app.parameters.items():
            if name in MODEL_PARAMETERS:
                found.append(f"{_at(value)}: {name} comes from the model itself (project.name, the environment's "
                             f"name, cost_center, tools); remove it here")
            elif name not in declared:
                found.append(f"{_at(value)}: no stack of application '{app.name}' declares the parameter "
                             f"{name}; remove it or fix the name")
        for env, overrides in app.overrides.items():
            declared_env = set()
            for cls in own:
                if env in cls.environments:
                    declared_env.update(_template_parameters(cls))
            for name, value in overrides.items():
                if name in MODEL_PARAMETERS:
                    found.append(f"{_at(value)}: {name} comes from the model itself (project.name, the environment's "
                                 f"name, cost_center, tools); remove it here")
                elif name not in declared_env:
                    found.append(f"{_at(value)}: no stack of application '{app.name}' in '{env}' declares the "
                                 f"parameter {name}; remove it or fix the name")
    return found


def _value_problems(model) -> list:
    """Model values a stack's template refuses (AllowedValues, AllowedPattern, type shape, bounds: the
    checks ``params validate`` makes on the file), named at the model line that sets them, with every
    stack and environment they reach."""
    from .paramfile import _check_value

    where = {}  # (origin, problem) -> [stack in env, ...]
    for env in model.environment_names:
        for cls in registry.stacks(model):
            if env not in cls.environments:
                continue
            values = model_values(cls, env)
            for name, spec in _template_parameters(cls).items():
                value = values.get(name)
                if value is None or name in MODEL_PARAMETERS:
                    continue
                prefix = f"{cls.name}: Parameters.{name}: "
                found = [p.removeprefix(prefix) for p in _check_value(cls.name, name, spec, value.value)]
                found += stack_value_problems(cls, name, value.value)
                for problem in found:
                    where.setdefault((_at(value), problem), []).append(f"{cls.name} in '{env}'")
    return [f"{origin}: {problem} (stacks: {', '.join(stacks)})" for (origin, problem), stacks in where.items()]


def stack_value_problems(cls, name: str, value) -> list:
    """What a stack knows about its parameter's values beyond the template's constraints (its class's
    ``parameter_problems``, e.g. a Lambda traffic-shifting strategy longer than the action allows)."""
    check = getattr(cls, "parameter_problems", None)
    return list(check(name, str(value))) if check is not None else []


def _at(value) -> str:
    """``<file>:<line>: <key>`` of a model value (its origin)."""
    return value.origin


def _unset_line(model, cls, name: str, envs: list) -> str:
    """``<file>:<line>: <key>: ...`` for a parameter without default the model leaves unset."""
    where = ", ".join(envs)
    if cls.app is not None:
        here = f"applications[{model.applications.index(cls.app)}]"
        key = f"{here}.parameters.{name}"
        fix = (f"set {name} under {here}.parameters (every environment) or {here}.overrides.<env>, or under "
               f"environments[<env>].parameters")
        line = f"{model.path}:{cls.app.line}"
    else:
        key = f"environments[<env>].parameters.{name}"
        fix = f"set {name} under the parameters of each of these environments"
        line = model.path
    return (f"{line}: {key}: not set, and stack {cls.name} needs it in {where} (its template has no default); "
            f"{fix}")


def expected_files(model) -> dict:
    """``params/<env>/<stack>.json`` path -> text, for every stack of every environment."""
    files = {}
    for env in model.environment_names:
        for cls in registry.stacks(model):
            if env in cls.environments:
                files[paths.param_file(env, cls.name)] = text(cls, env)
    return files


def check(model) -> None:
    """``ModelError`` with every problem of the model that rendering found (before anything is written)."""
    from .names import problems as name_problems

    found = problems(model) + name_problems(model)
    if found:
        raise ModelError(found)


def write(model, out_dir: Path = None) -> list:
    """Write every parameter file; ``[(path, changed)]``. Files no stack renders any more are removed."""
    check(model)
    files = expected_files(model)
    results = []
    for path, content in files.items():
        data = content.encode("utf-8")
        changed = not path.exists() or path.read_bytes() != data
        if changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        results.append((path, "wrote" if changed else "unchanged"))
    base = paths.params_dir()
    for path in sorted(base.glob("*/*.json")) if base.is_dir() else []:
        if path not in files:
            path.unlink()
            results.append((path, "removed"))
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return results


def stale(model) -> list:
    """Parameter files that differ from what the model generates, are missing, or belong to no stack."""
    from .names import problems as name_problems
    from .paramfile import display

    found = problems(model) + name_problems(model)
    files = expected_files(model)
    for path, content in files.items():
        if not path.exists():
            found.append(f"{display(path)}: missing; run `make templates`")
        elif path.read_bytes() != content.encode("utf-8"):
            found.append(f"{display(path)}: differs from what {model.path} generates; parameter files are "
                         f"generated: edit delivery.yaml (never the file) and run `make templates`")
    base = paths.params_dir()
    for path in sorted(base.glob("*/*.json")) if base.is_dir() else []:
        if path not in files:
            found.append(f"{display(path)}: no stack of {model.path} is deployed there; run `make templates` "
                         f"to remove it")
    return found
