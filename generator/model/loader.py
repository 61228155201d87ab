"""Parse and check ``delivery.yaml``: YAML with line numbers, the JSON Schema, then the rules a
schema cannot say (references between environments and applications, names that would collide).

Every problem is one line ``<file>:<line>: <key path>: <what is wrong>; <the fix>``; all of them
are collected and raised together as :class:`ModelError` (the commands exit 2).

Cost (every command loads the model): libyaml composes the nodes when PyYAML has it, and
``quickcheck.surely_valid`` answers for a valid model, so ``jsonschema`` (as costly to import as
troposphere) is imported only to find and word the errors of a model that is not valid.
"""
from __future__ import annotations

import json
import re

import yaml

from ..paramfile import ParamFileError
from .quickcheck import surely_valid
from .schema import CODECOMMIT_REPOSITORY_PATTERN, CONNECTION_REPOSITORY_PATTERN, KINDS, SCHEMA, SOURCE_TYPES
from .types import Application, Environment, Model, Placeholder, Project, Source, Value

PLACEHOLDER_TAG = "!placeholder"
DEFAULT_TOOLS = "tools"


class ModelError(ParamFileError):
    """Every problem of a model file, one line each (a ``ParamFileError``: every command that reports
    bad input reports it the same way, exit 2)."""


class _Loader(yaml.SafeLoader):
    """The pure-Python loader: its error messages are the ones reported."""


if yaml.__with_libyaml__:
    class _CLoader(yaml.CSafeLoader):
        """libyaml's parser (nodes with the same line marks), the same constructors."""
else:  # pragma: no cover - PyYAML built without libyaml
    _CLoader = None


def _placeholder(loader, node):
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, f"{PLACEHOLDER_TAG} marks a single value", node.start_mark)
    return Placeholder(loader.construct_scalar(node))


for _cls in (_Loader, _CLoader):
    if _cls is not None:
        _cls.add_constructor(PLACEHOLDER_TAG, _placeholder)


