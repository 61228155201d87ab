"""``cfn-delivery publish --app <app>``: the infrastructure bundle a pipeline with ``infrastructure: pipeline``
deploys its target stacks from (``components.infrastructure``), built and uploaded to
``infrastructure/<app>.zip`` in the tools source bucket (the upload starts the pipeline).

The bundle holds exactly the application's target templates (``templates/<stack>.yaml``) and, per wave,
their template configuration files (``params/<env>/<stack>.json``): CodePipeline's format
``{"Parameters": {...}, "Tags": {...}, "StackPolicy": {...}}``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/continuous-delivery-codepipeline-cfn-artifacts.html),
which our parameter files already are; publish adds what ``deploy`` adds to them: the tags the tool sets
(Project, Environment, ManagedBy) and, in a protected environment, the stack policy deploy sets. Both are
rendered from the model, exactly as ``templates`` renders them, and the committed files must agree
(a stale ``templates/`` or ``params/`` file is refused). Zip bytes are deterministic: sorted names, a fixed
timestamp and file mode.
"""
from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

from . import model as model_module
from . import paramfile, paramgen, paths, render
from .components import infrastructure
from .core.stack import MANAGED_BY

#: The zip epoch (1980-01-01): every entry gets it, so the bytes depend on the content only.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class PublishError(paramfile.ParamFileError):
    """One line naming the file or key and the fix (exit 2)."""

    def __init__(self, message):
        super().__init__([message])


def application(model, name: str):
    try:
        app = model.application(name)
    except KeyError:
        known = ", ".join(a.name for a in model.applications) or "none"
        raise PublishError(f"{model.path}: applications: no application '{name}'; applications: {known}")
    if not infrastructure.enabled(app):
        raise PublishError(f"{model.path}: applications[{app.name}].infrastructure: is '{app.infrastructure}'; "
                           f"set infrastructure: pipeline to deploy its stacks through the pipeline "
                           f"(docs/infrastructure.md), then run templates and deploy the pipeline")
    return app


def configuration(cls, env: str) -> dict:
    """The template configuration of ``cls`` in ``env``: the parameter file, the tool's tags, and in a
    protected environment the stack policy ``deploy`` sets (``deploy.protect.stack_policy``)."""
    from types import SimpleNamespace

    from .deploy import protect
    from .stackmodel import stateful_resources

    model = cls.model
    document = paramgen.document(cls, env)
    tags = dict(document["Tags"])
    tags.update({"Project": model.project.name, "Environment": env, "ManagedBy": MANAGED_BY})
    result = {"Parameters": document["Parameters"], "Tags": tags}
    if model.environment(env).protected:
        template = render.rendered(cls)[0]
        result["StackPolicy"] = protect.stack_policy(SimpleNamespace(
            params=SimpleNamespace(stack_policy=None), stateful=stateful_resources(template)))
    return result


