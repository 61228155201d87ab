"""The stack model (generator/stackmodel/): one home for stack names, effective parameters, the
stateful classification, the CloudFormation client and the deployed template, and the tools
(deploy, review, lint) agreeing because they read it."""
from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from generator import cli, registry, stackmodel
from generator.deploy import aws as deploy_aws
from generator.deploy import changeset, main, plan, show
from generator.deploy.errors import EXIT_REFUSED
from generator.lint import gate
from generator.review import diff, params_diff, replacement, risks, sources
from tests.deploy.conftest import Project, closed_port_url, topic_template
from tests.helpers import lint_one_region

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
EVERY_STATEFUL_TYPE = sorted(stackmodel.STATEFUL_TYPES)


def _project(root, monkeypatch, capsys, stacks: dict) -> Project:
    """A project root with fake stacks (name -> environments) and its own model: environments tools, dev and a
    protected prod (deploy settings live in delivery.yaml); the registry lists the fake stacks, whose
    ``requires`` is taken as given."""
    monkeypatch.setenv("CFN_DELIVERY_MODEL", str(ROOT / "delivery.yaml"))  # until the project's own is written
    project = Project(root, monkeypatch, capsys, closed_port_url())
    for name, environments in stacks.items():
        project.add_stack(name, environments=tuple(environments))
    model = root / "delivery.yaml"
    model.write_text(f"""project: {{name: {project.name}}}
environments:
  - {{name: tools, protected: true}}
  - {{name: dev, protected: false}}
  - {{name: prod, protected: true}}
applications: []
""")
    monkeypatch.setenv("CFN_DELIVERY_MODEL", str(model))
    monkeypatch.setattr(registry, "stacks", lambda model=None: project.stacks)
    monkeypatch.setattr(registry, "requires", lambda cls, env=None: tuple(getattr(cls, "requires", ()) or ()))
    return project


def _client():
    return boto3.session.Session().client("cloudformation", region_name="eu-west-1", aws_access_key_id="a",
                                          aws_secret_access_key="b", endpoint_url="http://127.0.0.1:9")


# -- naming and parameters ------------------------------------------------------------

def test_stack_name_is_project_env_stack_and_deploy_and_review_use_it(tmp_path, monkeypatch):
    assert stackmodel.stack_name("shop", "prod", "foundation") == "shop-prod-foundation"
    assert plan.stack_name is stackmodel.stack_name  # the name other packages import keeps working
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    (tmp_path / "params" / "dev").mkdir(parents=True)
    (tmp_path / "params" / "dev" / "base.json").write_text(json.dumps({"Parameters": {"ProjectName": "billing"}}))
    assert sources.stack_name("dev", "base") == "billing-dev-base"
    (tmp_path / "params" / "dev" / "base.json").write_text(json.dumps({"Parameters": {}}))
    template = {"Parameters": {"ProjectName": {"Type": "String", "Default": "fromdefault"}}}
    assert sources.stack_name("dev", "base", template) == "fromdefault-dev-base"
    with pytest.raises(sources.ReviewError, match="Parameters.ProjectName is missing"):
        sources.stack_name("dev", "base")


def test_effective_parameters_file_value_else_default_as_cloudformation_sees_them():
    template = {"Parameters": {
        "Given": {"Type": "String", "Default": "template"},
        "Name": {"Type": "String", "Default": "from-default"},
        "Subnets": {"Type": "CommaDelimitedList", "Default": ["subnet-a", "subnet-b"]},
        "Days": {"Type": "Number", "Default": 30},
        "Ratio": {"Type": "Number", "Default": 2.0},
        "Flag": {"Type": "String", "Default": True},
        "Empty": {"Type": "String", "Default": ""},
        "Required": {"Type": "String"},
        "Unset": {"Type": "String"},
    }}
    values = stackmodel.effective_parameters(template, {"Given": "file", "Required": 7, "NotDeclared": "x"})
    assert values == {"Given": "file", "Name": "from-default", "Subnets": "subnet-a,subnet-b", "Days": "30",
                      "Ratio": "2", "Flag": "true", "Empty": "", "Required": "7"}
    assert stackmodel.effective_parameters({}, {"A": "b"}) == {}


