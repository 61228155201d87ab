"""The reusable pipeline pieces on their own: what a second pipeline (ECS) gets from them."""
import json

import pytest
from troposphere import Ref

from generator import render
from generator.components.codebuild import LOCAL_CACHE, BuildProject, build_settings
from generator.components.kms import KeyReference
from generator.components.pipeline import DeliveryPipeline
from generator.components.s3 import BucketReference
from generator.core.stack import Stack
from tests.helpers import resources, statements


def build(create):
    class Probe(Stack):
        name = "probe"
        description = "probe"

        def create(self):
            create(self)

    stack = Probe()
    stack.build()
    return render.as_dict(stack)


def project(stack, logical_id="DockerProject", component="docker", settings=None, **kwargs):
    return BuildProject(stack, logical_id, component, "docker-build.yml", settings=settings or build_settings(stack),
                        key=KeyReference("arn:key"), artifact_bucket=BucketReference("bucket"),
                        description="Docker build", **kwargs)


def test_parameter_store_variable_is_typed_and_scoped_to_that_parameter():
    def create(stack):
        secret = stack.parameter("DockerHubSecret", "Build", "Secret", Type="String", Default="/shop/dockerhub")
        project(stack, privileged=True, cache=LOCAL_CACHE).add_parameter_store_variable(
            "DOCKERHUB_TOKEN", Ref(secret), key=KeyReference("arn:key"))

    template = build(create)
    props = resources(template, "AWS::CodeBuild::Project")["DockerProject"]["Properties"]
    assert props["Environment"]["EnvironmentVariables"] == [
        {"Name": "DOCKERHUB_TOKEN", "Value": {"Ref": "DockerHubSecret"}, "Type": "PARAMETER_STORE"}]
    assert props["Environment"]["PrivilegedMode"] is True
    assert "LOCAL_DOCKER_LAYER_CACHE" in props["Cache"]["Modes"]
    grants = statements(resources(template, "AWS::IAM::Policy")["DockerProjectRolePolicy"]["Properties"]["PolicyDocument"])
    [ssm] = [s for s in grants if s["Action"] == ["ssm:GetParameters"]]
    assert ssm["Resource"] == [{"Fn::Sub": [
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}", {"Name": {"Ref": "DockerHubSecret"}}]}]
    assert any(s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService") == {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}
               for s in grants)


def test_unknown_cache_kind_is_refused():
    with pytest.raises(ValueError, match="cache must be"):
        build(lambda stack: project(stack, cache="efs"))


def test_pipeline_without_stages_is_refused():
    with pytest.raises(ValueError, match="has no stages"):
        build(lambda stack: DeliveryPipeline(stack, "empty", BucketReference("bucket"), KeyReference("arn:key")))


def test_overlapping_grants_are_merged_into_one_statement():
    def create(stack):
        pipeline = DeliveryPipeline(stack, "p", BucketReference("bucket"), KeyReference("arn:key"))
        settings = build_settings(stack)
        first = project(stack, "First", "first", settings)
        second = project(stack, "Second", "second", settings)
        pipeline.add_stage("Build", [pipeline.codebuild_action("A", first, ["Source"]),
                                     pipeline.codebuild_action("B", second, ["Source"])])

    template = build(create)
    grants = statements(resources(template, "AWS::IAM::Policy")["PipelineRolePolicy"]["Properties"]["PolicyDocument"])
    [start] = [s for s in grants if "codebuild:StartBuild" in s["Action"]]
    assert len(start["Resource"]) == 2
    assert len({json.dumps(s, sort_keys=True) for s in grants}) == len(grants)
