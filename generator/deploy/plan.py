"""What to deploy, worked out and checked before any API call.

A :class:`StackPlan` holds everything one stack's deployment needs: the stack name
(``{project}-{env}-{stack}``), the template text and its analysis (capabilities,
stateful logical ids), the validated parameter file, the stack tags and the
environment's deploy settings. :func:`build` raises ``ParamFileError`` (one line
per problem, exit 2) for anything wrong in the inputs.
"""
from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .. import paramfile, paths, registry, yamlio
from ..core import naming
from ..core.stack import MANAGED_BY
# the stack model owns these; the names stay importable from here (plan.stack_name, ...)
from ..stackmodel import (KEEPING_POLICIES, STATEFUL_TYPES, effective_parameters,  # noqa: F401
                          project_name, stack_name, stateful_resources)
from . import envconfig

#: CloudFormation's limit for TemplateBody; larger templates go through S3 (TemplateURL).
MAX_TEMPLATE_BODY = 51_200

IAM_TYPES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::UserToGroupAddition": None,
}

#: Tags the tool sets on every stack; a parameter file may not give them other values.
RESERVED_TAGS = ("Project", "Environment", "ManagedBy")


@dataclass
class StackPlan:
    env: str
    stack: str
    stack_name: str
    project: str
    template_path: object
    template_text: str
    template: dict
    params: paramfile.ParamFile
    config: envconfig.EnvironmentConfig
    tags: dict
    capabilities: list
    stateful: dict = field(default_factory=dict)   # logical id -> resource type
    requires: tuple = ()

    @property
    def template_bytes(self) -> int:
        return len(self.template_text.encode("utf-8"))

    @property
    def template_sha256(self) -> str:
        return hashlib.sha256(self.template_text.encode("utf-8")).hexdigest()

    def parameters(self) -> list:
        """``Parameters`` for CreateChangeSet: the file's values (others take the template default)."""
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in self.params.parameters.items()]

    def effective_parameters(self) -> dict:
        """Every template parameter with the value the stack will get (file value, else default)."""
        return effective_parameters(self.template, self.params.parameters)

    def no_echo(self) -> set:
        return {k for k, spec in (self.template.get("Parameters") or {}).items()
                if str(spec.get("NoEcho", "false")).lower() == "true"}

    def aws_tags(self) -> list:
        return [{"Key": k, "Value": v} for k, v in self.tags.items()]


def capabilities(template: dict) -> list:
    """Capabilities the template needs: IAM / NAMED_IAM from IAM resources, AUTO_EXPAND from transforms."""
    caps = set()
    for resource in (template.get("Resources") or {}).values():
        rtype = resource.get("Type", "")
        if rtype in IAM_TYPES:
            name_prop = IAM_TYPES[rtype]
            if name_prop and name_prop in (resource.get("Properties") or {}):
                caps.add("CAPABILITY_NAMED_IAM")
            else:
                caps.add("CAPABILITY_IAM")
        if rtype.startswith("AWS::Serverless::") or rtype == "AWS::CloudFormation::Macro":
            caps.add("CAPABILITY_AUTO_EXPAND")
    if "Transform" in template or _has_key(template, "Fn::Transform"):
        caps.add("CAPABILITY_AUTO_EXPAND")
    if "CAPABILITY_NAMED_IAM" in caps:
        caps.discard("CAPABILITY_IAM")  # NAMED_IAM implies IAM
    return sorted(caps)


def _has_key(value, key) -> bool:
    if isinstance(value, dict):
        return key in value or any(_has_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_has_key(v, key) for v in value)
    return False


def order(env: str, wanted=None) -> list:
    """Stack classes of ``env`` in deploy order (``registry.deploy_order``: the import graph).

    ``wanted``: names to keep (``None``: all). Raises ``paramfile.ParamFileError`` for a
    requirement the environment does not deploy, or a cycle (``registry.DependencyError``).
    """
    available = [s for s in registry.stacks() if registry.deploys(s, env)]
    names = {s.name for s in available}
    problems = []
    for cls in available:
        for req in registry.requires(cls, env):
            req_env, _, req_stack = req.rpartition(":")
            if req_env and req_env != env:
                continue  # another environment: checked on the server before deploying
            if req_stack not in names:
                problems.append(f"stack '{cls.name}' requires '{req}', which environment '{env}' does not deploy; "
                                f"fix the application's waves in delivery.yaml")
    if problems:
        raise paramfile.ParamFileError(problems)
    result = registry.deploy_order(env)
    if wanted is not None:
        wanted = set(wanted)
        result = [s for s in result if s.name in wanted]
    return result


