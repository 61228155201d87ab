"""Where the two sides of a diff come from.

- the working tree: every registered stack rendered from the code now (what `make templates`
  would write), parsed the same way as the base;
- a git revision: the committed ``templates/<stack>.yaml`` (``git show <rev>:templates/...``);
- a deployed stack: ``GetTemplate`` (the template as submitted) and ``DescribeStacks``
  (its parameter values and exports), read through the stack model (``generator.stackmodel``: the same
  client with adaptive retries and the same template reader as deploy).
"""
from __future__ import annotations

import contextlib
import subprocess

from .. import paramfile, paths, registry, render, stackmodel, yamlio
from . import check


class ReviewError(Exception):
    """A usage problem (bad revision, unknown stack, unreachable stack): one line, exit 2."""


def working_templates(stack_names) -> dict:
    """{stack: parsed template} rendered from the code in the working tree."""
    return {name: yamlio.load(render.render(registry.get(name))) for name in stack_names}


def _git(args, check=True):
    try:
        result = subprocess.run(["git", *args], cwd=paths.root(), capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise ReviewError("git is not installed; use --env/--stack to compare with a deployed stack instead")
    if check and result.returncode != 0:
        raise ReviewError(f"git {' '.join(args)} failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")
    return result


def check_revision(rev: str) -> str:
    """The commit id ``rev`` names; a clear error for a typo or a missing repository."""
    inside = _git(["rev-parse", "--is-inside-work-tree"], check=False)
    if inside.returncode != 0:
        raise ReviewError(f"{paths.root()} is not a git checkout; use --env/--stack to compare with a deployed stack")
    result = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False)
    if result.returncode != 0 or not result.stdout.strip():
        raise ReviewError(f"unknown git revision '{rev}'; give a commit, branch or tag (e.g. --base HEAD~1 or --base origin/main)")
    return result.stdout.strip()


def _prefix() -> str:
    """Path of templates/ relative to the repository root (the project may sit in a subfolder)."""
    top = _git(["rev-parse", "--show-prefix"]).stdout.strip()
    return f"{top}templates/"


def git_template_names(rev: str) -> list:
    prefix = _prefix()
    listing = _git(["ls-tree", "--name-only", f"{rev}", prefix]).stdout.split()
    return sorted(p[len(prefix):-5] for p in listing if p.startswith(prefix) and p.endswith(".yaml"))


def git_template(rev: str, stack: str):
    """The parsed template committed at ``rev`` (None when the stack did not exist there)."""
    result = _git(["show", f"{rev}:{_prefix()}{stack}.yaml"], check=False)
    if result.returncode != 0:
        return None
    try:
        template = yamlio.load(result.stdout)
    except Exception as err:  # a broken committed file is a usage problem, not a crash
        raise ReviewError(f"{rev}:templates/{stack}.yaml: not a valid template ({' '.join(str(err).split())})")
    try:
        return check.check(template)
    except check.TemplateError as err:
        raise ReviewError(f"{rev}:templates/{stack}.yaml: {err}")


# -- deployed stacks ---------------------------------------------------------------

def stack_name(env: str, stack: str, template: dict = None) -> str:
    """``{project}-{env}-{stack}`` (:func:`generator.stackmodel.stack_name`), the project being the
    ``ProjectName`` the environment's parameter file gives (else the template's default)."""
    data = paramfile.load(paths.param_file(env, stack))
    project = stackmodel.project_name(template or {}, data.get("Parameters") or {})
    if not project:
        raise ReviewError(f"{paramfile.display(paths.param_file(env, stack))}: Parameters.ProjectName is missing; "
                          f"set it, or name the deployed stack with --stack-name")
    return stackmodel.stack_name(project, env, stack)


def file_values(env: str, stack: str, template: dict) -> dict:
    """Parameter values a deploy from the working tree would use: the file's, else the defaults."""
    data = paramfile.load(paths.param_file(env, stack))
    return stackmodel.effective_parameters(template, data.get("Parameters") or {})


def cloudformation_client(region=None, profile=None, endpoint_url=None):
    """The stack model's CloudFormation client (adaptive retries), with review's usage errors."""
    import botocore.exceptions

    clients = stackmodel.Clients(stackmodel.Target(region=region, profile=profile, endpoint_url=endpoint_url))
    try:
        session = clients.session
    except botocore.exceptions.ProfileNotFound:
        raise ReviewError(f"AWS profile '{profile}' not found; check --profile or ~/.aws/config")
    if not session.region_name:
        raise ReviewError("no AWS region: pass --region or set AWS_REGION")
    return clients.cfn


@contextlib.contextmanager
def _aws_errors(name: str):
    """AWS and connection errors while reading stack ``name``: one line (a :class:`ReviewError`)."""
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as err:
        info = err.response.get("Error", {})
        message = info.get("Message") or str(err)
        operation = getattr(err, "operation_name", "")
        if info.get("Code") in ("AccessDenied", "AccessDeniedException") and operation:
            message += f" (grant cloudformation:{operation})"
        raise ReviewError(f"stack '{name}': {message}")
    except botocore.exceptions.NoCredentialsError:
        raise ReviewError("no AWS credentials: set AWS_PROFILE or pass --profile")
    except botocore.exceptions.EndpointConnectionError as err:
        raise ReviewError(f"cannot reach the CloudFormation endpoint: {err}")
    except botocore.exceptions.BotoCoreError as err:
        raise ReviewError(f"stack '{name}': {err}")


def deployed(name: str, client) -> tuple:
    """(parsed template, {parameter: value}, DescribeStacks entry) of the deployed stack ``name``."""
    with _aws_errors(name):
        described = stackmodel.describe_stack(client, name)
        if described is None:
            raise ReviewError(f"stack '{name}': Stack with id {name} does not exist")
        template = stackmodel.deployed_template(client, name)
    values = {p["ParameterKey"]: p.get("ParameterValue", "")
              for p in described.get("Parameters") or []}
    try:
        template = check.check(template, values)  # Fn::ForEach expanded with the stack's values
    except check.TemplateError as err:
        raise ReviewError(f"stack '{name}' (deployed template): {err}")
    return template, values, described


def ask(name: str, function, *args):
    """``function(*args)``, which calls AWS about stack ``name`` (ListImports...), with the same
    one-line errors as :func:`deployed`."""
    with _aws_errors(name):
        return function(*args)
