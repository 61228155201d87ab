"""The acceptance table, measured against LocalStack's CloudFormation engine."""
from __future__ import annotations

import json

from generator.deploy import watch

from .conftest import bucket_template, change_set_names, stack_or_none, topic_template


def _params(cfn, name):
    return {p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stacks(StackName=name)["Stacks"][0]["Parameters"]}


def test_new_stack_is_created_and_outputs_printed(project, cfn):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base", tags={"Owner": "team-a"})
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 0, result.err
    name = project.stack_name("dev", "base")
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    arn = stack["Outputs"][0]["OutputValue"]
    assert "Outputs:" in result.out and f"TopicArn  {arn}" in result.out
    assert f"(export {project.name}-dev-base-TopicArn)" in result.out
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {
        "Owner": "team-a", "Project": project.name, "Environment": "dev", "ManagedBy": "cfn-delivery"}
    assert "CREATE_COMPLETE" in result.out and "Topic" in result.out  # streamed events
    # the change set carried the git revision in its description
    summaries = cfn.list_change_sets(StackName=name)["Summaries"]
    assert all(s["Description"].startswith("cfn-delivery dev/base from git ") for s in summaries)


def test_same_inputs_again_are_skipped_without_a_change_set(project, cfn):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    name = project.stack_name("dev", "base")
    before = change_set_names(cfn, name)
    # reformatting the template (JSON -> YAML-ish indentation) does not count as a change
    project.template("base", json.dumps(topic_template(), indent=4))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 0, result.err
    assert "no changes" in result.out and "no change set created" in result.out
    assert change_set_names(cfn, name) == before


def test_only_a_parameter_changed_shows_modified_resources_and_executes(project, cfn):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    project.params("dev", "base", {"TopicSuffix": "alerts"})
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 0, result.err
    assert "differs from the deployed stack in: parameters TopicSuffix" in result.out
    row = next(line for line in result.out.splitlines() if line.startswith("Modify"))
    print(result.out)
    # (LocalStack reports Replacement False for a topic rename; AWS says True)
    assert row.split()[:3] == ["Modify", "Topic", "AWS::SNS::Topic"] and row.split()[3] in ("True", "False")
    assert "TopicName" in row
    assert "1 change: 0 to add, 1 to modify (" in result.out and "0 to remove; 0 data-loss risks" in result.out
    name = project.stack_name("dev", "base")
    assert _params(cfn, name)["TopicSuffix"] == "alerts"
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_prod_bucket_replacement_is_refused_without_allow_replacement(project, cfn, policies):
    project.add_stack("data")
    project.environment("prod", Protected=True)
    project.template("data", bucket_template(f"{project.name}-prod-first"))
    project.params("prod", "data")
    assert project.run("--env", "prod", "--stack", "data", "--yes").code == 0
    name = project.stack_name("prod", "data")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["EnableTerminationProtection"] is True
    assert policies[-1][0] == name
    assert policies[-1][1]["Statement"][-1]["Resource"] == ["LogicalResourceId/DataBucket"]
    change_sets_before = change_set_names(cfn, name)
    project.template("data", bucket_template(f"{project.name}-prod-second"))
    result = project.run("--env", "prod", "--stack", "data", "--yes")
    assert result.code == 3, result
    risk_row = next(line for line in result.out.splitlines() if line.startswith("Modify"))
    assert "DataBucket" in risk_row and "DATA-LOSS RISK" in risk_row and "True" in risk_row
    assert "1 data-loss risk (stateful resources replaced or removed: DataBucket)" in result.out
    assert "refusing to replace or remove stateful resources in protected environment 'prod': DataBucket" in result.err
    assert "--allow-replacement" in result.err
    # nothing changed: same parameters, same bucket, no change set left behind
    assert cfn.get_template(StackName=name)["TemplateBody"]["Resources"]["DataBucket"]["Properties"]["BucketName"] \
        == f"{project.name}-prod-first"
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"][0]["OutputValue"] == f"{project.name}-prod-first"
    assert change_set_names(cfn, name) == change_sets_before
    # the same change with --allow-replacement goes through
    result = project.run("--env", "prod", "--stack", "data", "--yes", "--allow-replacement")
    assert result.code == 0, result.err
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"][0]["OutputValue"] == f"{project.name}-prod-second"
    # allow-all during the replacing update, then the guarding policy again
    assert [p[1]["Statement"][-1]["Effect"] for p in policies[-2:]] == ["Allow", "Deny"]


def test_protected_environment_asks_for_the_stack_name(project, cfn, policies):
    project.add_stack("base")
    project.environment("prod", Protected=True)
    project.template("base", topic_template())
    project.params("prod", "base")
    name = project.stack_name("prod", "base")
    result = project.run("--env", "prod", "--stack", "base", stdin="yes\n")
    assert result.code == 3
    assert f"type the stack name ({name}) to execute" in result.out
    assert "not confirmed" in result.err
    assert stack_or_none(cfn, name) is None  # the CREATE change set and its empty stack were deleted
    result = project.run("--env", "prod", "--stack", "base", stdin=f"{name}\n")
    assert result.code == 0, result.err
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_unprotected_environment_prompts_unless_yes(project, cfn):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    result = project.run("--env", "dev", "--stack", "base")  # stdin at end: no answer
    assert result.code == 3 and "[y/N]" in result.out and "pass --yes" in result.err
    assert stack_or_none(cfn, project.stack_name("dev", "base")) is None
    assert project.run("--env", "dev", "--stack", "base", stdin="y\n").code == 0


