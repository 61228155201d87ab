"""What a stack needs before it deploys that no stack creates.

- An image: a stack whose parameters give an ``ImageTag`` runs that tag of the repository a
  required stack outputs (``RepositoryName``/``RepositoryUri``); a service cannot stabilise
  without it. When it is missing and ``docker`` is on PATH, ``examples/sample-app`` is built and
  pushed under that tag; otherwise the step fails saying so.
- A secret: a parameter named ``…TokenParameter`` whose value is an SSM parameter name (the
  Docker Hub token the image build reads). When it is missing it is created from
  ``INTEG_DOCKERHUB_TOKEN`` as a SecureString under the ``KeyArn`` a required stack outputs, and
  recorded for teardown; otherwise the step fails with the command to create it.
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess

from .report import StepFailed
from .teardown import PARAMETER

TOKEN_ENV = "INTEG_DOCKERHUB_TOKEN"


def check(clients, d, p, find_output, state, root, run=subprocess.run, which=shutil.which) -> None:
    """``find_output(key)`` -> the nearest required stack's output value (or ``None``)."""
    values = p.effective_parameters()
    tag = values.get("ImageTag")
    repository = find_output("RepositoryName")
    if tag and repository:
        bootstrap_image(clients.get("ecr"), d, repository, find_output("RepositoryUri") or repository, tag, root,
                        run, which)
    for key, name in sorted(values.items()):
        if key.endswith("TokenParameter") and name.startswith("/"):
            token_parameter(clients.get("ssm"), d, key, name, find_output("KeyArn"), state)


def bootstrap_image(ecr, d, repository, uri, tag, root, run=subprocess.run, which=shutil.which) -> bool:
    """``False`` when the image was there, ``True`` when it was built and pushed."""
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        return False
    except Exception as err:
        if "ImageNotFound" not in str(err):
            raise
    docker = which("docker")
    if not docker:
        raise StepFailed(f"{d.key} needs image {uri}:{tag}, which is not in ECR, and docker is not on PATH to "
                         f"build it; push it (README, 'Bootstrap image') and rerun")
    print(f"building and pushing the bootstrap image {uri}:{tag} (examples/sample-app)")
    auth = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)
    registry_host = auth["proxyEndpoint"].replace("https://", "")
    run([docker, "login", "--username", user, "--password-stdin", registry_host], input=password.encode(), check=True)
    run([docker, "build", "-t", f"{uri}:{tag}", str(root / "examples" / "sample-app")], check=True)
    run([docker, "push", f"{uri}:{tag}"], check=True)
    return True


def token_parameter(ssm, d, key, name, key_arn, state) -> bool:
    """``False`` when the parameter exists, ``True`` when it was created from the environment."""
    try:
        ssm.get_parameter(Name=name)
        return False
    except Exception as err:
        if "ParameterNotFound" not in str(err):
            raise
    token = os.environ.get(TOKEN_ENV)
    if not token or not key_arn:
        raise StepFailed(
            f"{d.key}: {key} names SSM parameter {name}, which does not exist; set {TOKEN_ENV} to a Docker Hub token "
            f"and rerun (integ creates it encrypted with {key_arn or 'the foundation key'} and deletes it at "
            f"teardown), or create it: aws ssm put-parameter --name {name} --type SecureString "
            f"--key-id <foundation KeyArn> --value <token>")
    ssm.put_parameter(Name=name, Type="SecureString", KeyId=key_arn, Value=token,
                      Description="Docker Hub token for cfn-delivery integ")
    state.add_resource(PARAMETER, name, "")
    print(f"created SSM parameter {name} from {TOKEN_ENV} (deleted at teardown)")
    return True
