"""Stream a stack's events until its operation ends; find the root cause of a failure."""
from __future__ import annotations

import time

#: Reasons of the cascade that follows a failure (not the cause).
CASCADE = ("cancelled", "canceled", "The following resource(s) failed", "Resource update cancelled")


def event_ids(cfn, stack_name: str) -> set:
    """Ids of the events already there (the first page: newest first)."""
    page = cfn.describe_stack_events(StackName=stack_name)
    return {e["EventId"] for e in page.get("StackEvents", [])}


def _fmt(event) -> str:
    stamp = event["Timestamp"].strftime("%H:%M:%S") if hasattr(event.get("Timestamp"), "strftime") else str(event.get("Timestamp", ""))
    reason = event.get("ResourceStatusReason") or ""
    return f"{stamp}  {event.get('LogicalResourceId', ''):<32} {event.get('ResourceStatus', ''):<28} {reason}".rstrip()


def is_terminal(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def follow(cfn, stack_name: str, seen: set, delay: float, out=print, started=False):
    """Print new events (time, logical id, status, reason) until the stack is in a terminal state.

    ``started``: the operation was just requested, so a REVIEW_IN_PROGRESS (a CREATE change
    set not yet picked up) is not final. Returns ``(stack, events)`` with the new events in
    chronological order. KeyboardInterrupt propagates to the caller.
    """
    new_events = []
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        page = cfn.describe_stack_events(StackName=stack_name).get("StackEvents", [])
        fresh = [e for e in page if e["EventId"] not in seen]
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
