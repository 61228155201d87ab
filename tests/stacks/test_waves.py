"""Pipelines built from an application's waves, on models written here (not the sample): any number of
waves, an approval before every protected one and only there, per-wave deploy roles, every kind under
another project and application name, every kind with five waves within the template budget."""
import json

import pytest

from generator import budget, model, registry
from generator.render import rendered
from generator.stacks.delivery import DeliveryPipelineStack
from tests.helpers import resources, statements

KINDS = ("beanstalk", "ecs-bluegreen", "ecs-rolling")
#: What a stack needs from the model that has no template default is not needed to render: rendering
#: reads no parameter values, so the environments below carry none.
ENVIRONMENTS = """
environments:
  - {name: ops, protected: true}
  - {name: qa, protected: false}
  - {name: staging, protected: false}
  - {name: live, protected: true}
tools: ops
"""


def build(kind, waves, project="acme", app="orders", environments=ENVIRONMENTS):
    text = f"project: {{name: {project}}}\n{environments}\napplications:\n" \
           f"  - {{name: {app}, kind: {kind}, waves: [{', '.join(waves)}]}}\n"
    return model.loads(text, "test.yaml")


def pipeline_stack(m, part="pipeline"):
    """The application's pipeline stack (``part`` "roles": its roles stack)."""
    [cls] = [s for s in registry.stacks(m) if issubclass(s, DeliveryPipelineStack) and s.part == part]
    return cls


def pipeline_of(m):
    cls = pipeline_stack(m)
    template = rendered(cls)[0]
    [props] = [r["Properties"] for r in resources(template, "AWS::CodePipeline::Pipeline").values()]
    return cls, template, props


def stage_names(props):
    return [s["Name"] for s in props["Stages"]]


def approvals(props):
    return [s for s in props["Stages"] if any(a["ActionTypeId"]["Category"] == "Approval" for a in s["Actions"])]


