"""CodePipeline job: check the deployed target's health, record the deployment, report the result.

Env: TABLE, APPLICATION, ENVIRONMENT, TARGET_URL, HEALTH_PATH, ATTEMPTS, TIMEOUT, TTL_DAYS.
A healthy target is a success; an unhealthy one (or no answer) a failure, which rolls the stage
back. A record that cannot be written does not fail a healthy deployment: the job succeeds with
the error in its summary.
"""
import os
import time
import urllib.request
from datetime import datetime, timezone

import boto3


def check(url, attempts, timeout, sleep=time.sleep, urlopen=urllib.request.urlopen):
    """(healthy, detail) after at most ``attempts`` GETs of ``timeout`` seconds each."""
    detail = "not checked"
    for attempt in range(attempts):
        try:
            with urlopen(url, timeout=timeout) as answer:
                if answer.status == 200:
                    return True, "HTTP 200"
                detail = f"HTTP {answer.status}"
        except Exception as error:  # HTTPError, URLError, timeouts: all mean not healthy yet
            detail = f"{type(error).__name__}: {error}"
        if attempt + 1 < attempts:
            sleep(min(2 ** attempt, 10))
    return False, detail


def record(env, data, healthy, detail, started, now):
    """The history item of this deployment."""
    context = data.get("pipelineContext", {})
    versions = {a["name"]: (a.get("revision") or "") for a in data.get("inputArtifacts", [])}
    execution = context.get("pipelineExecutionId", "")
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    item = {
        "Target": f"{env['APPLICATION']}#{env['ENVIRONMENT']}",
        "DeployedAt": f"{stamp}#{execution}",
        "Application": env["APPLICATION"], "Environment": env["ENVIRONMENT"],
        "ExecutionId": execution, "Pipeline": context.get("pipelineName", ""),
        "Version": ",".join(f"{k}={v}" for k, v in sorted(versions.items())),
        "Outcome": "healthy" if healthy else "unhealthy", "Detail": detail[:1000],
        "StartedAt": str(int(started)), "EndedAt": str(int(now)),
        "ExpiresAt": str(int(now + 86400 * int(env["TTL_DAYS"]))),
    }
    numbers = ("StartedAt", "EndedAt", "ExpiresAt")
    return {k: ({"N": v} if k in numbers else {"S": v}) for k, v in item.items()}


def handler(event, context, clients=None, sleep=time.sleep, urlopen=urllib.request.urlopen, env=None):
    env = env or os.environ
    job = event["CodePipeline.job"]
    pipeline, table = clients or (boto3.client("codepipeline"), boto3.client("dynamodb"))
    started = time.time()
    url = env["TARGET_URL"].rstrip("/") + env["HEALTH_PATH"]
    healthy, detail = check(url, int(env["ATTEMPTS"]), float(env["TIMEOUT"]), sleep, urlopen)
    summary = f"{env['ENVIRONMENT']}: {url} {'healthy' if healthy else 'unhealthy'} ({detail})"
    try:
        table.put_item(TableName=env["TABLE"], Item=record(env, job["data"], healthy, detail, started, time.time()))
    except Exception as error:
        summary += f"; NOT recorded in {env['TABLE']}: {type(error).__name__}: {error}"
    print(summary)
    if healthy:
        pipeline.put_job_success_result(jobId=job["id"], executionDetails={"summary": summary[:2048]})
    else:
        pipeline.put_job_failure_result(jobId=job["id"], failureDetails={"type": "JobFailed", "message": summary[:5000]})
    return summary
