"""CodePipeline job: check the deployed target, read the version it runs, record the deployment, report the result.

Env (set by ``stacks/recorder.py``): TABLE, APPLICATION, ENVIRONMENT, TTL_DAYS, TARGET_KIND and the target's
names (BEANSTALK_ENVIRONMENT | ECS_CLUSTER, ECS_SERVICE | FUNCTION_NAME, FUNCTION_ALIAS); TARGET_URL,
HEALTH_PATH, ATTEMPTS, TIMEOUT for a target with a URL. A healthy target is a success; an unhealthy one (or no
answer) a failure, which rolls the stage back. A Lambda target has no URL: the smoke test invoked its alias,
so it is healthy when the alias reads. A version that cannot be read is recorded as "" with the error in
Detail (a rollback skips such items); a record that cannot be written does not fail a healthy deployment.
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


# Each reader returns (artifact version, image digest, note for Detail) of what the target runs now.
def beanstalk(env, aws):
    """The application version label the environment runs."""
    [e] = aws("elasticbeanstalk").describe_environments(EnvironmentNames=[env["BEANSTALK_ENVIRONMENT"]])["Environments"]
    return e["VersionLabel"], "", ""


def ecs(env, aws):
    """The task definition (ARN with revision) the service runs, and its first image's digest if pinned."""
    c = aws("ecs")
    [s] = c.describe_services(cluster=env["ECS_CLUSTER"], services=[env["ECS_SERVICE"]])["services"]
    # CodeDeploy blue/green: the PRIMARY task set; ECS controller: the PRIMARY deployment; else the service's.
    td = [d["taskDefinition"] for d in s.get("taskSets", []) + s.get("deployments", []) if d["status"] == "PRIMARY"]
    td = (td + [s["taskDefinition"]])[0]
    image = c.describe_task_definition(taskDefinition=td)["taskDefinition"]["containerDefinitions"][0]["image"]
    return td, image.partition("@")[2] if "@sha256:" in image else "", ""


def function(env, aws):
    """The version the alias points at; a weighted alias (a shift not finished) is noted in Detail."""
    a = aws("lambda").get_alias(FunctionName=env["FUNCTION_NAME"], Name=env["FUNCTION_ALIAS"])
    w = (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return a["FunctionVersion"], "", "; ".join(f"version {v} weight {x:g}" for v, x in w.items())


READERS = {"beanstalk": beanstalk, "ecs-bluegreen": ecs, "ecs-rolling": ecs, "lambda": function}


def record(env, data, healthy, detail, started, now, version=("", "")):
    """The history item of this deployment; ``version``: (artifact version, image digest)."""
    context = data.get("pipelineContext", {})
    revs = [(a["name"], a.get("revision") or "") for a in data.get("inputArtifacts", [])]
    execution = context.get("pipelineExecutionId", "")
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    item = {
        "Target": f"{env['APPLICATION']}#{env['ENVIRONMENT']}",
        "DeployedAt": f"{stamp}#{execution}",
        "Application": env["APPLICATION"], "Environment": env["ENVIRONMENT"],
        "ExecutionId": execution, "Pipeline": context.get("pipelineName", ""),
        "Version": ",".join(f"{k}={v}" for k, v in sorted(revs)),
        "SourceVersion": revs[0][1] if revs else "",  # the action's one input is the source
        "Kind": env["TARGET_KIND"], "ArtifactVersion": version[0], "ImageDigest": version[1],
        "Outcome": "healthy" if healthy else "unhealthy", "Detail": detail[:1000],
        "StartedAt": int(started), "EndedAt": int(now),
        "ExpiresAt": int(now + 86400 * int(env["TTL_DAYS"])),
    }
    return {k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in item.items()}


def handler(event, context, sleep=time.sleep, urlopen=urllib.request.urlopen, env=None, aws=boto3.client):
    env = env or os.environ
    job = event["CodePipeline.job"]
    started = time.time()
    try:
        version, digest, note = READERS[env["TARGET_KIND"]](env, aws)
        read = True
    except Exception as error:
        version, digest, note, read = "", "", f"version not read: {type(error).__name__}: {error}", False
    if env.get("TARGET_URL"):
        target = env["TARGET_URL"].rstrip("/") + env["HEALTH_PATH"]
        healthy, detail = check(target, int(env["ATTEMPTS"]), float(env["TIMEOUT"]), sleep, urlopen)
    else:
        target, healthy = f"{env['FUNCTION_NAME']}:{env['FUNCTION_ALIAS']}", read
        detail = f"version {version}" if read else ""
    detail = "; ".join(x for x in (detail, note) if x)
    summary = f"{env['ENVIRONMENT']}: {target} {'healthy' if healthy else 'unhealthy'} ({detail})"
    try:
        item = record(env, job["data"], healthy, detail, started, time.time(), (version, digest))
        aws("dynamodb").put_item(TableName=env["TABLE"], Item=item)
    except Exception as error:
        summary += f"; NOT recorded in {env['TABLE']}: {type(error).__name__}: {error}"
    print(summary)
    pipeline = aws("codepipeline")
    if healthy:
        pipeline.put_job_success_result(jobId=job["id"], executionDetails={"summary": summary[:2048]})
    else:
        pipeline.put_job_failure_result(jobId=job["id"], failureDetails={"type": "JobFailed", "message": summary[:5000]})
    return summary
