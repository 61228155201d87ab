"""Pure logic of the deploy tool: capabilities, stateful resources, order, the change-set table."""
from __future__ import annotations

import json

import pytest

from generator import paramfile
from generator.deploy import plan, show

from .conftest import fake_stack, use_stacks


@pytest.mark.parametrize("resources, transform, expected", [
    ({"T": {"Type": "AWS::SNS::Topic"}}, None, []),
    ({"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}}, None, ["CAPABILITY_IAM"]),
    ({"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Fn::Sub": "x"}}},
      "P": {"Type": "AWS::IAM::Policy"}}, None, ["CAPABILITY_NAMED_IAM"]),
    ({"P": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": "x"}}}, None,
     ["CAPABILITY_NAMED_IAM"]),
    ({"F": {"Type": "AWS::Serverless::Function"}}, "AWS::Serverless-2016-10-31", ["CAPABILITY_AUTO_EXPAND"]),
    ({"T": {"Type": "AWS::SNS::Topic", "Properties": {"Fn::Transform": {"Name": "Macro"}}}}, None,
     ["CAPABILITY_AUTO_EXPAND"]),
    ({"I": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"InstanceProfileName": "x"}}},
     "AWS::LanguageExtensions", ["CAPABILITY_AUTO_EXPAND", "CAPABILITY_NAMED_IAM"]),
])
def test_capabilities_come_from_the_template(resources, transform, expected):
    template = {"Resources": resources}
    if transform:
        template["Transform"] = transform
    assert plan.capabilities(template) == expected


def test_stateful_resources_by_type_and_deletion_policy():
    template = {"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Key": {"Type": "AWS::KMS::Key"},
        "Repo": {"Type": "AWS::ECR::Repository"},
        "Table": {"Type": "AWS::DynamoDB::Table"},
        "Logs": {"Type": "AWS::Logs::LogGroup"},
        "Kept": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Retain"},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Role": {"Type": "AWS::IAM::Role", "DeletionPolicy": "Delete"},
    }}
    assert sorted(plan.stateful_resources(template)) == ["Bucket", "Kept", "Key", "Logs", "Repo", "Table"]


def test_real_templates_stateful_ids_are_derived(templates):
    found = plan.stateful_resources(templates["foundation"])
    types = {templates["foundation"]["Resources"][k]["Type"] for k in found}
    assert {"AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup"} <= types


def test_order_follows_requires_and_ignores_other_environments(monkeypatch):

    stacks = [fake_stack("pipeline", ("tools",), ("artifacts", "prod:app")), fake_stack("app", None, ("base",)),
              fake_stack("artifacts", ("tools",), ("base",)), fake_stack("base")]
    use_stacks(monkeypatch, stacks)
    assert [s.name for s in plan.order("tools")] == ["base", "artifacts", "pipeline", "app"]
    assert [s.name for s in plan.order("dev")] == ["base", "app"]
    assert [s.name for s in plan.order("tools", ["pipeline"])] == ["pipeline"]
    use_stacks(monkeypatch, [fake_stack("app", None, ("missing",))])
    with pytest.raises(paramfile.ParamFileError, match="requires 'missing', which environment 'dev' does not deploy"):
        plan.order("dev")


def test_real_registry_orders_every_environment():
    from generator import paths, registry

    for env in paths.environments():
        ordered = [s.name for s in plan.order(env)]
        assert sorted(ordered) == sorted(s.name for s in registry.for_environment(env))
        for position, name in enumerate(ordered):
            for req in registry.get(name).requires:
                req_env, _, req_stack = req.rpartition(":")
                if not req_env or req_env == env:
                    assert ordered.index(req_stack) < position, (env, name, req)


def test_changed_properties_from_details_or_contexts():
    assert show.changed_properties({"Details": [
        {"Target": {"Attribute": "Properties", "Name": "BucketName"}},
        {"Target": {"Attribute": "Properties", "Name": "BucketName"}},
        {"Target": {"Attribute": "Tags"}}]}) == ["BucketName", "Tags"]
    assert show.changed_properties({
        "BeforeContext": json.dumps({"Properties": {"A": 1, "B": 2, "C": 3}}),
        "AfterContext": json.dumps({"Properties": {"A": 1, "B": 5, "D": 4}, "DeletionPolicy": "Retain"}),
    }) == ["B", "D", "C", "DeletionPolicy"]
    assert show.changed_properties({}) == []


def test_table_marks_data_loss_and_counts():
    change_set = {"Changes": [
        {"ResourceChange": {"Action": "Modify", "LogicalResourceId": "Data", "ResourceType": "AWS::S3::Bucket",
                            "Replacement": "Conditional", "Scope": ["Properties"],
                            "Details": [{"Target": {"Attribute": "Properties", "Name": "BucketName"}}]}},
        {"ResourceChange": {"Action": "Remove", "LogicalResourceId": "OldLogs",
                            "ResourceType": "AWS::Logs::LogGroup"}},
        {"ResourceChange": {"Action": "Remove", "LogicalResourceId": "OldTopic", "ResourceType": "AWS::SNS::Topic"}},
        {"ResourceChange": {"Action": "Modify", "LogicalResourceId": "Topic", "ResourceType": "AWS::SNS::Topic",
                            "Replacement": "False", "Scope": ["Tags"]}},
        {"ResourceChange": {"Action": "Add", "LogicalResourceId": "New", "ResourceType": "AWS::SNS::Topic"}},
        {"ResourceChange": {"Action": "Modify", "LogicalResourceId": "Kept", "ResourceType": "AWS::SNS::Topic",
                            "Replacement": "True"}},
    ]}
    rows = show.rows(change_set, stateful_ids={"Kept"})
    assert [(r.logical_id, r.risk) for r in rows] == [
        ("Data", True), ("OldLogs", True), ("OldTopic", False), ("Topic", False), ("New", False), ("Kept", True)]
    text = show.table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["Action", "Logical", "ID", "Type", "Replacement", "Scope", "Changed", "properties", "Risk"]
    assert lines[2].split() == ["Modify", "Data", "AWS::S3::Bucket", "Conditional", "Properties", "BucketName",
                                "DATA-LOSS", "RISK"]
    assert lines[-1] == ("6 changes: 1 to add, 3 to modify (2 replacements), 2 to remove; 3 data-loss risks "
                         "(stateful resources replaced or removed: Data, OldLogs, Kept)")
    assert "\033[1;31m" in show.table(rows, color=True) and "\033[" not in text


def test_params_overrides_validates_first(offline_project):
    project = offline_project
    project.add_stack("base")
    from .conftest import topic_template

    project.template("base", topic_template())
    project.params("dev", "base", {"TopicSuffix": "nope"})
    from generator import cli

    project.capsys.readouterr()
    assert cli.main(["params", "overrides", "--env", "dev", "--stack", "base"]) == 2
    assert "Parameters.TopicSuffix: 'nope' is not an allowed value" in project.capsys.readouterr().err
    project.params("dev", "base", {"TopicSuffix": "audit"}, tags={"Team": "a b"})
    assert cli.main(["params", "overrides", "--env", "dev", "--stack", "base"]) == 0
    assert json.loads(project.capsys.readouterr().out) == [
        f"ProjectName={project.name}", "EnvironmentName=dev", "TopicSuffix=audit"]
    assert cli.main(["params", "overrides", "--env", "dev", "--stack", "base", "--tags"]) == 0
    assert json.loads(project.capsys.readouterr().out) == [
        "Team=a b", f"Project={project.name}", "Environment=dev", "ManagedBy=cfn-delivery"]