def _failing_template():
    template = topic_template()
    # PutParameter rejects an empty value: CREATE_FAILED at execute time
    template["Parameters"]["ParamValue"] = {"Type": "String", "Default": ""}
    template["Resources"]["Param"] = {"Type": "AWS::SSM::Parameter", "DependsOn": "Topic",
                                      "Properties": {"Type": "String", "Value": {"Ref": "ParamValue"}}}
    return template


def test_resource_failing_at_execute_time_prints_the_reason_and_rolls_back(project, cfn):
    project.add_stack("base")
    project.template("base", _failing_template())
    project.params("dev", "base")
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 1
    name = project.stack_name("dev", "base")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert f"{name}: ROLLBACK_COMPLETE" in result.err
    cause = next(line for line in result.err.splitlines() if line.strip().startswith("Param "))
    assert "(AWS::SSM::Parameter) CREATE_FAILED:" in cause and "PutParameter" in cause
    assert "--replace-failed" in result.err
    assert change_set_names(cfn, name) == []  # nor does a failed create


def test_failed_update_rolls_back_and_exits_1(project, cfn):
    project.add_stack("base")
    project.template("base", _failing_template())
    project.params("dev", "base", {"ParamValue": "ok"})
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    project.params("dev", "base", {"ParamValue": ""})
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 1
    name = project.stack_name("dev", "base")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert "UPDATE_FAILED" in result.err and "Param (AWS::SSM::Parameter)" in result.err
    assert "rolled back" in result.err
    assert change_set_names(cfn, name) == []  # a failed update leaves no change set behind (issue 16, item 6)


def test_rollback_complete_is_explained_and_replace_failed_recreates(project, cfn):
    project.add_stack("base")
    project.template("base", _failing_template())
    project.params("dev", "base")
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 1
    name = project.stack_name("dev", "base")
    project.params("dev", "base", {"ParamValue": "now-valid"})
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 1
    assert f"stack {name} is ROLLBACK_COMPLETE: its first create failed" in result.err
    assert "--replace-failed" in result.err
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    result = project.run("--env", "dev", "--stack", "base", "--yes", "--replace-failed")
    assert result.code == 0, result.err
    assert "deleting it (--replace-failed)" in result.out
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert _params(cfn, name)["ParamValue"] == "now-valid"


def test_dry_run_shows_the_change_set_then_deletes_it(project, cfn):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    name = project.stack_name("dev", "base")
    # on a new stack: nothing is left, not even the empty REVIEW_IN_PROGRESS stack
    result = project.run("--env", "dev", "--stack", "base", "--dry-run")
    assert result.code == 0, result.err
    assert "Add     Topic" in result.out and "dry run: change set" in result.out
    assert stack_or_none(cfn, name) is None
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    before = change_set_names(cfn, name)
    project.params("dev", "base", {"TopicSuffix": "audit"})
    result = project.run("--env", "dev", "--stack", "base", "--dry-run")
    assert result.code == 0, result.err
    assert "Modify  Topic" in result.out and "deleted" in result.out
    assert change_set_names(cfn, name) == before
    assert _params(cfn, name)["TopicSuffix"] == "events"
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_no_execute_leaves_the_change_set_for_review(project, cfn):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    name = project.stack_name("dev", "base")
    before = set(change_set_names(cfn, name))
    project.params("dev", "base", {"TopicSuffix": "audit"})
    result = project.run("--env", "dev", "--stack", "base", "--no-execute")
    assert result.code == 0, result.err
    new = set(change_set_names(cfn, name)) - before
    assert len(new) == 1
    left = cfn.describe_change_set(StackName=name, ChangeSetName=new.pop())
    assert left["Status"] == "CREATE_COMPLETE" and left["ExecutionStatus"] == "AVAILABLE"
    assert "execute-change-set" in result.out
    assert _params(cfn, name)["TopicSuffix"] == "events"


def test_no_op_change_set_prints_no_changes_and_is_deleted(project, cfn):
    # a NoEcho parameter cannot be compared locally, so a change set is made; it has no changes
    project.add_stack("base")
    project.template("base", topic_template({"Secret": {"Type": "String", "NoEcho": True}}))
    project.params("dev", "base", {"Secret": "s3cret"})
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    name = project.stack_name("dev", "base")
    before = change_set_names(cfn, name)
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 0, result.err
    assert "no changes" in result.out and "change set deleted" in result.out
    assert change_set_names(cfn, name) == before


