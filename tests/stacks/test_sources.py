"""Pipeline sources (components/sources.py) for every application kind: ``codecommit`` reads an
existing repository started by EventBridge, ``connection`` reads a Git provider through a
connection started by a V2 push trigger; each grants the pipeline role exactly what its action
needs, on that one repository or connection. Models are built in-process from an example model
with its ``source`` replaced; names are read from the model."""
from __future__ import annotations

import re

import pytest

from generator import cli, model, registry, render
from generator.components.sources import CODECOMMIT_SOURCE_ACTIONS, CONNECTION_ARN_PATTERN
from generator.lint import least_privilege, secret_values
from generator.model.schema import KINDS
from tests.helpers import ROOT, resources, statements, walk

BASE = (ROOT / "examples" / "models" / "container-codecommit.yaml").read_text(encoding="utf-8")
SOURCE_LINE = re.compile(r"^    source: .*$", re.M)
KIND_LINE = re.compile(r"^    kind: .*$", re.M)
#: What each kind needs besides the example's parameters (the base is an ECS model).
KIND_PARAMETERS = {
    "beanstalk": "      PlatformArn: !placeholder arn:aws:elasticbeanstalk:eu-west-1::platform/Python 3.12 running on "
                 "64bit Amazon Linux 2023/4.5.2\n",
}
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:111122223333:connection/0a1b2c3d-4e5f-4a1b-8c2d-3e4f5a6b7c8d"
CODECOMMIT_ACTIONS = sorted(str(a.JSONrepr()) for a in CODECOMMIT_SOURCE_ACTIONS)
REPO_ARN = {"Fn::Sub": "arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:${SourceRepositoryName}"}


def model_text(source: str, kind: str = "ecs-bluegreen") -> str:
    text = SOURCE_LINE.sub("    source: " + source, BASE, count=1)
    text = KIND_LINE.sub("    kind: " + kind, text, count=1)
    text = text.replace("    parameters:\n      DockerHubUsername",
                        "    parameters:\n" + KIND_PARAMETERS.get(kind, "") + "      DockerHubUsername", 1)
    if kind == "beanstalk":  # Beanstalk stacks declare neither; a value no stack declares is an error
        text = "\n".join(line for line in text.splitlines() if "DockerHub" not in line and "TestListenerCidr" not in line)
    if "connection" in source:
        text = text.replace("      ApprovalEmail:", f"      SourceConnectionArn: !placeholder {CONNECTION_ARN}\n"
                                                   "      ApprovalEmail:", 1)
    return text


def pipeline_of(text: str):
    """(model, pipeline stack class, its template) of the model's one application (the pipeline part
    of the split pipeline stacks; :func:`roles_of` gives the roles part, which holds the grants)."""
    m = model.loads(text, "delivery.yaml")
    [app] = m.applications
    cls = next(c for c in registry.stacks(m) if c.app is app and getattr(c, "build_class", None) is not None
               and getattr(c, "part", "pipeline") == "pipeline")
    return m, cls, render.rendered(cls)[0]


def roles_of(m, cls) -> dict:
    """The template holding the pipeline's roles and grants (the roles part, else the pipeline's own)."""
    found = [c for c in registry.stacks(m) if c.app is cls.app and getattr(c, "part", None) == "roles"]
    return render.rendered(found[0])[0] if found else render.rendered(cls)[0]


def pipeline_props(template):
    return resources(template, "AWS::CodePipeline::Pipeline")["Pipeline"]["Properties"]


def role_statements(template, role_id="PipelineRole"):
    return [s for p in resources(template, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
            for s in statements(p["Properties"]["PolicyDocument"])]


def granted(template, prefix):
    """``[(action, resources)]`` of every identity statement in ``template`` with a ``prefix`` action."""
    return [(a, s["Resource"]) for p in resources(template, "AWS::IAM::Policy").values()
            for s in statements(p["Properties"]["PolicyDocument"])
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]) if a.startswith(prefix)]


# -- codecommit ------------------------------------------------------------------------------------
@pytest.fixture(params=sorted(KINDS))
def codecommit(request):
    return pipeline_of(model_text("{type: codecommit, repository: team-repo, branch: release/2.x}", request.param))


