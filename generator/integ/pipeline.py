"""Waiting for one CodePipeline execution, stage by stage.

The execution started by an upload is found by its source revision (the S3 object's
version id) with ListPipelineExecutions. Then GetPipelineExecution (overall status),
GetPipelineState (stage and action status, the token of a waiting approval) and
ListActionExecutions (start and end times, hence each stage's duration) are polled until
the execution ends, a stage fails, a manual approval waits (approved with PutApprovalResult
only when ``approve`` is set; otherwise the wait stops and says how to approve) or the
timeout passes. ``on_stage(stage)`` runs once for every stage that succeeded (health checks
of a wave hang there).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

SUCCEEDED, FAILED, APPROVAL, TIMEOUT, STOPPED = "Succeeded", "Failed", "ApprovalWaiting", "TimedOut", "Stopped"
ENDED = {"Succeeded": SUCCEEDED, "Failed": FAILED, "Stopped": STOPPED, "Superseded": STOPPED, "Cancelled": STOPPED}


@dataclass
class Stage:
    name: str
    status: str = "NotStarted"
    seconds: float = 0.0
    detail: str = ""
    deploy_targets: list = field(default_factory=list)   # configuration values of its Deploy actions


@dataclass
class Outcome:
    pipeline: str
    execution_id: str
    status: str
    stages: list
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED


def approve_command(pipeline, stage, action, token) -> str:
    return (f"aws codepipeline put-approval-result --pipeline-name {pipeline} --stage-name {stage} "
            f"--action-name {action} --token {token} --result summary='cfn-delivery integ',status=Approved")


class Watcher:
    def __init__(self, codepipeline, name, poll_seconds=15.0, timeout_seconds=5400.0, approve=False,
                 on_stage=None, clock=time.monotonic, sleep=time.sleep, out=print):
        self.cp = codepipeline
        self.name = name
        self.poll = poll_seconds
        self.timeout = timeout_seconds
        self.approve = approve
        self.on_stage = on_stage or (lambda stage: None)
        self.clock = clock
        self.sleep = sleep
        self.out = out
        self._structure = None

    # -- the execution ---------------------------------------------------------
    def find_execution(self, revision_id=None, not_before=None) -> str:
        """The id of the execution whose S3 source revision is ``revision_id`` (or, without a
        version id, the newest one started at or after ``not_before``); waits for it to appear."""
        deadline = self.clock() + min(self.timeout, 900)
        while True:
            summaries = self.cp.list_pipeline_executions(pipelineName=self.name, maxResults=20).get(
                "pipelineExecutionSummaries", [])
            for summary in summaries:
                revisions = {r.get("revisionId") for r in summary.get("sourceRevisions", [])}
                if revision_id and revision_id in revisions:
                    return summary["pipelineExecutionId"]
                if not revision_id and not_before is not None and summary.get("startTime") and \
                        summary["startTime"] >= not_before:
                    return summary["pipelineExecutionId"]
            if self.clock() >= deadline:
                raise TimeoutError(f"no execution of {self.name} started for the upload "
                                   f"(revision {revision_id or 'unknown'}); is the source trigger in place?")
            self.sleep(self.poll)

    def structure(self) -> list:
        """``[(stage name, [action dicts])]`` from GetPipeline (read once)."""
        if self._structure is None:
            pipeline = self.cp.get_pipeline(name=self.name)["pipeline"]
            self._structure = [(s["name"], s.get("actions", [])) for s in pipeline.get("stages", [])]
        return self._structure

    def _stages(self) -> list:
        stages = []
        for name, actions in self.structure():
            targets = []
            for action in actions:
                if action.get("actionTypeId", {}).get("category") == "Deploy":
                    targets.extend(str(v) for v in (action.get("configuration") or {}).values())
            stages.append(Stage(name, deploy_targets=targets))
        return stages

    def _durations(self, execution_id) -> dict:
        """Stage name -> seconds from the first action's start to the last action's last update."""
        spans = {}
        kwargs = {"pipelineName": self.name, "filter": {"pipelineExecutionId": execution_id}}
        while True:
            page = self.cp.list_action_executions(**kwargs)
            for detail in page.get("actionExecutionDetails", []):
                start, end = detail.get("startTime"), detail.get("lastUpdateTime")
                if start is None or end is None:
                    continue
                first, last = spans.get(detail["stageName"], (start, end))
                spans[detail["stageName"]] = (min(first, start), max(last, end))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return {stage: (last - first).total_seconds() for stage, (first, last) in spans.items()}

    def wait(self, execution_id) -> Outcome:
        stages = self._stages()
        by_name = {s.name: s for s in stages}
        reported = set()
        approved = set()
        deadline = self.clock() + self.timeout
        while True:
            execution = self.cp.get_pipeline_execution(pipelineName=self.name, pipelineExecutionId=execution_id)[
                "pipelineExecution"]
            overall = execution.get("status", "InProgress")
            state = self.cp.get_pipeline_state(name=self.name)
            durations = None
            for stage_state in state.get("stageStates", []):
                stage = by_name.get(stage_state["stageName"])
                latest = stage_state.get("latestExecution") or {}
                if stage is None or latest.get("pipelineExecutionId") != execution_id:
                    continue
                stage.status = latest.get("status", stage.status)
                if stage.status == "Failed":
                    stage.detail = _action_error(stage_state)
                if stage.status in ("Succeeded", "Failed") and stage.name not in reported:
                    durations = durations if durations is not None else self._durations(execution_id)
                    stage.seconds = durations.get(stage.name, 0.0)
                    reported.add(stage.name)
                    self.out(f"  {self.name}: stage {stage.name} {stage.status} ({stage.seconds:.0f} s)"
                             + (f": {stage.detail}" if stage.detail else ""))
                    if stage.status == "Succeeded":
                        self.on_stage(stage)
                if stage.status == "InProgress":
                    for action in stage_state.get("actionStates", []):
                        action_latest = action.get("latestExecution") or {}
                        token = action_latest.get("token")
                        if not token or action_latest.get("status") != "InProgress" or token in approved:
                            continue
                        if not self.approve:
                            stage.status = "ApprovalWaiting"
                            command = approve_command(self.name, stage.name, action["actionName"], token)
                            return Outcome(self.name, execution_id, APPROVAL, stages,
                                           f"manual approval {stage.name}/{action['actionName']} is waiting; approve "
                                           f"with: {command} (or rerun with --approve)")
                        self.cp.put_approval_result(
                            pipelineName=self.name, stageName=stage.name, actionName=action["actionName"],
                            result={"summary": "approved by cfn-delivery integ (--approve)", "status": "Approved"},
                            token=token)
                        approved.add(token)
                        self.out(f"  {self.name}: approved {stage.name}/{action['actionName']} (--approve)")
            failed = [s for s in stages if s.status == "Failed"]
            if failed:
                return Outcome(self.name, execution_id, FAILED, stages,
                               f"stage {failed[0].name} failed" + (f": {failed[0].detail}" if failed[0].detail else ""))
            if overall in ENDED:
                status = ENDED[overall]
                detail = "" if status == SUCCEEDED else f"execution {overall}" + (
                    f": {execution.get('statusSummary')}" if execution.get("statusSummary") else "")
                return Outcome(self.name, execution_id, status, stages, detail)
            if self.clock() >= deadline:
                current = next((s.name for s in stages if s.status == "InProgress"), "?")
                return Outcome(self.name, execution_id, TIMEOUT, stages,
                               f"timed out after {self.timeout:.0f} s in stage {current}; the execution goes on")
            self.sleep(self.poll)


def _action_error(stage_state) -> str:
    for action in stage_state.get("actionStates", []):
        latest = action.get("latestExecution") or {}
        if latest.get("status") == "Failed":
            message = (latest.get("errorDetails") or {}).get("message") or latest.get("summary") or "failed"
            return f"{action['actionName']}: {' '.join(str(message).split())}"
    return ""
