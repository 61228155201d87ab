"""Where the project's files live. The project root is the working directory unless
``CFN_DELIVERY_ROOT`` says otherwise (tests point it at a temporary copy)."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .core.naming import ENVIRONMENT_PATTERN

ENVIRONMENT_CONFIG = "environment.json"


class UnknownEnvironment(LookupError):
    pass


def root() -> Path:
    return Path(os.environ.get("CFN_DELIVERY_ROOT") or os.getcwd())


def templates_dir() -> Path:
    return root() / "templates"


def params_dir() -> Path:
    return root() / "params"


def environments() -> list:
    """Environments are the folders of ``params/`` (never a list baked into code)."""
    base = params_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


def check_environment(env: str) -> str:
    if not re.match(ENVIRONMENT_PATTERN, env or ""):
        raise UnknownEnvironment(
            f"invalid environment name '{env}': use 2-8 lower-case letters or digits, starting with a letter"
        )
    known = environments()
    if env not in known:
        raise UnknownEnvironment(
            f"unknown environment '{env}': no {params_dir() / env}/ folder; known: {', '.join(known) or 'none'}"
            f"; create params/{env}/ with a parameter file per stack to add it"
        )
    return env


def param_file(env: str, stack: str) -> Path:
    return params_dir() / env / f"{stack}.json"


def template_file(stack: str) -> Path:
    return templates_dir() / f"{stack}.yaml"