def test_codecommit_action_reads_the_model_repository_without_polling(codecommit):
    m, cls, template = codecommit
    [source] = pipeline_props(template)["Stages"][0]["Actions"]
    assert source["ActionTypeId"] == {"Category": "Source", "Owner": "AWS", "Provider": "CodeCommit", "Version": "1"}
    config = source["Configuration"]
    assert config["PollForSourceChanges"] is False
    assert config["RepositoryName"] == {"Ref": "SourceRepositoryName"} and config["BranchName"] == {"Ref": "SourceBranchName"}
    params = template["Parameters"]
    assert params["SourceRepositoryName"]["Default"] == cls.app.source.repository
    assert params["SourceBranchName"]["Default"] == cls.app.source.branch
    assert "SourceObjectKey" not in params and "Triggers" not in pipeline_props(template)


def test_codecommit_rule_fires_on_the_branch_reference_updates(codecommit):
    _, cls, template = codecommit
    rule = resources(template, "AWS::Events::Rule")["PipelineSourceRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.codecommit"]
    assert pattern["detail-type"] == ["CodeCommit Repository State Change"]
    assert pattern["resources"] == [REPO_ARN]
    assert "referenceUpdated" in pattern["detail"]["event"]
    assert pattern["detail"]["referenceType"] == ["branch"]
    assert pattern["detail"]["referenceName"] == [{"Ref": "SourceBranchName"}]
    [target] = rule["Targets"]
    assert target["Id"] == "Pipeline" and "RoleArn" in target
    roles = roles_of(codecommit[0], cls)
    assert [s["Action"] for s in role_statements(roles, "PipelineTriggerRole")] == [["codepipeline:StartPipelineExecution"]]


def test_codecommit_grants_exactly_the_source_action_on_that_repository(codecommit):
    m, cls, _ = codecommit
    template = roles_of(m, cls)
    grants = granted(template, "codecommit:")
    assert sorted(a for a, _ in grants) == CODECOMMIT_ACTIONS
    assert all(r == [REPO_ARN] for _, r in grants)
    # on the pipeline's own role: CodePipeline runs source actions with it
    held = [a for s in role_statements(template) for a in s["Action"] if a.startswith("codecommit:")]
    assert sorted(held) == CODECOMMIT_ACTIONS


def test_codecommit_repository_is_never_created(codecommit):
    m, _, _ = codecommit
    for cls in registry.stacks(m):
        template = render.rendered(cls)[0]
        assert not resources(template, "AWS::CodeCommit::Repository"), cls.name
        assert not [a for a, _ in granted(template, "codecommit:") if a == "codecommit:CreateRepository"]


def test_codecommit_arn_is_built_from_pseudo_parameters(codecommit):
    m, cls, _ = codecommit
    template = roles_of(m, cls)
    text = str(template)
    assert not re.search(r"arn:aws:codecommit|\d{12}|eu-west-1", str(granted(template, "codecommit:")))
    assert "arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:" in text


def test_codecommit_pipeline_is_least_privilege(codecommit):
    m, cls, template = codecommit
    assert least_privilege.check_template(cls.name, template) == []
    assert least_privilege.check_template(cls.name + "-roles", roles_of(m, cls)) == []


# -- connection ------------------------------------------------------------------------------------
@pytest.fixture(params=sorted(KINDS))
def connection(request):
    return pipeline_of(model_text('{type: connection, provider: GitLab, repository: group/sub/service, branch: main, '
                                  'file_paths: ["services/api/**", "Dockerfile"]}', request.param))


def test_connection_action_and_its_parameters(connection):
    _, cls, template = connection
    [source] = pipeline_props(template)["Stages"][0]["Actions"]
    assert source["ActionTypeId"] == {"Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection",
                                      "Version": "1"}
    assert source["Configuration"] == {
        "ConnectionArn": {"Ref": "SourceConnectionArn"}, "FullRepositoryId": {"Ref": "SourceRepositoryId"},
        "BranchName": {"Ref": "SourceBranchName"}, "OutputArtifactFormat": "CODE_ZIP"}
    params = template["Parameters"]
    assert "Default" not in params["SourceConnectionArn"], "the ARN is set per environment in the model"
    assert params["SourceRepositoryId"]["Default"] == cls.app.source.repository
    assert cls.app.source.provider in params["SourceConnectionArn"]["Description"]
    assert "PipelineSourceRule" not in resources(template, "AWS::Events::Rule")


