"""Where the two sides of a diff come from.

- the working tree: every registered stack rendered from the code now (what `make templates`
  would write), parsed the same way as the base;
- a git revision: the committed ``templates/<stack>.yaml`` (``git show <rev>:templates/...``);
- a deployed stack: ``GetTemplate`` (the template as submitted) and ``DescribeStacks``
  (its parameter values), through boto3 with the usual profile/region/endpoint options.
"""
from __future__ import annotations

import json
import subprocess

from .. import paramfile, paths, registry, render, yamlio


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
        return yamlio.load(result.stdout)
    except Exception as err:  # a broken committed file is a usage problem, not a crash
        raise ReviewError(f"{rev}:templates/{stack}.yaml: not a valid template ({str(err).splitlines()[0]})")


# -- deployed stacks ---------------------------------------------------------------

def stack_name(env: str, stack: str) -> str:
    """``{project}-{env}-{stack}``, the project read from the environment's parameter file."""
    data = paramfile.load(paths.param_file(env, stack))
    project = (data.get("Parameters") or {}).get("ProjectName")
    if not project:
        raise ReviewError(f"{paramfile.display(paths.param_file(env, stack))}: Parameters.ProjectName is missing; "
                          f"set it, or name the deployed stack with --stack-name")
    return f"{project}-{env}-{stack}"


def file_values(env: str, stack: str, template: dict) -> dict:
    """Parameter values a deploy from the working tree would use: the file's, else the defaults."""
    data = paramfile.load(paths.param_file(env, stack))
    values = {k: str(v["Default"]) for k, v in (template.get("Parameters") or {}).items() if "Default" in v}
    values.update({k: str(v) for k, v in (data.get("Parameters") or {}).items()})
    return values


def cloudformation_client(region=None, profile=None, endpoint_url=None):
    import boto3
    import botocore.exceptions

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except botocore.exceptions.ProfileNotFound:
        raise ReviewError(f"AWS profile '{profile}' not found; check --profile or ~/.aws/config")
    if not session.region_name:
        raise ReviewError("no AWS region: pass --region or set AWS_REGION")
    return session.client("cloudformation", endpoint_url=endpoint_url)


def deployed(name: str, client) -> tuple:
    """(parsed template, {parameter: value}) of the deployed stack ``name``."""
    import botocore.exceptions

    try:
        described = client.describe_stacks(StackName=name)["Stacks"][0]
        body = client.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    except botocore.exceptions.ClientError as err:
        message = err.response.get("Error", {}).get("Message", str(err))
        raise ReviewError(f"stack '{name}': {message}")
    except botocore.exceptions.NoCredentialsError:
        raise ReviewError("no AWS credentials: set AWS_PROFILE or pass --profile")
    except botocore.exceptions.EndpointConnectionError as err:
        raise ReviewError(f"cannot reach the CloudFormation endpoint: {err}")
    except botocore.exceptions.BotoCoreError as err:
        raise ReviewError(f"stack '{name}': {err}")
    if isinstance(body, str):
        template = yamlio.load(body)
    else:  # boto3 hands back JSON templates already parsed
        template = json.loads(json.dumps(body))
    values = {p["ParameterKey"]: p.get("ParameterValue", "")
              for p in described.get("Parameters") or []}
    return template, values
