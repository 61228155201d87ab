"""buildspecs/docker-build.yml: valid buildspec 0.2 whose post_build writes what CodeDeployToECS expects.

The artifact-writing commands run here as CodeBuild would run them (bash, in the source
root), with a fake image URI and the DeploySpec JSON the ecs-service template exports.
"""
import glob
import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from generator.components import codebuild
from tests.helpers import ROOT, load_template, one

BUILDSPEC = ROOT / "buildspecs" / "docker-build.yml"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-tools-app:0123456789ab"
PHASES = ("install", "pre_build", "build", "post_build")


@pytest.fixture(scope="module", params=["file", "template"])
def buildspec(request):
    """The buildspec as written, and as the ecs-build template carries it (inlined script compacted)."""
    if request.param == "file":
        return yaml.safe_load(BUILDSPEC.read_text())
    return yaml.safe_load(codebuild.buildspec_text(BUILDSPEC.name))


def deploy_spec(env, **overrides):
    """The ecs-service template's DeploySpec export, resolved with made-up values for ``env``."""
    text, names = load_template("ecs-service")["Outputs"]["DeploySpec"]["Value"]["Fn::Sub"]
    values = {
        "Family": f"shop-{env}-app",
        "ExecutionRoleArn": f"arn:aws:iam::123456789012:role/shop-{env}-ecs-execution",
        "TaskRoleArn": f"arn:aws:iam::123456789012:role/shop-{env}-ecs-task",
        "Cpu": "512", "Memory": "1024", "LogGroup": f"/ecs/shop-{env}-app",
        "Readonly": "true",
    }
    values.update(overrides)
    assert set(names) == set(values), "the DeploySpec export's variables changed; update this test"
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)


def run_post_build(buildspec, tmp_path, **env):
    """Run the post_build commands (the artifact writer is inlined: the source needs no buildspecs/) with a fake environment."""
    variables = {k: str(v) for k, v in buildspec["env"]["variables"].items()}
    variables.update({"PATH": "/usr/bin:/bin:/usr/local/bin", "AWS_REGION": "eu-west-1",
                      "CODEBUILD_BUILD_SUCCEEDING": "1", "IMAGE_URI": IMAGE, "ECS_DEPLOY_TARGETS": "staging prod",
                      "ECS_DEPLOY_SPEC_STAGING": deploy_spec("staging"), "ECS_DEPLOY_SPEC_PROD": deploy_spec("prod")})
    variables.update(env)
    script = "set -e\n" + "\n".join(buildspec["phases"]["post_build"]["commands"]) + "\n"
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, env=variables, capture_output=True, text=True)


def test_valid_buildspec_0_2(buildspec):
    assert buildspec["version"] == 0.2
    assert set(buildspec["phases"]) <= set(PHASES)
    for phase in buildspec["phases"].values():
        assert phase["commands"] and all(isinstance(c, str) for c in phase["commands"])
    assert buildspec["env"]["shell"] == "bash"
    assert buildspec["artifacts"]["base-directory"] == buildspec["env"]["variables"]["ARTIFACT_DIR"]
    assert buildspec["artifacts"]["files"] == ["imageDetail.json", "imagedefinitions.json", "*/taskdef.json",
                                               "*/appspec.yaml", "sbom.cdx.json"]
    for phase in ("install", "pre_build", "build", "post_build"):
        script = "\n".join(buildspec["phases"][phase]["commands"])
        assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0, phase


def test_logs_in_to_ecr_builds_with_cache_tags_with_commit_and_pushes(buildspec):
    pre = "\n".join(buildspec["phases"]["pre_build"]["commands"])
    build = "\n".join(buildspec["phases"]["build"]["commands"])
    assert "aws ecr get-login-password" in pre and "docker login --username AWS --password-stdin" in pre
    assert "CODEBUILD_RESOLVED_SOURCE_VERSION" in pre and "cut -c1-12" in pre
    assert "docker pull" in pre and "--cache-from" in build
    assert 'docker push "$IMAGE_URI"' in build


def test_docker_hub_token_only_comes_from_the_project_environment(buildspec):
    """The token is a PARAMETER_STORE variable of the CodeBuild project: the buildspec names no
    parameter, holds no secret, and only pipes the variable into docker login."""
    assert set(buildspec["env"]) == {"shell", "variables"}
    assert "DOCKERHUB_TOKEN" not in buildspec["env"]["variables"]
    text = BUILDSPEC.read_text()
    assert 'printf \'%s\' "$DOCKERHUB_TOKEN" | docker login' in text
    assert "echo $DOCKERHUB_TOKEN" not in text and "set -x" not in text


