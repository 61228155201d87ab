"""Where the project's files live. The project root is the working directory unless
``CFN_DELIVERY_ROOT`` says otherwise (tests point it at a temporary copy)."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .core.naming import ENVIRONMENT_PATTERN



class UnknownEnvironment(LookupError):
    pass


def root() -> Path:
    return Path(os.environ.get("CFN_DELIVERY_ROOT") or os.getcwd())


def templates_dir() -> Path:
    return root() / "templates"


def params_dir() -> Path:
    return root() / "params"


def environments() -> list:
    """The model's environments, in its order (never a list baked into code)."""
    from . import model

    return model.current().environment_names


def check_environment(env: str) -> str:
    if not re.match(ENVIRONMENT_PATTERN, env or ""):
        raise UnknownEnvironment(
            f"invalid environment name '{env}': use 2-8 lower-case letters or digits, starting with a letter"
        )
    known = environments()
    if env not in known:
        from . import model

        raise UnknownEnvironment(
            f"unknown environment '{env}': not under environments in {model.current().path}; known: "
            f"{', '.join(known) or 'none'}; add it there and run `make templates`"
        )
    return env


def param_file(env: str, stack: str) -> Path:
    return params_dir() / env / f"{stack}.json"


def template_file(stack: str) -> Path:
    return templates_dir() / f"{stack}.yaml"
