"""Stream a stack's events until its operation ends; find the root cause of a failure."""
from __future__ import annotations

import re
import time

#: Reasons of the cascade that follows a failure (not the cause).
CASCADE = ("cancelled", "canceled", "The following resource(s) failed", "Resource update cancelled")


def event_ids(cfn, stack_name: str) -> set:
    """Ids of the events already there (the first page: newest first)."""
    page = cfn.describe_stack_events(StackName=stack_name)
    return {e["EventId"] for e in page.get("StackEvents", [])}


def request_token(change_set_name: str) -> str:
    """The ClientRequestToken of this run's ExecuteChangeSet: the events it causes carry it, so the
    watch follows this operation and not a concurrent one (1-128 of ``[a-zA-Z0-9][-a-zA-Z0-9]*``)."""
    token = re.sub(r"[^-a-zA-Z0-9]", "-", change_set_name).strip("-") or "cfn-delivery"
    return token[:128]


def fmt(event) -> str:
    stamp = event["Timestamp"].strftime("%H:%M:%S") if hasattr(event.get("Timestamp"), "strftime") else str(event.get("Timestamp", ""))
    reason = event.get("ResourceStatusReason") or ""
    return f"{stamp}  {event.get('LogicalResourceId', ''):<32} {event.get('ResourceStatus', ''):<28} {reason}".rstrip()


def is_terminal(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


_fmt = fmt


def follow(cfn, stack_name: str, seen: set, delay: float, out=print, started=False, token=None):
    """Print new events (time, logical id, status, reason) until the stack is in a terminal state.

    ``started``: the operation was just requested, so a REVIEW_IN_PROGRESS (a CREATE change
    set not yet picked up) is not final. ``token``: only events of that ClientRequestToken (and events
    without one, as LocalStack sends) are this operation's. Returns ``(stack, events)`` with the new events in
    chronological order. KeyboardInterrupt propagates to the caller.
    """
    new_events = []
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        page = cfn.describe_stack_events(StackName=stack_name).get("StackEvents", [])
        fresh = [e for e in page if e["EventId"] not in seen
                 and (token is None or e.get("ClientRequestToken") in (None, "", token))]
        for event in reversed(fresh):
            seen.add(event["EventId"])
            new_events.append(event)
            out(_fmt(event))
        status = stack["StackStatus"]
        if is_terminal(status) and not (started and status == "REVIEW_IN_PROGRESS"):
            return stack, new_events
        time.sleep(delay)


def root_causes(events: list, limit: int = 3) -> list:
    """The first failed events whose reason is not the cascade (chronological events)."""
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("FAILED")]
    causes = [e for e in failed
              if e.get("ResourceType") != "AWS::CloudFormation::Stack"
              and not any(word in (e.get("ResourceStatusReason") or "") for word in CASCADE)]
    explained = [e for e in causes if e.get("ResourceStatusReason")]
    causes = explained or causes or failed
    return causes[:limit]


def describe_cause(event) -> str:
    return (f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}) {event.get('ResourceStatus')}: "
            f"{' '.join((event.get('ResourceStatusReason') or 'no reason given').split())}")


#: Stack-level statuses that start an operation (the stack's own event).
STARTS = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "IMPORT_IN_PROGRESS")


def last_operation(cfn, stack_name: str, max_pages: int = 20) -> list:
    """The events of the stack's latest operation, from the stack's own ``*_IN_PROGRESS`` event that
    started it, in chronological order (what ``--watch`` shows first, so that a failure that already
    ended still has its cause)."""
    found, kwargs = [], {"StackName": stack_name}
    for _ in range(max_pages):
        page = cfn.describe_stack_events(**kwargs)
        for event in page.get("StackEvents", []):
            found.append(event)
            if event.get("LogicalResourceId") == stack_name and event.get("ResourceStatus") in STARTS \
                    and event.get("ResourceType", "AWS::CloudFormation::Stack") == "AWS::CloudFormation::Stack":
                return list(reversed(found))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return list(reversed(found))


def retained(events: list) -> list:
    """Resources a rollback or delete left in place (``DELETE_SKIPPED``: a ``Retain`` DeletionPolicy),
    one per logical id, with a physical id."""
    kept = {}
    for event in events:
        if event.get("ResourceStatus") == "DELETE_SKIPPED" and event.get("PhysicalResourceId") \
                and event.get("ResourceType") != "AWS::CloudFormation::Stack":
            kept[event["LogicalResourceId"]] = event
    return list(kept.values())


def describe_kept(event) -> str:
    return f"{event.get('LogicalResourceId')} ({event.get('ResourceType')} {event.get('PhysicalResourceId')})"
