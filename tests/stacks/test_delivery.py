"""The shape every delivery pipeline shares (stacks/delivery.py), asserted on the rendered templates of
every pipeline in the registry: its store, build, per-wave validation, roles and pipeline stacks."""
import json

import pytest

from generator import model, registry
from generator.components.codebuild import BUILDSPEC_DIR
from generator.stacks.delivery import TARGET_EXPORT_KEYS, waves
from tests import helpers
from tests.helpers import as_list, resources, statements, walk

PIPELINES = [s for s in registry.STACKS if getattr(s, "build_class", None) is not None and s.part == "pipeline"]
KEY = {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-foundation-KeyArn"}}
GATE_BUILDSPECS = {"test.yml", "security-scan.yml", "image-scan.yml", "smoke-test.yml"}


def merged(parts):
    """One template holding the resources, parameters and outputs of ``parts`` (the per-wave validation
    stacks: their logical ids differ, their parameters are the same)."""
    out = {}
    for part in parts:
        for section in ("Parameters", "Resources", "Outputs"):
            out.setdefault(section, {}).update(part.get(section) or {})
    return out


def exported_role(d, template, imported):
    return helpers.exported_role(template, d.roles_stack, imported)


@pytest.fixture(params=PIPELINES, ids=lambda s: s.name)
def delivery(request, templates):
    cls = request.param
    d = cls.delivery
    targets = waves(cls.model, cls.app)
    return {
        "cls": cls, "delivery": d, "targets": targets,
        "pipeline_template": templates[d.pipeline_stack], "roles": templates[d.roles_stack],
        "build": templates[d.build_stack],
        "validation": merged(templates[d.validation_stack_of(t)] for t in targets),
        "pipeline": next(iter(resources(templates[d.pipeline_stack], "AWS::CodePipeline::Pipeline").values()))["Properties"],
    }


def stages(d):
    return {s["Name"]: s for s in d["pipeline"]["Stages"]}


def pipeline_arn(d):
    return {"Fn::Sub": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:"
                       "${ProjectName}-${EnvironmentName}-%s" % d["delivery"].component}


def test_every_pipeline_is_registered_with_its_stacks(delivery):
    d = delivery["delivery"]
    names = registry.names()
    validations = {d.validation_stack_of(t) for t in delivery["targets"]}
    assert {d.store_stack, d.build_stack, d.roles_stack, d.pipeline_stack} | validations <= set(names)
    # The order is the import graph: store -> build, validations -> roles -> pipeline.
    assert {d.build_stack, d.roles_stack, d.store_stack} | validations <= set(registry.requires(delivery["cls"]))
    roles = registry.get(d.roles_stack)
    assert {d.build_stack, d.store_stack} | validations <= set(registry.requires(roles))
    assert d.pipeline_stack not in registry.requires(roles)
    for stack in [d.build_stack] + sorted(validations):
        assert d.store_stack in registry.requires(registry.get(stack))


def test_stage_order(delivery):
    cls = delivery["cls"]
    expected = ["Source", cls.build_stage, cls.checks_stage]
    for target in delivery["targets"]:
        expected += (["Approve" + target.label] if target.protected else []) + [
            "Deploy" + target.label]
    assert [s["Name"] for s in delivery["pipeline"]["Stages"]] == expected
    assert [t.env for t in delivery["targets"]] == list(cls.app.waves)


def test_checks_run_in_parallel_and_write_nothing(delivery):
    checks = stages(delivery)[delivery["cls"].checks_stage]["Actions"]
    assert len(checks) >= 2 and len({a["RunOrder"] for a in checks}) == 1
    assert {a["Name"] for a in checks} >= {"SecurityScan"}, "every pipeline scans its source and dependencies"
    assert all("OutputArtifacts" not in a for a in checks)


def test_v2_pipeline_with_its_own_artifact_store_under_the_tools_key(delivery):
    p = delivery["pipeline"]
    assert p["PipelineType"] == "V2"
    assert p["ArtifactStore"]["EncryptionKey"] == {"Id": KEY, "Type": "KMS"}
    export = p["ArtifactStore"]["Location"]["Fn::ImportValue"]["Fn::Sub"]
    assert export == "${ProjectName}-${EnvironmentName}-%s-ArtifactBucketName" % delivery["delivery"].store_stack
    assert p["RoleArn"] == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-PipelineRoleArn"
                                                            % delivery["delivery"].roles_stack}}
    assert not resources(delivery["pipeline_template"], "AWS::IAM::Role"), "the roles live in the roles stack"