def test_connection_starts_on_a_v2_push_trigger_filtered_on_branch_and_paths(connection):
    _, cls, template = connection
    props = pipeline_props(template)
    assert props["PipelineType"] == "V2"
    [trigger] = props["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    git = trigger["GitConfiguration"]
    assert git["SourceActionName"] == props["Stages"][0]["Actions"][0]["Name"]
    [push] = git["Push"]
    assert push["Branches"] == {"Includes": [{"Ref": "SourceBranchName"}]}
    assert push["FilePaths"] == {"Includes": list(cls.app.source.file_paths)}


def test_connection_without_file_paths_filters_on_the_branch_only():
    _, _, template = pipeline_of(model_text("{type: connection, repository: org/service}"))
    [push] = pipeline_props(template)["Triggers"][0]["GitConfiguration"]["Push"]
    assert push == {"Branches": {"Includes": [{"Ref": "SourceBranchName"}]}}
    assert template["Parameters"]["SourceBranchName"]["Default"] == "main"


def test_use_connection_is_scoped_to_the_connection_parameter(connection):
    m, cls, _ = connection
    template = roles_of(m, cls)
    grants = granted(template, "codestar-connections:") + granted(template, "codeconnections:")
    assert sorted(a for a, _ in grants) == ["codeconnections:UseConnection", "codestar-connections:UseConnection"]
    assert all(r == [{"Ref": "SourceConnectionArn"}] for _, r in grants)
    assert least_privilege.check_template(cls.name, template) == []


def test_connection_template_has_no_token(connection):
    _, cls, template = connection
    text = render.rendered(cls)[1]
    assert secret_values.scan_text(cls.name, text) == [] and secret_values.scan_structure(cls.name, template) == []
    assert not re.search(r"OAuthToken|PersonalAccessToken|Secret|Password", text)
    assert all(not isinstance(v, str) or not v.startswith(("ghp_", "glpat-")) for v in walk(template))


@pytest.mark.parametrize("arn,ok", [
    (CONNECTION_ARN, True),
    (CONNECTION_ARN.replace("codeconnections", "codestar-connections"), True),
    (CONNECTION_ARN.replace("arn:aws:", "arn:aws-us-gov:").replace("eu-west-1", "us-gov-west-1"), True),
    (CONNECTION_ARN.replace("codeconnections", "codecommit"), False),
    (CONNECTION_ARN.replace(":connection/", ":host/"), False),
    (CONNECTION_ARN.replace("111122223333", "1111"), False),
    ("ghp_" + "x" * 36, False),
])
def test_connection_arn_pattern(arn, ok):
    assert bool(re.match(CONNECTION_ARN_PATTERN, arn)) is ok


def test_connection_arn_comes_from_the_model_per_environment():
    m, cls, _ = pipeline_of(model_text("{type: connection, repository: org/service}"))
    from generator import paramgen

    assert paramgen.document(cls, m.tools)["Parameters"]["SourceConnectionArn"] == CONNECTION_ARN
    unset = model_text("{type: connection, repository: org/service}").replace(
        f"      SourceConnectionArn: !placeholder {CONNECTION_ARN}\n", "")
    problems = paramgen.problems(model.loads(unset, "delivery.yaml"))
    assert any("SourceConnectionArn" in p for p in problems), problems


# -- bad input: one line naming file, line, key and fix; exit 2 ----------------------------------------
@pytest.mark.parametrize("source,key,fix", [
    ("{type: codecommit}", "applications[0].source", "needs 'repository'"),
    ("{type: codecommit, repository: org/repo}", "applications[0].source.repository", "no '/'"),
    ("{type: codecommit, repository: r, file_paths: [src/**]}", "applications[0].source.file_paths", "remove it"),
    ("{type: s3, branch: main}", "applications[0].source.branch", "remove it or change type"),
    ("{type: connection, repository: service}", "applications[0].source.repository", "owner/name"),
    ("{type: connection, repository: o/r, provider: Gitlab}", "applications[0].source.provider", "use one of"),
    ("{type: connection, repository: o/r, branch: a..b}", "applications[0].source.branch", "Git branch name"),
    ("{type: connection, repository: o/r, token: abc}", "applications[0].source.token", "unknown key 'token'"),
    ("{type: git}", "applications[0].source.type", "use one of s3, codecommit, connection"),
])
def test_bad_source_is_one_line_naming_file_key_and_fix(tmp_path, capsys, source, key, fix):
    path = tmp_path / "delivery.yaml"
    path.write_text(model_text(source), encoding="utf-8")
    capsys.readouterr()
    code = cli.main(["--model", str(path), "templates", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    [line] = err
    assert re.match(rf"^error: .*delivery\.yaml:\d+: {re.escape(key)}: ", line), line
    assert fix in line, line
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