def _key(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class _Lines:
    """Python data built from the YAML node tree, with the line of every key path."""

    def __init__(self, name):
        self.name = name
        self.lines = {}
        self.problems = []

    def build(self, loader, node, path=()):
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)
            data = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    key = str(key)
                if key in data:
                    self.problems.append(f"{self.name}:{key_node.start_mark.line + 1}: {_key(path + (key,))}: "
                                         f"duplicate key; keep one")
                data[key] = self.build(loader, value_node, path + (key,))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
            return data
        if isinstance(node, yaml.SequenceNode):
            return [self.build(loader, item, path + (i,)) for i, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    def line(self, path) -> int:
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def at(self, path, message) -> str:
        return f"{self.name}:{self.line(path)}: {_key(path)}: {message}"


def _schema_message(error) -> tuple:
    """(key path, message) for one ``jsonschema`` error, in our words."""
    path = tuple(error.absolute_path)
    hint = error.schema.get("description") if isinstance(error.schema, dict) else None
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return path + (extra[0],), (f"unknown key '{extra[0]}'; allowed here: {', '.join(allowed)}"
                                    if allowed else f"unknown key '{extra[0]}'")
    if v == "required":
        missing = error.message.split("'")[1]
        return path, f"missing required key '{missing}'; add it"
    if v == "propertyNames":
        return path, f"'{error.instance}' is not allowed as a key" + (f"; expected {hint}" if hint else "")
    if v == "type":
        wanted = error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        shown = json.dumps(error.instance, default=str)
        return path, f"{shown[:60]} is not a {wanted}" + (f"; expected {hint}" if hint else "")
    if v == "enum":
        return path, f"'{error.instance}' is not allowed; use one of {', '.join(map(str, error.validator_value))}"
    if v == "uniqueItems":
        return path, "lists an item twice; keep each once"
    if v in ("minItems", "maxItems"):
        return path, (f"has {len(error.instance)} item(s); "
                      f"{'at least' if v == 'minItems' else 'at most'} {error.validator_value} allowed"
                      + (f" ({hint})" if hint else ""))
    shown = json.dumps(error.instance, default=str)
    return path, f"{shown[:60]} is not valid" + (f"; expected {hint}" if hint else f" ({error.message})")


def loads(text: str, name: str = "delivery.yaml") -> Model:
    """The model in ``text`` (``name`` is the file named in messages); :class:`ModelError` otherwise."""
    data, lines = _parse(text, name)
    problems = list(lines.problems)
    if not surely_valid(data, SCHEMA):  # a yes/no without importing jsonschema; it finds and words the errors
        import jsonschema

        validator = jsonschema.Draft202012Validator(SCHEMA)
        errors = sorted(validator.iter_errors(data),
                        key=lambda e: (lines.line(e.absolute_path), list(map(str, e.absolute_path))))
        for error in errors:
            path, message = _schema_message(error)
            problems.append(lines.at(path, message))
    if problems:
        raise ModelError(problems)
    problems = _check_references(data, lines)
    if problems:
        raise ModelError(problems)
    return _build(data, lines, name)


def _parse(text: str, name: str) -> tuple:
    """(data, lines) of the YAML document in ``text``. libyaml parses when PyYAML has it: it reads
    the same documents as the pure parser, except that it accepts tabs in plain scalars
    (generator/yamlio.py), hence the guard; on any YAML error the pure parser runs again, so the
    message is always the pure parser's."""
    if _CLoader is not None and "\t" not in text:
        try:
            return _compose(_CLoader(text), name)
        except yaml.YAMLError:
            pass
    try:
        return _compose(_Loader(text), name)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ModelError([f"{where}: invalid YAML: {problem}; fix the syntax there"])


def _compose(loader, name: str) -> tuple:
    lines = _Lines(name)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ModelError([f"{name}:1: the file is empty; describe project, environments and applications "
                              f"(see docs/model.md)"])
        return lines.build(loader, node), lines
    finally:
        loader.dispose()


def load(path) -> Model:
    from pathlib import Path

    path = Path(path)
    return loads(read(path, str(path)), str(path))


def read(path, name: str) -> str:
    """The model file's text; a missing, unreadable (a directory, no permission) or non-UTF-8 file
    is one line naming it (:class:`ModelError`), never a traceback."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError([f"{name}: no model file; create delivery.yaml at the project root "
                          f"(see docs/model.md) or pass --model PATH"])
    except IsADirectoryError:
        raise ModelError([f"{name}: is a directory, not a model file; pass --model PATH to the YAML file"])
    except OSError as err:
        raise ModelError([f"{name}: cannot read the model ({err.strerror or err}); check its permissions"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelError([f"{name}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
                          f"save it as UTF-8"])


def _check_references(data, lines) -> list:
    problems = []
    envs = [e["name"] for e in data["environments"]]
    seen = set()
    for i, env in enumerate(envs):
        if env in seen:
            problems.append(lines.at(("environments", i, "name"), f"environment '{env}' is declared twice; keep one"))
        seen.add(env)
    tools = data.get("tools", DEFAULT_TOOLS)
    if tools not in envs:
        problems.append(lines.at(("tools",) if "tools" in data else ("environments",),
                                 f"the tools environment '{tools}' is not listed under environments; add "
                                 f"'- name: {tools}' (it hosts the pipelines) or set tools: to one that is"))
    problems += _check_accounts(data, lines, tools)
    names = set()
    for i, app in enumerate(data["applications"]):
        here = ("applications", i)
        if app["name"] in names:
            problems.append(lines.at(here + ("name",), f"application '{app['name']}' is declared twice; "
                                                       f"application names must be unique"))
        names.add(app["name"])
        for key in ("waves", "extra_environments"):
            for j, env in enumerate(app.get(key, [])):
                if env not in envs:
                    problems.append(lines.at(here + (key, j), f"unknown environment '{env}'; declare it under "
                                                              f"environments ({', '.join(envs)}) or remove it"))
                elif env == tools:
                    problems.append(lines.at(here + (key, j), f"'{env}' is the tools environment (it hosts the "
                                                              f"pipeline); list target environments only"))
        problems += _check_source(app.get("source"), here + ("source",), lines)
        both = set(app.get("waves", [])) & set(app.get("extra_environments", []))
        for env in sorted(both):
            problems.append(lines.at(here + ("extra_environments",), f"'{env}' is a wave already; remove it "
                                                                      f"from extra_environments"))
        deployed = set(app.get("waves", [])) | set(app.get("extra_environments", [])) | {tools}
        for env in app.get("overrides", {}):
            if env not in deployed:
                problems.append(lines.at(here + ("overrides", env), f"'{app['name']}' has no stacks in '{env}'; "
                                                                    f"override only {', '.join(sorted(deployed))}"))
    if len(names) == len(data["applications"]):  # a repeated name is already the one problem to fix
        problems += _check_components(data, lines)
    return problems


#: What each source type's keys mean, in the message that asks for one.
_SOURCE_KEYS = {
    ("codecommit", "repository"): "the name of an existing CodeCommit repository (the template never creates one)",
    ("connection", "repository"): "the repository as owner/name (GitLab: group/subgroup/name)",
}


def _check_source(source, path, lines) -> list:
    """The keys of ``source`` its ``type`` takes (the schema lists every key of every type)."""
    if not source:
        return []
    kind = source["type"]
    allowed = SOURCE_TYPES[kind]
    problems = []
    for key in source:
        if key != "type" and key not in allowed:
            owners = [t for t, keys in SOURCE_TYPES.items() if key in keys]
            problems.append(lines.at(path + (key,), f"'{key}' does not apply to {_a(kind)} source (only to "
                                                    f"{' and '.join(owners)}); remove it or change type "
                                                    f"({_a(kind)} source takes {', '.join(allowed)})"))
    if kind in ("codecommit", "connection") and "repository" not in source:
        problems.append(lines.at(path, f"a {kind} source needs 'repository': "
                                       f"{_SOURCE_KEYS[(kind, 'repository')]}; add it"))
    repository = source.get("repository")
    if kind == "codecommit" and repository is not None and not re.match(CODECOMMIT_REPOSITORY_PATTERN, repository):
        problems.append(lines.at(path + ("repository",), f"'{repository}' is not a CodeCommit repository name; "
                                                         f"use 1-100 letters, digits, '.', '_' or '-' (no '/')"))
    if kind == "connection" and repository is not None and not re.match(CONNECTION_REPOSITORY_PATTERN, repository):
        problems.append(lines.at(path + ("repository",), f"'{repository}' is not owner/name; write the "
                                                         f"repository as owner/name, e.g. my-org/my-service"))
    return problems


def _a(word: str) -> str:
    return ("an " if word[0] in "aeios" else "a ") + word


def _source(section) -> Source:
    section = section or {}
    given = {k: v for k, v in section.items() if k != "file_paths"}
    return Source(**given, file_paths=tuple(section.get("file_paths", ())))


def _check_accounts(data, lines, tools) -> list:
    """The bootstrap StackSet targets organizational units of target environments only, and needs the
    tools account's id (its roles trust it)."""
    problems = []
    entries = {e["name"]: (i, e) for i, e in enumerate(data["environments"])}
    if tools not in entries:
        return problems
    tools_index, tools_entry = entries[tools]
    if "organizational_units" in tools_entry:
        problems.append(lines.at(("environments", tools_index, "organizational_units"),
                                 f"'{tools}' is the tools environment, which has no bootstrap stack; move "
                                 f"organizational_units to the target environments"))
    if "account" not in tools_entry:
        # A StackSet is deployed from the management (or delegated administrator) account, where "this
        # account" is not the tools account: its bootstrap roles need the tools account's id.
        for name, (i, e) in entries.items():
            if name != tools and "organizational_units" in e:
                problems.append(lines.at(("environments", i, "organizational_units"),
                                         f"'{name}' is bootstrapped in other accounts by a StackSet, but the "
                                         f"tools environment '{tools}' has no account; set "
                                         f"environments[{tools}].account (the bootstrap roles trust it)"))
                break
    return problems


def _check_components(data, lines) -> list:
    """Pipeline components must be prefix-free: an artifact store admits the roles
    ``{project}-{env}-<component>-*``, which must not match another pipeline's roles."""
    from ..kinds import pipeline_component

    found = [(i, pipeline_component(app["kind"], app["name"])) for i, app in enumerate(data["applications"])]
    problems = []
    for i, a in found:
        for j, b in found:
            if i != j and b.startswith(a + "-"):
                problems.append(lines.at(("applications", j, "name"),
                                         f"its pipeline '{b}' starts with the pipeline '{a}' of "
                                         f"applications[{i}]: the artifact store of '{a}' would admit its roles; "
                                         f"rename one application"))
    return problems


def _values(section: dict, path: tuple, lines, name) -> dict:
    values = {}
    for key, raw in (section or {}).items():
        if isinstance(raw, list):
            text = ",".join(_text(v) for v in raw)
            placeholder = any(isinstance(v, Placeholder) for v in raw)
        else:
            text, placeholder = _text(raw), isinstance(raw, Placeholder)
        values[key] = Value(text, f"{name}:{lines.line(path + (key,))}: {_key(path + (key,))}", placeholder)
    return values


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _build(data, lines, name) -> Model:
    p = data["project"]
    project = Project(p["name"], p.get("cost_center", p["name"]), p.get("region"), dict(p.get("tags", {})))
    environments = tuple(
        Environment(
            e["name"], e.get("protected", False), e.get("account"), e.get("region"), e.get("profile"),
            e.get("cost_center"), tuple(e.get("rollback_triggers", [])), e.get("monitoring_minutes"),
            dict(e.get("tags", {})), _values(e.get("parameters"), ("environments", i, "parameters"), lines, name),
            {k: f"{name}:{lines.line(('environments', i, k))}: {_key(('environments', i, k))}"
             for k in ("account", "region") if k in e},
            tuple(e.get("organizational_units", [])),
            bake_minutes=e.get("bake_minutes", 0),
        )
        for i, e in enumerate(data["environments"])
    )
    applications = tuple(
        Application(
            a["name"], a["kind"], tuple(a["waves"]), tuple(a.get("extra_environments", [])),
            _source(a.get("source")),
            _values(a.get("parameters"), ("applications", i, "parameters"), lines, name),
            {env: _values(o, ("applications", i, "overrides", env), lines, name)
             for env, o in (a.get("overrides") or {}).items()},
            lines.line(("applications", i)),
            a.get("infrastructure", "deploy"),
        )
        for i, a in enumerate(data["applications"])
    )
    assert all(a.kind in KINDS for a in applications)
    return Model(name, project, data.get("tools", DEFAULT_TOOLS), environments, applications,
                 bool((data.get("audit") or {}).get("source_trail", False)))
