"""Change sets: skip-identical check, create, wait (botocore waiter), describe, delete."""
from __future__ import annotations

import datetime

from botocore.exceptions import ClientError, WaiterError

from ..stackmodel import deployed_template, describe_stack  # noqa: F401  (changeset.describe_stack stays)
from .errors import UsageError

NO_CHANGES = "didn't contain changes"
NO_UPDATES = "No updates are to be performed"


def is_no_changes(reason: str) -> bool:
    return NO_CHANGES in (reason or "") or NO_UPDATES in (reason or "")


def difference(cfn, plan, stack: dict) -> list:
    """What differs between the deployed stack and the local inputs (empty: identical).

    Two read calls: ``stack`` comes from DescribeStacks (parameters, tags), plus GetTemplate
    (the template as submitted, parsed so that formatting does not matter).
    """
    found = []
    deployed_params = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or []}
    if plan.no_echo():
        found.append("NoEcho parameters cannot be compared")
    elif deployed_params != plan.effective_parameters():
        keys = sorted(k for k in set(deployed_params) | set(plan.effective_parameters())
                      if deployed_params.get(k) != plan.effective_parameters().get(k))
        found.append(f"parameters {', '.join(keys)}")
    deployed_tags = {t["Key"]: t["Value"] for t in stack.get("Tags") or []}
    if deployed_tags != plan.tags:
        found.append("tags")
    if not found:  # only then is the template worth fetching
        if deployed_template(cfn, plan.stack_name) != plan.template:
            found.append("template")
    return found


def template_argument(plan, clients, s3_bucket: str = None) -> dict:
    """``TemplateBody``, or ``TemplateURL`` after uploading to ``s3_bucket`` (content-addressed key)."""
    from .plan import MAX_TEMPLATE_BODY

    if plan.template_bytes <= MAX_TEMPLATE_BODY and not s3_bucket:
        return {"TemplateBody": plan.template_text}
    if not s3_bucket:
        raise UsageError(_too_large(plan))
    key = f"cfn-delivery/{plan.stack_name}/{plan.template_sha256}.yaml"
    s3 = clients.s3
    try:
        s3.head_object(Bucket=s3_bucket, Key=key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        s3.put_object(Bucket=s3_bucket, Key=key, Body=plan.template_text.encode("utf-8"),
                      ContentType="application/x-yaml")
        print(f"uploaded template to s3://{s3_bucket}/{key}")
    endpoint = s3.meta.endpoint_url.rstrip("/")
    return {"TemplateURL": f"{endpoint}/{s3_bucket}/{key}"}


def _too_large(plan) -> str:
    from .plan import MAX_TEMPLATE_BODY
    from ..paramfile import display

    return (f"{display(plan.template_path)}: {plan.template_bytes} bytes is over CloudFormation's "
            f"{MAX_TEMPLATE_BODY}-byte inline limit; pass --s3-bucket <bucket> to upload it first")


def check_size(plan, s3_bucket):
    """Raise ``UsageError`` (before any API call) when the template needs S3 and no bucket was given."""
    from .plan import MAX_TEMPLATE_BODY

    if plan.template_bytes > MAX_TEMPLATE_BODY and not s3_bucket:
        raise UsageError(_too_large(plan))


def new_name(revision: str) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    rev = "".join(c for c in revision if c.isalnum() or c == "-")[:20]
    return f"cfn-delivery-{stamp}-{rev}"[:128]


def create(cfn, plan, change_set_type: str, name: str, revision: str, template_arg: dict) -> None:
    kwargs = dict(
        StackName=plan.stack_name, ChangeSetName=name, ChangeSetType=change_set_type,
        Description=f"cfn-delivery {plan.env}/{plan.stack} from git {revision}"[:1024],
        Parameters=plan.parameters(), Tags=plan.aws_tags(), **template_arg,
    )
    if plan.capabilities:
        kwargs["Capabilities"] = plan.capabilities
    rollback = plan.config.rollback_configuration()
    if rollback:
        kwargs["RollbackConfiguration"] = rollback
    cfn.create_change_set(**kwargs)


def wait(cfn, stack_name: str, name: str, delay: float) -> dict:
    """Wait with the ``change_set_create_complete`` waiter; return the change set (any final status)."""
    waiter = cfn.get_waiter("change_set_create_complete")
    try:
        waiter.wait(StackName=stack_name, ChangeSetName=name,
                    WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(1800 / max(delay, 0.1)))})
    except WaiterError:
        pass  # FAILED change sets end the waiter with an error; the description says why
    return cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)


def describe(cfn, stack_name: str, name: str) -> dict:
    """The whole change set (every page), with before/after property values where available."""
    kwargs = dict(StackName=stack_name, ChangeSetName=name, IncludePropertyValues=True)
    first = cfn.describe_change_set(**kwargs)
    changes = list(first.get("Changes", []))
    token = first.get("NextToken")
    while token:
        page = cfn.describe_change_set(NextToken=token, **kwargs)
        changes.extend(page.get("Changes", []))
        token = page.get("NextToken")
    first["Changes"] = changes
    return first


def delete(cfn, stack_name: str, name: str, created_stack: bool, delay: float) -> None:
    """Delete the change set; for a CREATE change set also the empty REVIEW_IN_PROGRESS stack."""
    try:
        cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ChangeSetNotFound":
            raise
    if created_stack:
        stack = describe_stack(cfn, stack_name)
        if stack and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            cfn.delete_stack(StackName=stack_name)
            cfn.get_waiter("stack_delete_complete").wait(
                StackName=stack_name, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(600 / max(delay, 0.1)))})
