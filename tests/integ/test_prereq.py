"""What a stack needs that no stack creates (Stubber): the bootstrap image and the token parameter."""
from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace

import pytest
from botocore.stub import Stubber

from generator.integ import prereq, report, state as statefile

from .conftest import offline_client

D = SimpleNamespace(key="staging:svc")
KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_an_existing_image_needs_nothing():
    ecr = offline_client("ecr")
    with Stubber(ecr) as s:
        s.add_response("describe_images", {"imageDetails": [{"imageTags": ["bootstrap"]}]},
                       {"repositoryName": "demo-tools-app", "imageIds": [{"imageTag": "bootstrap"}]})
        assert prereq.bootstrap_image(ecr, D, "demo-tools-app", "uri", "bootstrap", Path("."),
                                      run=pytest.fail, which=pytest.fail) is False


def _image_missing(s):
    s.add_client_error("describe_images", "ImageNotFoundException", "no image",
                       expected_params={"repositoryName": "demo-tools-app", "imageIds": [{"imageTag": "bootstrap"}]})


def test_a_missing_image_without_docker_fails_the_step_with_what_to_do():
    ecr = offline_client("ecr")
    with Stubber(ecr) as s:
        _image_missing(s)
        with pytest.raises(report.StepFailed, match="needs image 123.dkr.ecr/demo-tools-app:bootstrap.*docker is not"):
            prereq.bootstrap_image(ecr, D, "demo-tools-app", "123.dkr.ecr/demo-tools-app", "bootstrap", Path("."),
                                   which=lambda name: None)


def test_a_missing_image_is_built_and_pushed_with_docker(tmp_path):
    ecr, calls = offline_client("ecr"), []
    with Stubber(ecr) as s:
        _image_missing(s)
        s.add_response("get_authorization_token", {"authorizationData": [{
            "authorizationToken": base64.b64encode(b"AWS:secret").decode(),
            "proxyEndpoint": "https://123.dkr.ecr.eu-west-1.amazonaws.com"}]}, {})
        assert prereq.bootstrap_image(ecr, D, "demo-tools-app", "123.dkr.ecr/demo-tools-app", "bootstrap", tmp_path,
                                      run=lambda argv, **kw: calls.append((argv, kw)),
                                      which=lambda name: "/usr/bin/docker") is True
    assert calls[0][0] == ["/usr/bin/docker", "login", "--username", "AWS", "--password-stdin",
                           "123.dkr.ecr.eu-west-1.amazonaws.com"]
    assert calls[0][1]["input"] == b"secret"          # the password never appears on a command line
    assert calls[1][0][:4] == ["/usr/bin/docker", "build", "-t", "123.dkr.ecr/demo-tools-app:bootstrap"]
    assert calls[2][0] == ["/usr/bin/docker", "push", "123.dkr.ecr/demo-tools-app:bootstrap"]


def _parameter_missing(s):
    s.add_client_error("get_parameter", "ParameterNotFound", "none", expected_params={"Name": "/demo/dockerhub/token"})


def test_a_missing_token_parameter_without_a_token_fails_with_the_command(monkeypatch, tmp_path):
    monkeypatch.delenv(prereq.TOKEN_ENV, raising=False)
    ssm = offline_client("ssm")
    with Stubber(ssm) as s:
        _parameter_missing(s)
        with pytest.raises(report.StepFailed, match=r"set INTEG_DOCKERHUB_TOKEN.*aws ssm put-parameter --name "
                                                    r"/demo/dockerhub/token --type SecureString"):
            prereq.token_parameter(ssm, D, "DockerHubTokenParameter", "/demo/dockerhub/token", KEY_ARN,
                                   statefile.State(tmp_path / "s.json"))


def test_a_missing_token_parameter_is_created_under_the_foundation_key_and_recorded(monkeypatch, tmp_path):
    monkeypatch.setenv(prereq.TOKEN_ENV, "dckr_pat_x")
    ssm = offline_client("ssm")
    state = statefile.State(tmp_path / "s.json")
    with Stubber(ssm) as s:
        _parameter_missing(s)
        s.add_response("put_parameter", {"Version": 1}, {
            "Name": "/demo/dockerhub/token", "Type": "SecureString", "KeyId": KEY_ARN, "Value": "dckr_pat_x",
            "Description": "Docker Hub token for cfn-delivery integ"})
        assert prereq.token_parameter(ssm, D, "DockerHubTokenParameter", "/demo/dockerhub/token", KEY_ARN, state)
    assert state.resources == [{"type": "AWS::SSM::Parameter", "id": "/demo/dockerhub/token", "stack": "",
                                "status": "recorded"}]
    assert "dckr_pat_x" not in (tmp_path / "s.json").read_text()
