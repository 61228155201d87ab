"""Stack names and the parameter values a stack gets."""
from __future__ import annotations

from ..core import naming


def stack_name(project: str, env: str, stack: str) -> str:
    """``{project}-{env}-{stack}``: the CloudFormation stack name of ``stack`` in ``env``."""
    return f"{project}-{env}-{stack}"


def cfn_string(value) -> str:
    """A parameter value as CloudFormation passes it: every value is a string, a list is
    comma-joined (``CommaDelimitedList`` / ``List<...>`` defaults), ``true``/``false`` lower-case,
    ``30`` and ``30.0`` both ``"30"``."""
    if isinstance(value, list):
        return ",".join(cfn_string(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return ""
    return str(value)


def effective_parameters(template: dict, file_values) -> dict:
    """Every parameter ``template`` declares, with the value a stack deployed with ``file_values``
    gets: the file's value, else the template's ``Default`` (parameters with neither are left out;
    keys the template does not declare are ignored). Values are strings (:func:`cfn_string`)."""
    file_values = file_values or {}
    values = {}
    for key, spec in ((template or {}).get("Parameters") or {}).items():
        if key in file_values:
            values[key] = cfn_string(file_values[key])
        elif isinstance(spec, dict) and "Default" in spec:
            values[key] = cfn_string(spec["Default"])
    return values


def project_name(template: dict, file_values):
    """The ``ProjectName`` a stack gets (file value, else the template default), or ``None``."""
    file_values = file_values or {}
    if naming.PROJECT in file_values:
        return cfn_string(file_values[naming.PROJECT]) or None
    return effective_parameters(template, {}).get(naming.PROJECT) or None
