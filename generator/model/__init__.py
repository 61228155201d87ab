"""The declarative model: ``delivery.yaml`` describes the project, its ordered environments and
its applications once; the stacks, the parameter files, deploy, review and lint read it.

``load(path)`` parses and checks a model file (every problem one line naming the file, the line,
the key and the fix; :class:`ModelError`); ``current()`` is the model the commands use:
``--model PATH`` (which sets ``CFN_DELIVERY_MODEL``), else ``delivery.yaml`` at the project root.
"""
from __future__ import annotations

import os
from pathlib import Path

from .loader import ModelError, load, loads, read  # noqa: F401
from .types import Application, Environment, Model, Placeholder, Project, Value  # noqa: F401

MODEL_ENV = "CFN_DELIVERY_MODEL"
DEFAULT_FILE = "delivery.yaml"

_cache: dict = {}


def path() -> Path:
    from .. import paths

    chosen = os.environ.get(MODEL_ENV)
    return Path(chosen) if chosen else paths.root() / DEFAULT_FILE


def current() -> Model:
    """The model the commands use, loaded once per file content."""
    where = path()
    text = read(where, str(where))
    key = (str(where), text)
    if key not in _cache:
        _cache.clear()
        _cache[key] = loads(text, _display(where))
    return _cache[key]


def _display(where: Path) -> str:
    try:
        return str(where.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(where)


def use(model_path) -> None:
    """Make ``model_path`` the model of this process (``--model``)."""
    os.environ[MODEL_ENV] = str(Path(model_path).resolve())