def test_deploy_review_and_lint_compute_effective_parameters_alike(tmp_path, monkeypatch, capsys):
    project = _project(tmp_path / "project", monkeypatch, capsys, {"base": ("dev", "prod")})
    template = topic_template({"Subnets": {"Type": "CommaDelimitedList", "Default": ["a", "b"]},
                               "Days": {"Type": "Number", "Default": 30}})
    project.template("base", template)
    project.params("dev", "base", {"TopicSuffix": "audit"})
    expected = {"ProjectName": project.name, "EnvironmentName": "dev", "TopicSuffix": "audit",
                "Subnets": "a,b", "Days": "30"}
    deploy_plan = plan.build("dev", project.stacks[0])
    assert deploy_plan.effective_parameters() == expected
    assert sources.file_values("dev", "base", template) == expected
    assert gate.parameter_sets(project.root / "templates" / "base.yaml") == [("dev", expected)]
    project.params("prod", "base", {"Days": "7"})
    shown = {r.name: (r.a, r.b) for r in params_diff.compare("dev", "prod")[0].rows}
    assert shown["Days"] == ("30 (default)", "7") and shown["TopicSuffix"] == ("audit", "events (default)")
    assert "Subnets" not in shown  # the same default on both sides


# -- the one stateful classification ----------------------------------------------------

def test_the_list_covers_cfn_lint_and_our_extras():
    import cfnlint.data.AdditionalSpecs
    from cfnlint.helpers import load_resource

    cfn_lint = set(load_resource(cfnlint.data.AdditionalSpecs, "StatefulResources.json")["ResourceTypes"])
    missing = cfn_lint - stackmodel.STATEFUL_TYPES
    assert not missing, f"cfn-lint lists stateful types the stack model lacks: add {sorted(missing)} to " \
                        f"generator/stackmodel/stateful.py CFN_LINT_STATEFUL_TYPES"
    assert {"AWS::ECR::Repository", "AWS::CodeArtifact::Repository", "AWS::CodeCommit::Repository",
            "AWS::Cognito::UserPool", "AWS::EC2::Volume", "AWS::EFS::FileSystem", "AWS::Backup::BackupVault",
            "AWS::SecretsManager::Secret", "AWS::SQS::Queue", "AWS::Kinesis::Stream", "AWS::Logs::LogGroup",
            "AWS::KMS::Key", "AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::RDS::DBInstance",
            "AWS::ElastiCache::ReplicationGroup", "AWS::OpenSearchService::Domain"} <= stackmodel.STATEFUL_TYPES
    for stateless in ("AWS::SNS::Topic", "AWS::IAM::Role", "AWS::Lambda::Function", "AWS::ECS::Service"):
        assert not stackmodel.is_stateful(stateless)
    # every tool reads this one object
    assert plan.STATEFUL_TYPES is risks.STATEFUL_TYPES is stackmodel.STATEFUL_TYPES


def test_stateful_resources_by_type_or_keeping_deletion_policy():
    template = {"Resources": {
        "Pool": {"Type": "AWS::Cognito::UserPool"},
        "Volume": {"Type": "AWS::EC2::Volume"},
        "Kept": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "RetainExceptOnCreate"},
        "Snap": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Snapshot"},
        "Deleted": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Delete"},
        "Conditional": {"Type": "AWS::SNS::Topic", "DeletionPolicy": {"Fn::If": ["C", "Retain", "Delete"]}},
        "Broken": "not a mapping",
    }}
    assert stackmodel.stateful_resources(template) == {
        "Pool": "AWS::Cognito::UserPool", "Volume": "AWS::EC2::Volume", "Kept": "AWS::SNS::Topic",
        "Snap": "AWS::SNS::Topic"}
    assert stackmodel.stateful_resources({}) == {} and stackmodel.stateful_resources({"Resources": []}) == {}