def test_post_build_writes_what_codedeploy_to_ecs_expects(buildspec, tmp_path):
    result = run_post_build(buildspec, tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / buildspec["env"]["variables"]["ARTIFACT_DIR"]
    assert json.loads((out / "imageDetail.json").read_text()) == {"ImageURI": IMAGE, "ImageTag": IMAGE.rsplit(":", 1)[1]}
    assert json.loads((out / "imagedefinitions.json").read_text()) == [{"name": "app", "imageUri": IMAGE}]
    for env in ("staging", "prod"):
        taskdef = json.loads((out / env / "taskdef.json").read_text())
        assert taskdef["family"] == f"shop-{env}-app"
        assert taskdef["executionRoleArn"].endswith(f"role/shop-{env}-ecs-execution")
        assert taskdef["taskRoleArn"].endswith(f"role/shop-{env}-ecs-task")
        assert taskdef["executionRoleArn"] != taskdef["taskRoleArn"]
        assert taskdef["requiresCompatibilities"] == ["FARGATE"] and taskdef["networkMode"] == "awsvpc"
        assert (taskdef["cpu"], taskdef["memory"]) == ("512", "1024")
        [container] = taskdef["containerDefinitions"]
        assert container["image"] == "<IMAGE1_NAME>"
        assert container["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]
        assert container["logConfiguration"] == {"logDriver": "awslogs", "options": {
            "awslogs-group": f"/ecs/shop-{env}-app", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "app"}}
        appspec = yaml.safe_load((out / env / "appspec.yaml").read_text())
        assert appspec["version"] == 0.0
        [resource] = appspec["Resources"]
        target = resource["TargetService"]
        assert target["Type"] == "AWS::ECS::Service"
        assert target["Properties"]["TaskDefinition"] == "<TASK_DEFINITION>"
        assert target["Properties"]["LoadBalancerInfo"] == {"ContainerName": "app", "ContainerPort": 8080}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "imageDetail.json", "imagedefinitions.json", "prod/appspec.yaml", "prod/taskdef.json",
        "staging/appspec.yaml", "staging/taskdef.json"]


def test_taskdef_keeps_the_hardening_of_the_stacks_task_definition(buildspec, tmp_path):
    """A deployment must not loosen what the ecs-service stack registered."""
    assert run_post_build(buildspec, tmp_path).returncode == 0
    taskdef = json.loads((tmp_path / "ecs-deploy" / "prod" / "taskdef.json").read_text())
    stack = one(load_template("ecs-service"), "AWS::ECS::TaskDefinition")[1]["Properties"]
    [stack_container] = stack["ContainerDefinitions"]
    [container] = taskdef["containerDefinitions"]
    assert container["readonlyRootFilesystem"] is stack_container["ReadonlyRootFilesystem"]["Fn::If"][1] is True
    assert container["privileged"] is stack_container["Privileged"] is False
    assert container["linuxParameters"]["capabilities"]["drop"] == stack_container["LinuxParameters"]["Capabilities"]["Drop"]
    assert container["mountPoints"] == [{k[0].lower() + k[1:]: v for k, v in m.items()}
                                        for m in stack_container["MountPoints"]["Fn::If"][1]]
    assert taskdef["volumes"] == [{"name": v["Name"]} for v in stack["Volumes"]["Fn::If"][1]]
    assert taskdef["runtimePlatform"] == {k[0].lower() + k[1:]: v for k, v in stack["RuntimePlatform"].items()}


def test_writable_root_filesystem_drops_the_tmp_volume(buildspec, tmp_path):
    spec = deploy_spec("staging", Readonly="false")
    assert run_post_build(buildspec, tmp_path, ECS_DEPLOY_TARGETS="staging", ECS_DEPLOY_SPEC_STAGING=spec).returncode == 0
    taskdef = json.loads((tmp_path / "ecs-deploy" / "staging" / "taskdef.json").read_text())
    assert taskdef["containerDefinitions"][0]["readonlyRootFilesystem"] is False
    assert "volumes" not in taskdef and "mountPoints" not in taskdef["containerDefinitions"][0]


@pytest.mark.parametrize("env,message", [
    ({"ECS_DEPLOY_SPEC_PROD": ""}, "ECS_DEPLOY_SPEC_PROD is not set"),
    ({"ECS_DEPLOY_SPEC_PROD": "{not json"}, "ECS_DEPLOY_SPEC_PROD is not JSON"),
    ({"IMAGE_URI": "app"}, "IMAGE_URI 'app' is not <registry>/<repository>:<tag>"),
    ({"ECS_DEPLOY_TARGETS": ""}, "ECS_DEPLOY_TARGETS is empty"),
    ({"CODEBUILD_BUILD_SUCCEEDING": "0"}, "the build failed before post_build"),
])
def test_bad_input_is_one_line_and_fails_the_build(buildspec, tmp_path, env, message):
    result = run_post_build(buildspec, tmp_path, **env)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert message in line
    assert not (tmp_path / "ecs-deploy" / "imageDetail.json").exists()


def test_sample_app_dockerfile_runs_non_root_with_a_health_check_on_the_stack_port():
    app = ROOT / "examples" / "sample-app"
    lines = [l.strip() for l in (app / "Dockerfile").read_text().splitlines() if l.strip() and not l.startswith("#")]
    users = [l.split()[1] for l in lines if l.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the image must end as a non-root user"
    parameters = load_template("ecs-ingress")["Parameters"]  # the target groups' health check
    assert f"EXPOSE {load_template('ecs-service')['Outputs']['ContainerPort']['Value']}" in lines
    healthcheck = " ".join(lines[[i for i, l in enumerate(lines) if l.startswith("HEALTHCHECK")][0]:])
    assert parameters["HealthCheckPath"]["Default"] in healthcheck
    assert any(l.startswith("ARG COMMIT") for l in lines), "the build passes the commit id as COMMIT"
    ignored = (app / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*"):] == ["*", "!application.py", "!requirements.txt"]


# -- SBOM and the pinned base image ------------------------------------------------
FAKE_CYCLONEDX = """#!{python}
import json, sys
args = sys.argv[1:]
assert args[0] == "requirements" and "--of" in args and args[args.index("--of") + 1] == "JSON", args
pins = [l.split("==") for l in open(args[-1]) if "==" in l and not l.startswith("#")]
bom = {{"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {{"tools": []}},
        "components": [{{"type": "library", "name": n, "version": v.split()[0]}} for n, v in pins]}}
json.dump(bom, open(args[args.index("-o") + 1], "w"))
"""


def run_build_phase(buildspec, tmp_path):
    """The build phase with the image already in ECR (a stand-in `aws` says so) and a stand-in cyclonedx-py."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "examples" / "sample-app", src, ignore=shutil.ignore_patterns("__pycache__"))
    tools = tmp_path / "sbom-tools" / "bin"
    tools.mkdir(parents=True)
    (tools / "cyclonedx-py").write_text(FAKE_CYCLONEDX.format(python=sys.executable))
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "aws").write_text("#!/bin/sh\n[ \"$2\" = describe-images ] && exit 0; exit 1\n")
    for script in (tools / "cyclonedx-py", tmp_path / "bin" / "aws"):
        script.chmod(0o755)
    variables = {k: str(v) for k, v in buildspec["env"]["variables"].items()}
    variables.update({"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin:/usr/local/bin", "SBOM_TOOLS": str(tools.parent),
                      "DOCKER_CONTEXT": ".", "REPOSITORY_NAME": "shop-tools-app", "IMAGE_TAG": IMAGE.rsplit(":", 1)[1],
                      "IMAGE_URI": IMAGE})
    script = "set -e\n" + "\n".join(buildspec["phases"]["build"]["commands"]) + "\n"
    return subprocess.run(["bash", "-c", script], cwd=src, env=variables, capture_output=True, text=True), src


def test_the_build_writes_an_sbom_of_the_image_into_the_artifacts(buildspec, tmp_path):
    result, src = run_build_phase(buildspec, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already in ECR" in result.stdout
    out = src / buildspec["env"]["variables"]["ARTIFACT_DIR"]
    sbom = json.loads((out / "sbom.cdx.json").read_text())
    assert {(c["name"], c["version"]) for c in sbom["components"]} == {("gunicorn", "23.0.0"), ("packaging", "26.4")}
    subject = sbom["metadata"]["component"]
    assert (subject["type"], subject["name"], subject["version"]) == ("container", IMAGE.rsplit(":", 1)[0], "0123456789ab")
    [base] = [p["value"] for p in subject["properties"] if p["name"] == "base-image"]
    assert re.fullmatch(r"python:3\.12-slim@sha256:[0-9a-f]{64}", base)
    shipped = [p for pattern in buildspec["artifacts"]["files"] for p in glob.glob(str(out / pattern))]
    assert str(out / "sbom.cdx.json") in shipped, "the SBOM travels in BuildOutput with the release"


def test_the_sbom_generator_is_installed_from_the_hashed_lock(buildspec):
    install = "\n".join(buildspec["phases"]["install"]["commands"])
    assert "# inline: buildspecs/requirements-sbom.txt" in install and "cyclonedx-bom==" in install
    assert '"$SBOM_TOOLS/bin/python" -m pip install --quiet --require-hashes --only-binary=:all: -r /tmp/requirements-sbom.txt' in install


def test_sample_app_base_image_is_pinned_by_digest_and_installs_hashed_wheels():
    dockerfile = (ROOT / "examples" / "sample-app" / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(?:--\S+\s+)*(\S+)", dockerfile, re.M)
    assert froms and all(re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", f) for f in froms), froms
    assert "ARG" not in dockerfile.split("FROM", 1)[0], "no build argument may swap the pinned base"
    [install] = re.findall(r"pip install ([^\\\n]*)", dockerfile)
    assert "--require-hashes" in install and "-r requirements.txt" in install
    requirements = (ROOT / "examples" / "sample-app" / "requirements.txt").read_text()
    assert re.search(r"^gunicorn==[\d.]+ \\\n +--hash=sha256:[0-9a-f]{64}", requirements, re.M)