def chain(env: str) -> list:
    """``(env, stack class)`` pairs that deploy ``env`` from nothing: its stacks in deploy order, each
    preceded (once) by the stacks of other environments it imports from, transitively."""
    result, seen = [], set()

    def visit(stack_env, cls):
        if (stack_env, cls.name) in seen:
            return
        seen.add((stack_env, cls.name))
        for req in registry.requires(cls, stack_env):
            req_env, _, req_stack = req.rpartition(":")
            visit(req_env or stack_env, registry.get(req_stack))
        result.append((stack_env, cls))

    for cls in order(env):
        visit(env, cls)
    return result


def check_readable(path, fix: str) -> None:
    """``ParamFileError`` (one line naming the file) when ``path`` exists but cannot be read as UTF-8
    text: a directory, no permission, an I/O error, bytes that are not UTF-8. A missing file is left
    to the reader (it knows whether that is allowed)."""
    name = paramfile.display(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise paramfile.ParamFileError([f"{name}: is a directory, not a file; {fix}"])
    except OSError as err:
        raise paramfile.ParamFileError([f"{name}: cannot be read ({err.strerror or err}); check its permissions, "
                                        f"then {fix}"])
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise paramfile.ParamFileError([f"{name}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset "
                                        f"{err.start}); save it as UTF-8"])


def build(env: str, stack_cls) -> StackPlan:
    """Read and check one stack's inputs (no API call)."""
    config = envconfig.load(env)
    template_path = paths.template_file(stack_cls.name)
    check_readable(template_path, "run `make templates`")
    try:
        text = template_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise paramfile.ParamFileError([f"{paramfile.display(template_path)}: template not found; run `make templates`"])
    try:
        template = yamlio.load(text)
    except Exception as err:  # yaml errors carry line/column in their text
        raise paramfile.ParamFileError([f"{paramfile.display(template_path)}: not a readable template: "
                                        f"{' '.join(str(err).split())}; run `make templates`"])
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise paramfile.ParamFileError([f"{paramfile.display(template_path)}: no Resources section; run `make templates`"])
    pfile_path = paths.param_file(env, stack_cls.name)
    check_readable(pfile_path, "fix the file")
    pfile = paramfile.validate(pfile_path, template)
    name = paramfile.display(pfile_path)
    declared = template.get("Parameters") or {}
    problems = []
    project = project_name(template, pfile.parameters)
    if not project:
        problems.append(f"{name}: Parameters.{naming.PROJECT}: required to name the stack "
                        f"{{project}}-{env}-{stack_cls.name}; add \"{naming.PROJECT}\": \"...\"")
    env_value = effective_parameters(template, pfile.parameters).get(naming.ENVIRONMENT)
    if naming.ENVIRONMENT in declared and env_value != env:
        problems.append(f"{name}: Parameters.{naming.ENVIRONMENT}: '{env_value}' but the file is in params/{env}/; "
                        f"set it to \"{env}\"")
    reserved = {"Project": project, "Environment": env, "ManagedBy": MANAGED_BY}
    for key in RESERVED_TAGS:
        if key in pfile.tags and pfile.tags[key] != reserved[key]:
            problems.append(f"{name}: Tags.{key}: the tool sets this tag to '{reserved[key]}'; remove it from the file")
    if problems:
        raise paramfile.ParamFileError(problems)
    tags = dict(pfile.tags)
    tags.update(reserved)
    plan = StackPlan(
        env=env, stack=stack_cls.name, stack_name=stack_name(project, env, stack_cls.name), project=project,
        template_path=template_path, template_text=text, template=template, params=pfile, config=config,
        tags=tags, capabilities=capabilities(template), stateful=stateful_resources(template),
        requires=tuple(registry.requires(stack_cls, env)),
    )
    return plan


def name_clashes(plan: StackPlan, stack: dict, kept: list) -> list:
    """Logical ids of ``plan``'s template that would be created with the physical name of a resource
    a failed create kept (``kept``: DELETE_SKIPPED events): a property resolves (parameters,
    pseudo parameters) to that physical id, so creating it again fails with "already exists"."""
    from ..stackmodel import exports

    taken = {str(e.get("PhysicalResourceId")) for e in kept if e.get("PhysicalResourceId")}
    if not taken:
        return []
    known = exports.pseudo_parameters(stack)
    known.update(plan.effective_parameters())
    clashes = []
    for logical_id, resource in (plan.template.get("Resources") or {}).items():
        props = resource.get("Properties") if isinstance(resource, dict) else None
        if not isinstance(props, dict):
            continue
        values = exports.resolve(props, known)
        if any(isinstance(v, str) and v in taken for v in values.values()):
            clashes.append(logical_id)
    return clashes


def git_revision() -> str:
    """``<short sha>`` of the project checkout (``-dirty`` when templates/params differ), or ``unknown``."""
    root = str(paths.root())
    try:
        sha = subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", root, "diff-index", "--quiet", "HEAD", "--", "templates", "params"],
                               capture_output=True, timeout=10).returncode != 0
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