def _replace(rtype, logical_id="R", action="Modify"):
    change = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": rtype}
    if action == "Modify":
        change.update(Replacement="True", Scope=["Properties"])
    return {"Changes": [{"Type": "Resource", "ResourceChange": change}]}


def _review_flags(rtype, change, old_resource=None, new_resource=None):
    """review's flags for replacing (``modify``: a create-only property changed, when the type's schema
    has one) or removing a resource."""
    old_resource = old_resource or {"Type": rtype}
    if change == "remove":
        found = diff.diff_resources("s", {"R": old_resource}, {})
        return found[0].risks
    strict, _ = replacement.create_only(rtype)
    top = [p[0] for p in strict if len(p) == 1]
    if top:
        old = dict(old_resource, Properties={top[0]: "old-value"})
        new = dict(new_resource or old_resource, Properties={top[0]: "new-value"})
        found = diff.diff_resources("s", {"R": old}, {"R": new})
        assert found[0].replacement is True, (rtype, found[0].notes)
        return found[0].risks
    # no create-only property in the schema: review decides replacement elsewhere (type change,
    # rename); the data-loss verdict for a replacement is the same function
    flags, _ = diff._risks_and_notes(rtype, "modify", True, {}, {}, old_resource, new_resource)
    return flags


@pytest.mark.parametrize("rtype", EVERY_STATEFUL_TYPE)
def test_deploy_guard_and_review_data_loss_agree_on_every_stateful_type(rtype):
    # deploy: the change-set table marks replacing or removing it, by type alone
    for action in ("Modify", "Remove"):
        rows = show.rows(_replace(rtype, action=action), stateful_ids=set())
        assert rows[0].risk, (rtype, action)
        assert show.RISK in show.table(rows)
    # review: replacing or removing it is data loss
    assert risks.DATA_LOSS in _review_flags(rtype, "modify")
    assert risks.DATA_LOSS in _review_flags(rtype, "remove")


def test_deploy_and_review_agree_on_stateless_and_retained_resources():
    topic = "AWS::SNS::Topic"
    assert not show.rows(_replace(topic), set())[0].risk
    assert risks.DATA_LOSS not in _review_flags(topic, "remove")
    retained = {"Type": topic, "DeletionPolicy": "Retain"}
    ids = set(stackmodel.stateful_resources({"Resources": {"R": retained}}))
    assert show.rows(_replace(topic), ids)[0].risk and show.rows(_replace(topic, action="Remove"), ids)[0].risk
    assert risks.DATA_LOSS in _review_flags(topic, "remove", retained)
    assert risks.DATA_LOSS in diff._risks_and_notes(topic, "modify", True, {}, {}, {"Type": topic}, retained)[0]


# -- deploy refuses in a protected environment (the real command, stubbed AWS) ----------------