def entries(model, app) -> dict:
    """Bundle path -> bytes: each target template once, each wave's configuration of each."""
    found = {}
    for env in app.waves:
        for stack in infrastructure.wave_stacks(model, app, env):
            found[infrastructure.template_path(stack.name)] = render.rendered(stack.cls)[1].encode("utf-8")
            text = json.dumps(configuration(stack.cls, env), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
            found[infrastructure.configuration_path(env, stack.name)] = text.encode("utf-8")
    return found


def bundle(model, app) -> bytes:
    """The zip bytes (deterministic)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in sorted(entries(model, app).items()):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below is read the same everywhere
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def stale(model, app) -> list:
    """Committed templates of ``app``'s target stacks (and their parameter files) that differ from what the
    model renders: ``deploy`` reads those files, so the pipeline must not ship something else."""
    problems = []
    for env in app.waves:
        for stack in infrastructure.wave_stacks(model, app, env):
            for path, expected in ((paths.template_file(stack.name), render.rendered(stack.cls)[1]),
                                   (paths.param_file(env, stack.name), paramgen.text(stack.cls, env))):
                if not path.exists() or path.read_text(encoding="utf-8") != expected:
                    problems.append(f"{paramfile.display(path)}: missing or differs from what {model.path} renders; "
                                    f"run `cfn-delivery templates` and commit the result before publishing")
    return sorted(set(problems))


def check(model, app) -> None:
    """What ``deploy`` checks before its first API call, per wave (``deploy.checks.local_checks``): each
    parameter file against its template, the template size, and no placeholder in a protected wave."""
    from .deploy import checks

    for env in app.waves:
        checks.local_checks(env, [s.cls for s in infrastructure.wave_stacks(model, app, env)], deploying=True)


def source_bucket(clients, model) -> str:
    """The tools source bucket, from the ``artifacts`` stack's ``SourceBucketName`` output."""
    from .stacks.artifacts import EXPORTS
    from .stackmodel import stack_name

    name = stack_name(model.project.name, model.tools, EXPORTS.stack)
    from botocore.exceptions import ClientError

    try:
        stacks = clients.cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ValidationError":  # not "does not exist": exit 1
            raise
        raise PublishError(f"stack {name}: not found ({err.response['Error'].get('Message', err)}); deploy it "
                           f"(cfn-delivery deploy --env {model.tools} --stack {EXPORTS.stack}) or pass --bucket")
    for output in stacks[0].get("Outputs") or []:
        if output.get("OutputKey") == EXPORTS.source_bucket.key:
            return output["OutputValue"]
    raise PublishError(f"stack {name}: no {EXPORTS.source_bucket.key} output; redeploy it or pass --bucket")


def upload(clients, bucket: str, key: str, data: bytes) -> str:
    """Put the bundle under the bucket's own KMS key (its policy refuses others); the version id."""
    from .integ.source import encryption_arguments

    extra = encryption_arguments(clients.s3, bucket)
    answer = clients.s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
    return answer.get("VersionId")


def run(args, clients=None) -> int:
    from .deploy.aws import Clients, Target
    from .deploy import envconfig, identity

    current = model_module.current()
    app = application(current, args.app)
    if args.out is None:  # an upload deploys: the committed files, checked as `deploy` checks them
        if not args.skip_stale_check:
            problems = stale(current, app)
            if problems:
                raise paramfile.ParamFileError(problems)
        check(current, app)
    data = bundle(current, app)
    names = sorted(entries(current, app))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_bytes(data)
        print(f"wrote {args.out}: {len(names)} files, {len(data)} bytes")
        return 0
    config = envconfig.load(current.tools)
    identity.check_region(current.tools, args.region)  # the tools environment's, as deploy checks it
    if clients is None:
        clients = Clients(Target(region=args.region or config.region, profile=args.profile or config.profile,
                                 endpoint_url=args.endpoint_url))
    identity.check_account(current.tools, clients)  # credentials of the tools account (when the model names it)
    bucket = args.bucket or source_bucket(clients, current)
    version = upload(clients, bucket, app.infrastructure_key, data)
    print(f"uploaded s3://{bucket}/{app.infrastructure_key} ({len(names)} files, {len(data)} bytes"
          f"{', version ' + version if version else ''}); the pipeline of '{app.name}' starts on it")
    return 0


def register(sub):
    p = sub.add_parser(
        "publish", help="upload an application's infrastructure bundle (infrastructure: pipeline)",
        description="Build infrastructure/<app>.zip (the application's target templates and its waves' template "
                    "configuration files) and upload it to the tools source bucket, which starts the pipeline; "
                    "--out writes the zip instead (docs/infrastructure.md).")
    p.add_argument("--app", required=True, help="the application (its model entry says infrastructure: pipeline)")
    p.add_argument("--out", help="write the zip to this file instead of uploading it")
    p.add_argument("--bucket", help="the tools source bucket (default: the artifacts stack's SourceBucketName)")
    p.add_argument("--region", help="AWS region (default: the tools environment's in delivery.yaml)")
    p.add_argument("--profile", help="AWS profile (default: the tools environment's in delivery.yaml)")
    p.add_argument("--endpoint-url", help="S3/CloudFormation endpoint of a local server (tests)")
    p.add_argument("--skip-stale-check", action="store_true",
                   help="upload even when templates/ or params/ differ from the model (not recommended)")
    p.set_defaults(func=_main)
    return p


def _main(args) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from .deploy.errors import DeployError

    try:
        return run(args)
    except DeployError as err:  # the identity checks: wrong account or Region (2), STS unreachable (1)
        if getattr(args, "debug", False):
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except (BotoCoreError, ClientError) as err:  # one line, exit 1 (bad input is a ParamFileError: exit 2)
        if getattr(args, "debug", False):
            raise
        print(f"error: upload failed: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
