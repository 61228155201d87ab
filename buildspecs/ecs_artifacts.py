#!/usr/bin/env python3
"""Write the deploy artifacts of an image build (run by ``docker-build.yml``'s post_build phase).

Input, from the build environment:

- ``IMAGE_URI``: the image just pushed (``<registry>/<repository>:<tag>``);
- ``ECS_DEPLOY_TARGETS``: environments to deploy to, space-separated (``"staging prod"``);
- ``ECS_DEPLOY_SPEC_<TARGET>`` for each (upper-case, ``-`` as ``_``): the ``DeploySpec`` export of that
  environment's ``ecs-service`` stack, JSON with ``family``, ``executionRoleArn``, ``taskRoleArn``,
  ``cpu``, ``memory``, ``logGroup``, ``containerName``, ``containerPort``, ``readonlyRootFilesystem``;
- ``AWS_REGION`` (set by CodeBuild) or ``AWS_DEFAULT_REGION``.

Output, under the directory given as the only argument:

- ``imageDetail.json``: ``{"ImageURI": ..., "ImageTag": ...}``, the image input of CodePipeline's
  CodeDeployToECS action (which reads ImageURI), and the release's tag for the service stack's change
  set when the pipeline deploys the infrastructure (docs/infrastructure.md);
- ``imagedefinitions.json``: ``[{"name", "imageUri"}]``, the input of the rolling ECS deploy action;
- ``<target>/taskdef.json``: the task definition, image ``<IMAGE1_NAME>`` (CodeDeployToECS puts the
  image URI there and registers it), matching what the ``ecs-service`` stack registers;
- ``<target>/appspec.yaml``: the CodeDeploy AppSpec, task definition ``<TASK_DEFINITION>`` (CodeDeployToECS
  puts the registered ARN there), container name and port of the load balancer.

Only the standard library: the build image needs nothing installed, and a test runs it as is.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

IMAGE_PLACEHOLDER = "<IMAGE1_NAME>"
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"
TMP_VOLUME = "tmp"
SPEC_KEYS = ("family", "executionRoleArn", "taskRoleArn", "cpu", "memory", "logGroup", "containerName",
             "containerPort", "readonlyRootFilesystem")
TARGET = re.compile(r"^[a-z][a-z0-9]{1,7}$")


class ArtifactError(Exception):
    pass


def spec_variable(target: str) -> str:
    return "ECS_DEPLOY_SPEC_" + target.upper().replace("-", "_")


def read_spec(env, target):
    name = spec_variable(target)
    text = env.get(name, "")
    if not text:
        raise ArtifactError(f"{name} is not set; give the DeploySpec export of {target}'s ecs-service stack")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        raise ArtifactError(f"{name} is not JSON ({err.msg} at column {err.colno}); pass the DeploySpec export as is")
    missing = [k for k in SPEC_KEYS if k not in spec]
    if missing:
        raise ArtifactError(f"{name} lacks {', '.join(missing)}; redeploy {target}'s ecs-service stack and pass its DeploySpec")
    return spec


def task_definition(spec, region):
    container = {
        "name": spec["containerName"],
        "image": IMAGE_PLACEHOLDER,
        "essential": True,
        "portMappings": [{"containerPort": int(spec["containerPort"]), "protocol": "tcp"}],
        "readonlyRootFilesystem": bool(spec["readonlyRootFilesystem"]),
        "privileged": False,
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}},
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": spec["logGroup"],
            "awslogs-region": region,
            "awslogs-stream-prefix": spec["containerName"],
        }},
    }
    taskdef = {
        "family": spec["family"],
        "executionRoleArn": spec["executionRoleArn"],
        "taskRoleArn": spec["taskRoleArn"],
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "cpu": str(spec["cpu"]),
        "memory": str(spec["memory"]),
        "containerDefinitions": [container],
    }
    if container["readonlyRootFilesystem"]:
        container["mountPoints"] = [{"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False}]
        taskdef["volumes"] = [{"name": TMP_VOLUME}]
    return taskdef


def appspec(spec) -> str:
    # JSON strings are valid YAML double-quoted scalars: the placeholder's angle brackets stay literal.
    return (
        "version: 0.0\n"
        "Resources:\n"
        "  - TargetService:\n"
        "      Type: AWS::ECS::Service\n"
        "      Properties:\n"
        f"        TaskDefinition: {json.dumps(TASK_DEFINITION_PLACEHOLDER)}\n"
        "        LoadBalancerInfo:\n"
        f"          ContainerName: {json.dumps(spec['containerName'])}\n"
        f"          ContainerPort: {int(spec['containerPort'])}\n"
    )


def write(out: Path, env=None) -> list:
    """Write every artifact under ``out``; returns the paths written."""
    env = os.environ if env is None else env
    if env.get("CODEBUILD_BUILD_SUCCEEDING", "1") != "1":
        raise ArtifactError("the build failed before post_build; no deploy artifacts are written")
    image = env.get("IMAGE_URI", "")
    if not re.fullmatch(r"[^\s:/]+(?::\d+)?/[a-z0-9._/-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", image):
        raise ArtifactError(f"IMAGE_URI '{image}' is not <registry>/<repository>:<tag>; the build phase sets it")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if not region:
        raise ArtifactError("AWS_REGION is not set; CodeBuild sets it, elsewhere export it")
    targets = env.get("ECS_DEPLOY_TARGETS", "").split()
    if not targets:
        raise ArtifactError("ECS_DEPLOY_TARGETS is empty; list the environments to deploy, e.g. \"staging prod\"")
    for target in targets:
        if not TARGET.match(target):
            raise ArtifactError(f"ECS_DEPLOY_TARGETS: '{target}' is not an environment name (2-8 lower-case letters or digits)")
    specs = {target: read_spec(env, target) for target in targets}
    names = {spec["containerName"] for spec in specs.values()}
    if len(names) != 1:
        raise ArtifactError(f"targets use different container names {sorted(names)}; give every ecs-service stack the same ContainerName")
    written = []

    def put(relative, text):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    put("imageDetail.json", json.dumps({"ImageURI": image, "ImageTag": image.rsplit(":", 1)[1]}, indent=2) + "\n")
    put("imagedefinitions.json", json.dumps([{"name": names.pop(), "imageUri": image}], indent=2) + "\n")
    for target, spec in specs.items():
        put(f"{target}/taskdef.json", json.dumps(task_definition(spec, region), indent=2) + "\n")
        put(f"{target}/appspec.yaml", appspec(spec))
    return written


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: ecs_artifacts.py <output-directory>", file=sys.stderr)
        return 2
    try:
        for path in write(Path(argv[0])):
            print(f"wrote {path}")
    except ArtifactError as err:
        print(f"ecs_artifacts.py: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