def _refused_replacing(tmp_path, monkeypatch, capsys, rtype):
    project = _project(tmp_path / rtype.replace(":", "_"), monkeypatch, capsys, {"data": ("prod",)})
    template = topic_template()
    template["Resources"]["R"] = {"Type": rtype}  # no DeletionPolicy: stateful by its type alone
    project.template("data", template)
    project.params("prod", "data")  # prod is protected in the project's model
    name = project.stack_name("prod", "data")
    deployed = {"Stacks": [{"StackName": name, "StackId": f"id/{name}", "CreationTime": NOW,
                            "StackStatus": "UPDATE_COMPLETE", "Parameters": [
                                {"ParameterKey": "ProjectName", "ParameterValue": project.name},
                                {"ParameterKey": "EnvironmentName", "ParameterValue": "prod"},
                                {"ParameterKey": "TopicSuffix", "ParameterValue": "audit"}]}]}
    change_set = dict(_replace(rtype), ChangeSetName="cs", StackName=name, Status="CREATE_COMPLETE",
                      ExecutionStatus="AVAILABLE")
    cfn = _client()
    clients = stackmodel.Clients(stackmodel.Target(region="eu-west-1"))
    clients._clients["cloudformation"] = cfn
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", deployed)
        stub.add_response("get_template", {"TemplateBody": json.dumps(topic_template())})
        stub.add_response("create_change_set", {"Id": "cs-id"}, {
            "StackName": name, "ChangeSetName": ANY, "ChangeSetType": "UPDATE", "Description": ANY,
            "TemplateBody": ANY, "Parameters": ANY, "Tags": ANY})
        for _ in range(3):  # waiter, final status, full description
            stub.add_response("describe_change_set", change_set)
        stub.add_response("delete_change_set", {}, {"StackName": name, "ChangeSetName": ANY})
        args = cli.build_parser().parse_args(["deploy", "--poll-seconds", "0", "--env", "prod", "--stack", "data",
                                              "--yes"])
        code = main.run(args, clients=clients)
        stub.assert_no_pending_responses()
    return code, capsys.readouterr()


@pytest.mark.parametrize("rtype", EVERY_STATEFUL_TYPE)
def test_protected_environment_refuses_replacing_every_stateful_type(tmp_path, monkeypatch, capsys, rtype):
    code, out = _refused_replacing(tmp_path, monkeypatch, capsys, rtype)
    assert code == EXIT_REFUSED, out.err
    assert "refusing to replace or remove stateful resources in protected environment 'prod': R" in out.err
    assert re.search(rf"Modify\s+R\s+{re.escape(rtype)}\s+True.*{show.RISK}", out.out)


@pytest.mark.parametrize("rtype", ["AWS::Cognito::UserPool", "AWS::EC2::Volume"])
def test_cognito_user_pool_and_ec2_volume_blocked_and_flagged(tmp_path, monkeypatch, capsys, rtype):
    """The issue's examples: deploy's old list had neither type, so a protected environment let
    their replacement through while review flagged it."""
    code, out = _refused_replacing(tmp_path, monkeypatch, capsys, rtype)
    assert code == EXIT_REFUSED and "(data-loss risk)" in out.err
    old = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Users": {"Type": rtype}}}
    renamed = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Users2": {"Type": rtype}}}
    result = diff.diff_templates("auth", old, renamed)
    removed = next(r for r in result.resources if r.logical_id == "Users")
    assert risks.DATA_LOSS in removed.risks
    assert any(n.startswith("data-loss: stateful resource removed") for n in removed.notes)
    flags, notes = diff._risks_and_notes(rtype, "modify", True, {}, {}, {"Type": rtype})
    assert flags == [risks.DATA_LOSS] and notes == ["data-loss: stateful resource replaced; its data is deleted"]


# -- lint uses the same list ---------------------------------------------------------------

def test_lint_rule_e9101_uses_the_same_classification():
    def e9101(resource):
        template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"R": resource}}
        return [m for m in lint_one_region(json.dumps(template)) if m.rule.id == "E9101"]

    assert len(e9101({"Type": "AWS::Cognito::UserPool"})) == 2  # DeletionPolicy and UpdateReplacePolicy
    assert len(e9101({"Type": "AWS::EC2::Volume", "Properties": {"AvailabilityZone": "x", "Size": 1}})) == 2
    assert len(e9101({"Type": "AWS::CodeArtifact::Repository",
                      "Properties": {"RepositoryName": "r", "DomainName": "d"}, "DeletionPolicy": "Retain"})) == 1
    assert e9101({"Type": "AWS::SNS::Topic"}) == []
    # a DeletionPolicy that keeps the resource makes it stateful for lint too: say what replacement does
    assert len(e9101({"Type": "AWS::SNS::Topic", "DeletionPolicy": "Retain"})) == 1