def test_approval_is_the_only_path_to_a_protected_wave(delivery):
    names = [s["Name"] for s in delivery["pipeline"]["Stages"]]
    protected = [t for t in delivery["targets"] if t.protected]
    assert protected, "the sample promotes to a protected environment"
    assert [n for n in names if n.startswith("Approve")] == ["Approve" + t.label for t in protected]
    for target in protected:
        approval = names.index("Approve" + target.label)
        [gate] = stages(delivery)["Approve" + target.label]["Actions"]
        assert gate["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
        assert approval == names.index("Deploy" + target.label) - 1
        reaches = ("${ProjectName}-%s-" % target.env, "Deploy%sRole" % target.label)
        for index, stage in enumerate(delivery["pipeline"]["Stages"]):
            for action in stage["Actions"]:
                if any(text in json.dumps(action) for text in reaches) and action is not gate:
                    assert index > approval, f"{stage['Name']}/{action['Name']} reaches {target.env} before approval"
    assert "DisableInboundStageTransitions" not in delivery["pipeline"]


def test_approval_links_to_the_previous_waves_url(delivery):
    d = delivery["delivery"]
    targets = delivery["targets"]
    for i, target in enumerate(targets):
        if not target.protected:
            continue
        [gate] = stages(delivery)["Approve" + target.label]["Actions"]
        if i == 0:
            assert "ExternalEntityLink" not in gate["Configuration"]
        else:
            assert gate["Configuration"]["ExternalEntityLink"] == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-ServiceUrl" % (
                targets[i - 1].env, d.endpoint_stack or d.target_stack)}}
        # Approvers hear from the operations stack's approval rule (one message), not from the action too.
        assert "NotificationArn" not in gate["Configuration"]