@pytest.mark.parametrize("kind", KINDS)
def test_three_waves_in_order_with_one_approval_before_the_protected_one(kind):
    cls, _, props = pipeline_of(build(kind, ["qa", "staging", "live"]))
    assert stage_names(props) == [
        "Source", cls.build_stage, cls.checks_stage, "DeployQa", "DeployStaging", "ApproveLive", "DeployLive"]
    [approval] = approvals(props)
    assert approval["Name"] == "ApproveLive"
    [gate] = approval["Actions"]
    assert gate["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    # The approver checks the wave before, where the same artifact was validated.
    link = json.dumps(gate["Configuration"]["ExternalEntityLink"])
    assert "${ProjectName}-staging-" in link and link.endswith('-ServiceUrl"}}')
    assert "staging" in gate["Configuration"]["CustomData"] and "live" in gate["Configuration"]["CustomData"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_approval_before_every_protected_wave(kind):
    environments = ENVIRONMENTS.replace("{name: staging, protected: false}", "{name: staging, protected: true}")
    cls, _, props = pipeline_of(build(kind, ["qa", "staging", "live"], environments=environments))
    names = stage_names(props)
    assert [s["Name"] for s in approvals(props)] == ["ApproveStaging", "ApproveLive"]
    assert names.index("ApproveStaging") == names.index("DeployQa") + 1 == names.index("DeployStaging") - 1
    assert names.index("ApproveLive") == names.index("DeployStaging") + 1 == names.index("DeployLive") - 1


@pytest.mark.parametrize("kind", KINDS)
def test_one_protected_wave_is_approved_first_without_a_link(kind):
    cls, _, props = pipeline_of(build(kind, ["live"]))
    assert stage_names(props) == ["Source", cls.build_stage, cls.checks_stage, "ApproveLive", "DeployLive"]
    [approval] = approvals(props)
    [gate] = approval["Actions"]
    assert "ExternalEntityLink" not in gate["Configuration"], "there is no earlier wave to look at"
    assert "live" in gate["Configuration"]["CustomData"]


@pytest.mark.parametrize("kind", KINDS)
def test_one_unprotected_wave_has_no_approval(kind):
    cls, _, props = pipeline_of(build(kind, ["qa"]))
    assert stage_names(props) == ["Source", cls.build_stage, cls.checks_stage, "DeployQa"]
    assert approvals(props) == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_waves_deploy_role_reaches_only_its_own_wave(kind):
    m = build(kind, ["qa", "staging", "live"])
    cls, _, props = pipeline_of(m)
    roles_cls = pipeline_stack(m, "roles")
    template = rendered(roles_cls)[0]
    roles = resources(template, "AWS::IAM::Role")
    policies = resources(template, "AWS::IAM::Policy")
    outputs = template["Outputs"]
    stages = {s["Name"]: s for s in props["Stages"]}
    used = {}
    for env in ("qa", "staging", "live"):
        label = env.capitalize()
        deploy = stages["Deploy" + label]["Actions"][0]
        # The pipeline names the role by the ARN its roles stack exports.
        imported = deploy["RoleArn"]["Fn::ImportValue"]["Fn::Sub"]
        assert imported == "${ProjectName}-${EnvironmentName}-%s-Deploy%sRoleArn" % (roles_cls.name, label)
        output = outputs[f"Deploy{label}RoleArn"]
        assert output["Export"]["Name"]["Fn::Sub"] == imported
        role_id = output["Value"]["Fn::GetAtt"][0]
        assert role_id in roles
        used[env] = imported
        grants = [s for p in policies.values() if p["Properties"]["Roles"] == [{"Ref": role_id}]
                  for s in statements(p["Properties"]["PolicyDocument"])]
        text = json.dumps(grants)
        assert "${ProjectName}-%s-" % env in text, f"{role_id} is not granted its own wave"
        for other in ("qa", "staging", "live"):
            if other != env:
                assert "${ProjectName}-%s-" % other not in text, f"{role_id} may also deploy to {other}"
        name = roles[role_id]["Properties"]["RoleName"]["Fn::Sub"]
        assert name.endswith(f"-deploy-{env}")
        # No other stage runs with this wave's role.
        for stage in props["Stages"]:
            for action in stage["Actions"]:
                if json.dumps(action.get("RoleArn")) == json.dumps(deploy["RoleArn"]):
                    assert stage["Name"] == "Deploy" + label
    assert len(set(used.values())) == 3
    # One validation stack per wave, each with one project importing that wave's contract only.
    stacks = {s.name: s for s in registry.stacks(m)}
    for env in ("qa", "staging", "live"):
        validation = rendered(stacks[f"{cls.delivery.validation_stack}-{env}"])[0]
        projects = resources(validation, "AWS::CodeBuild::Project")
        assert list(projects) == [f"Validate{env.capitalize()}Project"]
        text = json.dumps(projects[f"Validate{env.capitalize()}Project"]["Properties"]["VpcConfig"])
        assert "${ProjectName}-%s-" % env in text
        assert not [o for o in ("qa", "staging", "live") if o != env and "${ProjectName}-%s-" % o in text]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_under_another_project_and_application_name(kind):
    m = build(kind, ["staging", "live"], project="acme", app="billing")
    found = registry.stacks(m)
    own = [s for s in found if s.app is not None]
    assert own and all(s.name.startswith("billing-") for s in own)
    for cls in found:
        template = rendered(cls)[0]
        text = json.dumps(template)
        assert "shop" not in text.lower(), f"{cls.name} still names the sample"
        assert template["Resources"], cls.name
    # Physical names and exports derive from the application's name.
    for cls in own:
        outputs = rendered(cls)[0].get("Outputs") or {}
        for output in outputs.values():
            if "Export" in output:
                assert output["Export"]["Name"]["Fn::Sub"].startswith("${ProjectName}-${EnvironmentName}-%s-" % cls.name)
    # The dependencies are derived from the imports: every wave's target stack is deployed before the pipeline.
    [pipeline] = [s for s in own if issubclass(s, DeliveryPipelineStack) and s.part == "pipeline"]
    order = [f"{env}:{cls.name}" for env, cls in registry.plan(model=m)]
    for wave in ("staging", "live"):
        target = f"{wave}:{pipeline.delivery.target_stack}"
        assert target in order and order.index(target) < order.index(f"{m.tools}:{pipeline.name}")


def test_two_applications_of_different_kinds_share_nothing():
    text = f"project: {{name: acme}}\n{ENVIRONMENTS}\napplications:\n" \
           "  - {name: billing, kind: beanstalk, waves: [qa, live]}\n" \
           "  - {name: orders, kind: ecs-rolling, waves: [staging, live]}\n" \
           "  - {name: search, kind: ecs-bluegreen, waves: [live]}\n"
    m = model.loads(text, "test.yaml")
    found = registry.stacks(m)
    names = [s.name for s in found]
    assert len(names) == len(set(names))
    physical = {}
    for cls in found:
        for logical_id, resource in rendered(cls)[0]["Resources"].items():
            for key in ("RoleName", "ServiceName", "ClusterName", "Family", "AlarmName", "LogGroupName", "Name",
                        "RepositoryName", "ApplicationName", "EnvironmentName"):
                value = resource.get("Properties", {}).get(key)
                if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
                    for env in cls.environments:
                        # names are unique per resource type (a pipeline may share its application's name)
                        physical.setdefault((env, resource["Type"], value["Fn::Sub"]), []).append(
                            f"{cls.name}/{logical_id}")
    clashes = {k: v for k, v in physical.items() if len({p.split("/")[0] for p in v}) > 1}
    assert not clashes


FIVE_WAVES = """
environments:
  - {name: ops, protected: true}
  - {name: dev, protected: false}
  - {name: qa, protected: false}
  - {name: staging, protected: false}
  - {name: preprod, protected: true}
  - {name: live, protected: true}
tools: ops
"""


@pytest.mark.parametrize("kind", KINDS)
def test_five_waves_render_every_stack_within_budget_with_the_pipeline_far_inside(kind):
    m = build(kind, ["dev", "qa", "staging", "preprod", "live"], environments=FIVE_WAVES)
    for cls in registry.stacks(m):
        template, text = rendered(cls)  # raises budget.OverBudget past the budget
        assert not budget.findings(cls.name, template, text)
    # The pipeline itself grows by a few stages per wave, not by a role: comfortably inside the budget.
    _, text = rendered(pipeline_stack(m))
    assert len(text.encode()) < 0.6 * budget.BODY.budget, "a wave should not cost the pipeline stack a role"
    cls, _, props = pipeline_of(m)
    assert [s for s in stage_names(props) if s.startswith("Deploy")] == [
        "DeployDev", "DeployQa", "DeployStaging", "DeployPreprod", "DeployLive"]
    assert [s["Name"] for s in approvals(props)] == ["ApprovePreprod", "ApproveLive"]
    roles = resources(rendered(pipeline_stack(m, "roles"))[0], "AWS::IAM::Role")
    assert sorted(r for r in roles if r.startswith("Deploy")) == sorted(
        f"Deploy{e.capitalize()}Role" for e in ("dev", "qa", "staging", "preprod", "live"))