# -- the AWS client and the deployed template -------------------------------------------------

def test_one_client_factory_with_adaptive_retries_for_deploy_and_review(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    assert deploy_aws.Clients is stackmodel.Clients and deploy_aws.Target is stackmodel.Target
    made = []
    real_get = stackmodel.Clients.get
    monkeypatch.setattr(stackmodel.Clients, "get", lambda self, service: made.append(service) or real_get(self, service))
    review = sources.cloudformation_client("eu-west-1", None, "http://127.0.0.1:9")
    deploy = stackmodel.Clients(stackmodel.Target(region="eu-west-1", endpoint_url="http://127.0.0.1:9")).cfn
    assert made == ["cloudformation", "cloudformation"]
    for client in (review, deploy):
        assert client.meta.config.retries == {"mode": "adaptive",
                                              "total_max_attempts": stackmodel.DEFAULT_MAX_ATTEMPTS}
        assert client.meta.endpoint_url == "http://127.0.0.1:9"
    with pytest.raises(sources.ReviewError, match="no AWS region"):
        monkeypatch.delenv("AWS_REGION", raising=False)
        monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        sources.cloudformation_client(None, None, None)


YAML_BODY = """AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub '${AWS::StackName}-events'
"""
PARSED = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Topic": {
    "Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-events"}}}}}


@pytest.mark.parametrize("body", [YAML_BODY, json.dumps(PARSED)], ids=["yaml", "json"])
def test_deployed_template_reads_yaml_and_json_bodies(body):
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("get_template", {"TemplateBody": body}, {"StackName": "s", "TemplateStage": "Original"})
        template = stackmodel.deployed_template(cfn, "s")
        stub.assert_no_pending_responses()
    assert template == PARSED and type(template["Resources"]) is dict


def test_review_and_deploy_read_the_deployed_stack_through_the_model():
    cfn = _client()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": "s", "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE",
            "Parameters": [{"ParameterKey": "Days", "ParameterValue": "30"}]}]})
        stub.add_response("get_template", {"TemplateBody": YAML_BODY})
        template, values, described = sources.deployed("s", cfn)
        assert (template, values, described["StackName"]) == (PARSED, {"Days": "30"}, "s")
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id gone does not exist")
        with pytest.raises(sources.ReviewError, match="stack 'gone': Stack with id gone does not exist"):
            sources.deployed("gone", cfn)
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id gone does not exist")
        assert changeset.describe_stack(cfn, "gone") is None
        stub.assert_no_pending_responses()
    assert changeset.describe_stack is stackmodel.describe_stack


# -- guard: nothing is copied ---------------------------------------------------------------

def _sources():
    for path in sorted((ROOT / "generator").rglob("*.py")):
        # generator/functions: code that runs inside Lambda (inline in templates), not part of the tool.
        if "stackmodel" not in path.parts and "functions" not in path.parts:
            yield path, path.read_text(encoding="utf-8")


def test_no_second_copy_of_the_stack_model_in_generator():
    copies = []
    for path, text in _sources():
        where = path.relative_to(ROOT)
        if re.search(r"^\s*(STATEFUL_TYPES|EXTRA_STATEFUL\w*|KEEPING_POLICIES)\s*=", text, re.M):
            copies.append(f"{where}: a stateful list")
        if "StatefulResources.json" in text:
            copies.append(f"{where}: reads cfn-lint's stateful list")
        if re.search(r"retries\s*[=:]", text) or '"retries"' in text:
            copies.append(f"{where}: a retry config")
        if re.search(r"\.get_template\(|boto3\.session\.Session\(|boto3\.client\(", text):
            copies.append(f"{where}: its own client or GetTemplate")
        if ".list_imports(" in text:
            copies.append(f"{where}: its own ListImports (use stackmodel.exports)")
        if re.search(r"\"Retain\", \"RetainExceptOnCreate\"", text):
            copies.append(f"{where}: a keeping-policy list")
    assert copies == []