def test_each_target_deploys_with_its_own_role_and_rolls_back(delivery):
    template = delivery["roles"]
    roles = resources(template, "AWS::IAM::Role")
    pipeline_role = roles["PipelineRole"]["Properties"]["RoleName"]
    used = []
    targets = delivery["targets"]
    for target in targets:
        stage = stages(delivery)["Deploy" + target.label]
        assert stage["OnFailure"] == {"Result": "ROLLBACK"}
        deploy, smoke, record = stage["Actions"]
        assert deploy["InputArtifacts"] == [{"Name": "BuildOutput"}], "the same build output is promoted"
        # The smoke test and the recorder run after the deploy in the same stage: a failed validation rolls
        # the deploy back (tests/stacks/test_recorder.py covers the recorder).
        assert (deploy["RunOrder"], smoke["RunOrder"], smoke["Name"]) == (1, 2, "SmokeTest")
        assert (record["RunOrder"], record["Name"]) == (2, "RecordDeployment")
        role_id = exported_role(delivery["delivery"], template, deploy["RoleArn"])
        used.append(role_id)
        role = roles[role_id]
        [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"AWS": {"Fn::Sub": [
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Name}", {"Name": pipeline_role}]}}
        assert "ManagedPolicyArns" not in role["Properties"], "deploy roles carry no AWS managed policy"
        grants = json.dumps([p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::IAM::Policy").values()
                             if p["Properties"]["Roles"] == [{"Ref": role_id}]])
        assert "${ProjectName}-%s-" % target.env in grants
        for other in targets:
            if other != target:
                assert "${ProjectName}-%s-" % other.env not in grants, f"{role_id} may also deploy to {other.env}"
    assert len(set(used)) == len(targets)
    assume = [s for s in statements(resources(template, "AWS::IAM::Policy")["PipelineRolePolicy"]["Properties"]
                                    ["PolicyDocument"]) if s["Action"] == ["sts:AssumeRole"]]
    assert {r["Fn::GetAtt"][0] for s in assume for r in s["Resource"]} == set(used)


def test_validation_runs_in_the_targets_vpc_and_calls_its_url(delivery):
    template = delivery["validation"]
    d = delivery["delivery"]
    projects = resources(template, "AWS::CodeBuild::Project")
    targets = delivery["targets"]
    assert len(projects) == len(targets)
    for target in targets:
        project = projects[d.validation_project_id(target)]["Properties"]
        prefix = "${ProjectName}-%s-%s-" % (target.env, d.endpoint_stack or d.target_stack)
        vpc = project["VpcConfig"]
        assert vpc["VpcId"] == {"Fn::ImportValue": {"Fn::Sub": prefix + "VpcId"}}
        assert vpc["Subnets"] == {"Fn::Split": [",", {"Fn::ImportValue": {"Fn::Sub": prefix + "ValidationSubnetIds"}}]}
        assert vpc["SecurityGroupIds"] == [{"Fn::ImportValue": {"Fn::Sub": prefix + "ValidationSecurityGroupId"}}]
        variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
        assert variables["TARGET_URL"] == {"Fn::ImportValue": {"Fn::Sub": prefix + "ServiceUrl"}}
        assert "insecure" not in project["Source"]["BuildSpec"] and " -k " not in project["Source"]["BuildSpec"]
        role = project["ServiceRole"]["Fn::GetAtt"][0]
        grants = [s for p in resources(template, "AWS::IAM::Policy").values()
                  if p["Properties"]["Roles"] == [{"Ref": role}] for s in statements(p["Properties"]["PolicyDocument"])]
        actions = {a for s in grants for a in as_list(s["Action"])}
        assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                "ec2:DescribeSubnets"} <= actions
        [permission] = [s for s in grants if "ec2:CreateNetworkInterfacePermission" in as_list(s["Action"])]
        assert permission["Condition"] == {"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}}
    stage_actions = [stages(delivery)["Deploy" + t.label]["Actions"][1] for t in targets]
    imported = [a["Configuration"]["ProjectName"]["Fn::ImportValue"]["Fn::Sub"] for a in stage_actions]
    assert imported == ["${ProjectName}-${EnvironmentName}-%s-%sName" % (d.validation_stack_of(t),
                                                                           d.validation_project_id(t))
                        for t in targets]


def test_target_exports_the_pipeline_needs_are_declared_by_the_target_stack(delivery, templates):
    d = delivery["delivery"]
    stack = d.endpoint_stack or d.target_stack
    outputs = templates[stack]["Outputs"]
    for key in TARGET_EXPORT_KEYS:
        assert outputs[key]["Export"]["Name"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s" % (stack, key)}
    # Each wave's validation stack imports that wave's contract (derived from its template's imports).
    for target in delivery["targets"]:
        validation = registry.get(d.validation_stack_of(target))
        assert f"{target.env}:{stack}" in registry.requires(validation)
        assert not [r for r in registry.requires(validation) if ":" in r and not r.startswith(target.env + ":")]


SCANNERS = ("source-scanner", "image-scanner")


def _projects(delivery, templates):
    found = {**resources(delivery["build"], "AWS::CodeBuild::Project"),
             **resources(delivery["validation"], "AWS::CodeBuild::Project")}
    for stack in SCANNERS:
        if stack in registry.requires(delivery["cls"]):
            found.update({f"{stack}/{k}": v for k, v in resources(templates[stack], "AWS::CodeBuild::Project").items()})
    return found


def test_no_project_reads_its_buildspec_from_the_source(delivery, templates):
    """The bypass: whoever can write the source replaces security-scan.yml with `exit 0`. Every buildspec the
    pipeline runs is in a template, rendered from buildspecs/ (a changed file shows in review as a template
    change); the gates (tests, scans, validation) read nothing from the source but the application."""
    for logical_id, project in _projects(delivery, templates).items():
        spec = project["Properties"]["Source"]["BuildSpec"]
        assert isinstance(spec, str) and "\nphases:" in spec, f"{logical_id} reads its buildspec from elsewhere"
        name = spec.splitlines()[0].split("buildspecs/")[1].split(",")[0]
        assert (BUILDSPEC_DIR / name).is_file()
    used = {p["Properties"]["Source"]["BuildSpec"].splitlines()[0].split("buildspecs/")[1].split(",")[0]
            for p in _projects(delivery, templates).values()}
    assert {"security-scan.yml", "smoke-test.yml"} <= used <= GATE_BUILDSPECS | {"build.yml", "docker-build.yml"}


def test_every_codebuild_project_is_hardened(delivery):
    for template in (delivery["build"], delivery["validation"]):
        projects = resources(template, "AWS::CodeBuild::Project")
        groups = resources(template, "AWS::Logs::LogGroup")
        for logical_id, project in projects.items():
            props = project["Properties"]
            assert props["TimeoutInMinutes"] == {"Ref": "BuildTimeoutMinutes"}
            assert props["QueuedTimeoutInMinutes"] == {"Ref": "BuildQueuedTimeoutMinutes"}
            assert props["EncryptionKey"] == KEY
            assert props["Environment"]["Image"] == {"Ref": "BuildImage"}
            logs = props["LogsConfig"]["CloudWatchLogs"]
            group = groups[logs["GroupName"]["Ref"]]
            assert group["Properties"]["RetentionInDays"] == {"Ref": "BuildLogRetentionDays"}
            assert group["Properties"]["KmsKeyId"] == KEY
            assert sum(props["ServiceRole"] == p["Properties"]["ServiceRole"] for p in projects.values()) == 1, \
                f"{logical_id}: role shared"


def test_pipeline_role_may_only_start_the_projects_it_runs(delivery):
    template = delivery["roles"]
    grants = statements(resources(template, "AWS::IAM::Policy")["PipelineRolePolicy"]["Properties"]["PolicyDocument"])
    [codebuild] = [s for s in grants if "codebuild:StartBuild" in s["Action"]]
    started = {json.dumps(r["Fn::Sub"][1]["Name"], sort_keys=True) for r in codebuild["Resource"]}
    run = {json.dumps(a["Configuration"]["ProjectName"], sort_keys=True)
           for s in delivery["pipeline"]["Stages"] for a in s["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"}
    assert started == run
    scans = sum(stack in registry.requires(delivery["cls"]) for stack in SCANNERS)
    assert len(run) == 1 + len(delivery["cls"].build_class.check_actions) + scans + len(delivery["targets"])


def test_every_project_the_pipeline_runs_is_exported_by_a_stack_it_requires(delivery, templates):
    sources = [delivery["build"], delivery["validation"]] + [templates[s] for s in SCANNERS if s in registry.requires(delivery["cls"])]
    exported = {o["Export"]["Name"]["Fn::Sub"] for t in sources for o in t["Outputs"].values()}
    imported = {a["Configuration"]["ProjectName"]["Fn::ImportValue"]["Fn::Sub"]
                for s in delivery["pipeline"]["Stages"] for a in s["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"}
    assert imported <= exported


def test_scans_take_their_threshold_from_the_pipeline_template(delivery):
    """A shared scanner is told its threshold by the pipeline (a reviewed parameter), never by the source."""
    checks = {a["Name"]: a for a in stages(delivery)[delivery["cls"].checks_stage]["Actions"]}
    scan = checks["SecurityScan"]["Configuration"]["EnvironmentVariables"]["Fn::Sub"]
    variables = {v["name"]: v["value"] for v in json.loads(scan[0])}
    assert variables["FAIL_ON_SEVERITY"] == "${Threshold}" and scan[1]["Threshold"] == {"Ref": "ScanFailOnSeverity"}
    assert delivery["pipeline_template"]["Parameters"]["ScanFailOnSeverity"]["Default"] == "high"


def test_s3_source_without_polling_started_by_eventbridge(delivery):
    template = delivery["pipeline_template"]
    [source] = stages(delivery)["Source"]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"]["PollForSourceChanges"] is False
    rule = resources(template, "AWS::Events::Rule")["PipelineSourceRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["object"]["key"] == [{"Ref": "SourceObjectKey"}]
    [target] = rule["Targets"]
    assert target["Arn"] == pipeline_arn(delivery)
    roles = delivery["roles"]
    role_id = exported_role(delivery["delivery"], roles, target["RoleArn"])
    grants = [s for p in resources(roles, "AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]
              for s in statements(p["Properties"]["PolicyDocument"])]
    assert grants == [{"Effect": "Allow", "Action": ["codepipeline:StartPipelineExecution"],
                       "Resource": [pipeline_arn(delivery)]}]


def test_pipeline_stack_has_no_notification_rules(delivery):
    """Notifications and the audit trail live in the application's operations stack; the pipeline keeps
    only its source trigger (tests/stacks/test_operations.py covers the rules)."""
    assert list(resources(delivery["pipeline_template"], "AWS::Events::Rule")) == ["PipelineSourceRule"]


def test_pipelines_import_only_from_tools_and_their_waves(delivery):
    """The waves come from the model: every import names the pipeline's own environment or one of its waves,
    never an environment the application is not promoted through."""
    waves_ = {t.env for t in delivery["targets"]}
    others = set(delivery["cls"].model.environment_names) - waves_ - {delivery["cls"].model.tools}
    for template in (delivery["pipeline_template"], delivery["validation"]):
        assert not [p for p in template["Parameters"] if p.endswith("Environment") and p != "DeliveryEnvironment"]
        imports = [json.dumps(v) for v in walk(template["Resources"]) if isinstance(v, dict) and "Fn::ImportValue" in v]
        assert imports
        for text in imports:
            assert not [e for e in others if "${ProjectName}-%s-" % e in text], text
        for env in waves_:
            assert any("${ProjectName}-%s-" % env in text for text in imports), env



def test_pipeline_components_must_be_prefix_free():
    """An artifact store admits ``{project}-{env}-<component>-*``: a component that prefixes another would let
    that pipeline's roles write here, so the model is refused with the pair named."""
    text = """
project: {name: acme}
environments:
  - {name: tools, protected: true}
  - {name: live, protected: true}
applications:
  - {name: orders, kind: beanstalk, waves: [live]}
  - {name: orders-x, kind: beanstalk, waves: [live]}
"""
    with pytest.raises(model.ModelError, match="starts with the pipeline 'orders'"):
        model.loads(text, "test.yaml")
    components = registry.pipeline_components(model.current())
    assert not [(a, b) for a in components for b in components if a != b and b.startswith(a + "-")]
