"""Change sets: skip-identical check, create, wait (botocore waiter), describe, delete, and
:class:`Owned`, the one cleanup path for a change set this run created."""
from __future__ import annotations

import datetime
import signal
import threading

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


def create(cfn, plan, change_set_type: str, name: str, revision: str, template_arg: dict, role_arn: str = None) -> str:
    """CreateChangeSet; ``role_arn``: the CloudFormation service role the stack runs with from now on
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html)."""
    kwargs = dict(
        StackName=plan.stack_name, ChangeSetName=name, ChangeSetType=change_set_type,
        Description=f"cfn-delivery {plan.env}/{plan.stack} from git {revision}"[:1024],
        Parameters=plan.parameters(), Tags=plan.aws_tags(), **template_arg,
    )
    if plan.capabilities:
        kwargs["Capabilities"] = plan.capabilities
    if role_arn:
        kwargs["RoleARN"] = role_arn
    rollback = plan.config.rollback_configuration()
    if rollback:
        kwargs["RollbackConfiguration"] = rollback
    return cfn.create_change_set(**kwargs).get("Id")


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


def _gone(err: ClientError) -> bool:
    info = err.response.get("Error", {})
    return info.get("Code") in ("ChangeSetNotFound", "ChangeSetNotFoundException") or (
        info.get("Code") == "ValidationError" and "does not exist" in (info.get("Message") or ""))


def delete(cfn, stack_name: str, name: str, created_stack: bool, delay: float) -> bool:
    """Delete the change set (gone already: fine); for a CREATE change set also the empty
    REVIEW_IN_PROGRESS stack, unless another change set (a concurrent deploy's) is waiting on it.
    Returns whether the empty stack was deleted."""
    try:
        cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
    except ClientError as err:
        if not _gone(err):
            raise
    if not created_stack:
        return False
    stack = describe_stack(cfn, stack_name)
    if not stack or stack["StackStatus"] != "REVIEW_IN_PROGRESS":
        return False
    others = [s for s in cfn.list_change_sets(StackName=stack_name).get("Summaries", [])
              if s.get("ChangeSetName") != name and s.get("Status") not in ("DELETE_COMPLETE", "DELETE_PENDING",
                                                                             "DELETE_IN_PROGRESS")]
    if others:
        return False
    cfn.delete_stack(StackName=stack_name)
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(600 / max(delay, 0.1)))})
    return True


class Owned:
    """The change set this run creates, from the CreateChangeSet call on: the one cleanup path.

    Used as ``with Owned(...) as owned:`` around everything from creating the change set to
    executing it. Any error or interrupt (Ctrl-C while creating, waiting or at the prompt, a failing
    DescribeChangeSet, a refused ExecuteChangeSet, a failed protection step, a refusal by the tool)
    leaving the block deletes the change set, and for a CREATE change set the empty
    ``REVIEW_IN_PROGRESS`` stack, then lets the error go on, marked so that its one line ends with what
    happened to the change set (``(change set N deleted)``, or that it could not be and the command
    to delete it: :func:`cleanup_note`). Leave it with :meth:`keep` (``--no-execute``), :meth:`executed` (ExecuteChangeSet
    accepted: nothing left to delete) or :meth:`discard` (delete now: dry run, no changes).

    ``reviewed=True``: a change set a reviewer left (``--execute-change-set``): an error keeps it
    (``(change set N kept)``), since this run did not create it.
    """

    def __init__(self, cfn, stack_name: str, name: str, created_stack: bool, delay: float, reviewed=False):
        self.cfn, self.stack_name, self.name = cfn, stack_name, name
        self.created_stack, self.delay, self.reviewed = created_stack, delay, reviewed
        self.state = "kept" if reviewed else "pending"
        self.change_set_id = None
        self.created = reviewed  # CreateChangeSet answered (until then the change set may or may not exist)

    def __enter__(self):
        return self

    def keep(self):
        self.state = "kept"

    def executed(self):
        self.state = "executed"

    def discard(self) -> str:
        """Delete it now; returns the note (``change set N deleted`` ...)."""
        self.state = "deleted"
        return self._cleanup()

    def _cleanup(self) -> str:
        """Delete, shielded from a second Ctrl-C (in the main thread); the note says what happened."""
        from .errors import one_line

        restore = None
        if threading.current_thread() is threading.main_thread():
            restore = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            stack_deleted = delete(self.cfn, self.stack_name, self.name, self.created_stack, self.delay)
        except Exception as err:  # the original error stays the one reported
            return (f"change set {self.name} could NOT be deleted ({one_line(err)}); delete it with `aws "
                    f"cloudformation delete-change-set --stack-name {self.stack_name} --change-set-name {self.name}`")
        finally:
            if restore is not None:
                signal.signal(signal.SIGINT, restore)
        if not self.created:  # CreateChangeSet refused or interrupted: whatever it left is gone
            return (f"the empty stack {self.stack_name} it left deleted" if stack_deleted else
                    f"no change set {self.name} left")
        if stack_deleted:
            return f"change set {self.name} and the empty stack {self.stack_name} deleted"
        return f"change set {self.name} deleted"

    def __exit__(self, etype, err, tb):
        if etype is None or self.state == "executed" or (self.state == "kept" and not self.reviewed):
            return False
        if self.reviewed:  # said once: messages that already say it is kept get no note
            note = None if "is kept" in str(err) else f"change set {self.name} kept"
        else:
            note = self._cleanup()
        if not self.reviewed:
            self.state = "deleted"
        try:
            err.cleanup_note = note  # the error goes on as it is; the command's one line ends with the note
        except AttributeError:  # pragma: no cover - exceptions without a __dict__
            pass
        return False


def cleanup_note(err) -> str:
    """`` (change set N deleted)``-style suffix an :class:`Owned` block left on ``err``, or ``''``."""
    note = getattr(err, "cleanup_note", None)
    return f" ({note})" if note else ""