def test_aws_error_is_one_readable_line_and_debug_shows_the_traceback(project, cfn):
    # (LocalStack rejects this at CreateChangeSet; FAILED change sets are covered in test_stubbed.py,
    # since LocalStack only ever fails the no-op change set)
    template = topic_template()
    template["Resources"]["Topic"]["Properties"]["TopicName"] = {"Ref": "NoSuchThing"}
    project.add_stack("base")
    project.template("base", template)
    project.params("dev", "base")
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 1
    name = project.stack_name("dev", "base")
    # (LocalStack keeps the REVIEW_IN_PROGRESS stack of a refused CREATE change set: the cleanup removes it)
    assert result.err.splitlines() in (
        ["error: CreateChangeSet failed: ValidationError: Template format error: Unresolved resource dependencies "
         f"[NoSuchThing] in the Resources block of the template ({note})"]
        for note in (f"the empty stack {name} it left deleted", "no change set " + result.err.split(
            "no change set ")[-1].split(" ")[0] + " left"))
    assert stack_or_none(cfn, project.stack_name("dev", "base")) is None
    import pytest
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        project.run("--env", "dev", "--stack", "base", "--yes", "--debug")


def test_all_follows_requires_and_cross_env_requirements_are_checked(project, cfn):
    project.add_stack("app", requires=("base",))  # listed first: order comes from requires
    project.add_stack("base")
    project.add_stack("edge", environments=("dev",), requires=("tools:base",))
    app = topic_template()
    app["Resources"]["Topic"]["Properties"]["TopicName"] = {"Fn::Sub": "${ProjectName}-${EnvironmentName}-app"}
    app["Resources"]["Link"] = {"Type": "AWS::SSM::Parameter", "Properties": {
        "Type": "String", "Value": {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-base-TopicArn"}}}}
    app["Outputs"] = {"Linked": {"Value": {"Fn::GetAtt": ["Link", "Value"]}}}
    project.template("app", app)
    project.template("base", topic_template())
    edge = topic_template()
    edge["Resources"]["Topic"]["Properties"]["TopicName"] = {"Fn::Sub": "${ProjectName}-${EnvironmentName}-edge"}
    edge["Outputs"] = {}
    project.template("edge", edge)
    for stack in ("app", "base", "edge"):
        project.params("dev", stack)
    result = project.run("--env", "dev", "--all", "--yes")
    # base and app deploy in that order; edge needs tools:base, which is missing
    assert result.code == 1
    assert result.out.index("== dev/base") < result.out.index("== dev/app") < result.out.index("== dev/edge")
    assert (f"requires tools:base, but stack {project.name}-tools-base does not exist; deploy it first: "
            f"cfn-delivery deploy --env tools --stack base") in result.err
    assert stack_or_none(cfn, project.stack_name("dev", "edge")) is None
    linked = cfn.describe_stacks(StackName=project.stack_name("dev", "app"))["Stacks"][0]["Outputs"][0]["OutputValue"]
    assert linked.endswith(f":{project.name}-dev-events")
    project.params("tools", "base")
    assert project.run("--env", "tools", "--stack", "base", "--yes").code == 0
    result = project.run("--env", "dev", "--stack", "all", "--yes")
    assert result.code == 0, result.err
    assert result.out.count("no changes") == 2
    assert cfn.describe_stacks(StackName=project.stack_name("dev", "edge"))["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_large_template_goes_through_s3(project, cfn, localstack):
    from tests.localstack_server import client

    template = topic_template()
    template["Metadata"] = {"Padding": ["x" * 1000] * 60}
    project.add_stack("base")
    project.template("base", template)
    project.params("dev", "base")
    size = len((project.root / "templates" / "base.yaml").read_bytes())
    assert size > 51_200
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2
    assert f"templates/base.yaml: {size} bytes is over CloudFormation's 51200-byte inline limit; pass --s3-bucket" \
        in result.err
    assert stack_or_none(cfn, project.stack_name("dev", "base")) is None
    bucket = f"{project.name}-templates"
    s3 = client("s3", localstack.endpoint_url)
    s3.create_bucket(Bucket=bucket)
    result = project.run("--env", "dev", "--stack", "base", "--yes", "--s3-bucket", bucket)
    assert result.code == 0, result.err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith(f"cfn-delivery/{project.name}-dev-base/") and keys[0].endswith(".yaml")
    assert cfn.describe_stacks(StackName=project.stack_name("dev", "base"))["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_ctrl_c_stops_watching_only_and_watch_resumes(project, cfn, monkeypatch):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(watch, "follow", interrupted)
        result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 130
    assert "stopped watching" in result.err and "continues in CloudFormation" in result.err
    assert "cfn-delivery deploy --env dev --stack base --watch" in result.err
    result = project.run("--env", "dev", "--stack", "base", "--watch")
    assert result.code == 0, result.err
    assert "CREATE_COMPLETE" in result.out and "Outputs:" in result.out


def test_unexecuted_create_is_explained_and_replace_failed_starts_over(project, cfn):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params("dev", "base")
    name = project.stack_name("dev", "base")
    assert project.run("--env", "dev", "--stack", "base", "--no-execute").code == 0
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 1
    assert f"stack {name} is REVIEW_IN_PROGRESS: it was never created" in result.err
    result = project.run("--env", "dev", "--stack", "base", "--yes", "--replace-failed")
    assert result.code == 0, result.err
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
