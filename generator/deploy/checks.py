"""Every check ``deploy`` makes before its first API call, in one function that ``cfn-delivery params
validate`` calls too: both commands reject the same inputs with the same messages.

:func:`local_checks` builds each stack's plan (template, parameter file against the template, the
naming parameters, reserved tags, template size, the stack's own value checks such as a Lambda
strategy's total wait) and finds the placeholders: values the model marks
``!placeholder``, and any parameter value holding a documentation account id or an
``example.com``/``.org``/``.net`` address. Placeholders are warnings; deploying a protected environment
that still has one is refused (exit 2, no API call) with each listed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import paramfile
from . import envconfig, plan as planning
from .errors import DeployError

#: Account ids AWS documentation uses; they belong to nobody's account.
DOCUMENTATION_ACCOUNTS = ("111122223333", "123456789012")
_SAMPLE = re.compile(r"(?<!\d)(?:" + "|".join(DOCUMENTATION_ACCOUNTS) + r")(?!\d)"
                     r"|(?:^|[@./:\s])example\.(?:com|org|net)(?![a-z0-9-])", re.IGNORECASE)


@dataclass(frozen=True)
class Placeholder:
    """A parameter value that cannot work in a real account, and where to change it."""

    file: str          # params/<env>/<stack>.json as displayed
    parameter: str
    value: str
    origin: str = None  # "delivery.yaml:12 environments[3].parameters.X" when the model sets it

    def __str__(self):
        where = (f"edit {self.origin}" if self.origin else
                 "set it in delivery.yaml (the model) and run `make templates`")
        return f"{self.file}: Parameters.{self.parameter} = '{self.value}' is a placeholder; {where}"


@dataclass
class Checked:
    env: str
    config: envconfig.EnvironmentConfig
    plans: list
    placeholders: list = field(default_factory=list)

    def warnings(self) -> list:
        return [f"warning: {p}" for p in self.placeholders]


def is_sample_value(value) -> bool:
    """A documentation account id or an example.com/.org/.net address anywhere in ``value``."""
    return bool(_SAMPLE.search(str(value)))


def _model_values(env, stack_cls) -> dict:
    """Parameter name -> ``model.Value`` the model sets for ``stack_cls`` in ``env`` (fake classes
    without a model get the environment's own values)."""
    from .. import model as model_module

    stack_model = getattr(stack_cls, "model", None) or model_module.current()
    try:
        values = stack_model.parameter_values(env, getattr(stack_cls, "app", None))
    except KeyError:
        return {}
    derived = getattr(stack_cls, "model_values", None)  # what a stack derives from the model (bootstrap)
    if derived is not None and getattr(stack_cls, "model", None) is not None:
        values.update(derived(env))
    return values


def placeholders(p, stack_cls) -> list:
    """The :class:`Placeholder` values of one stack plan."""
    values = _model_values(p.env, stack_cls)
    found = []
    file = paramfile.display(p.params.path) if getattr(p.params, "path", None) else \
        f"params/{p.env}/{p.stack}.json"
    for key, value in p.params.parameters.items():
        source = values.get(key)
        from_model = source is not None and str(source.value) == str(value)
        if (from_model and source.placeholder) or is_sample_value(value):
            found.append(Placeholder(file, key, str(value), source.origin if from_model else None))
    return found


def _stack_value_problems(p, cls) -> list:
    """The stack's own checks of the parameter file's values (``paramgen.stack_value_problems``: what the
    template's constraints cannot express), one line each naming the file and the key."""
    from ..paramgen import stack_value_problems

    file = paramfile.display(p.params.path) if getattr(p.params, "path", None) else f"params/{p.env}/{p.stack}.json"
    return [f"{file}: Parameters.{key}: {problem}" for key, value in p.params.parameters.items()
            for problem in stack_value_problems(cls, key, value)]


def local_checks(env: str, stack_classes: list, s3_bucket: str = None, deploying: bool = False) -> Checked:
    """Everything ``deploy`` checks before its first API call, for ``stack_classes`` of ``env``:
    ``paramfile.ParamFileError`` with every problem (one line each, exit 2). ``deploying``: refuse
    placeholders when ``env`` is protected (``params validate`` only warns)."""
    config = envconfig.load(env)
    plans, problems, found = [], [], []
    for cls in stack_classes:
        try:
            p = planning.build(env, cls)
        except paramfile.ParamFileError as err:
            problems.extend(err.problems)
            continue
        plans.append(p)
        found += placeholders(p, cls)
        problems += _stack_value_problems(p, cls)
    if problems:
        raise paramfile.ParamFileError(problems)
    from . import changeset

    for p in plans:
        try:
            changeset.check_size(p, s3_bucket)
        except DeployError as err:
            problems.append(str(err))
    if problems:
        raise paramfile.ParamFileError(problems)
    checked = Checked(env, config, plans, found)
    if deploying and config.protected and found:
        raise paramfile.ParamFileError(
            [f"refusing to deploy protected environment '{env}': {len(found)} placeholder value(s) that cannot work "
             f"in a real account; replace each in delivery.yaml (and drop its !placeholder tag), run "
             f"`make templates`, then deploy again:"] + [f"  {p}" for p in found])
    return checked
