"""The template budget (generator/budget.py): every committed template 20 % inside each limit, the
measuring on small synthetic templates, and the render refusing a template over budget."""
import pytest

from generator import budget, cli, registry, render, yamlio
from generator.stacks.beanstalk_roles import BeanstalkEnvRolesStack
from tests.helpers import TEMPLATES


@pytest.mark.parametrize("stack", registry.names())
def test_committed_template_meets_the_budget(stack):
    path = TEMPLATES / f"{stack}.yaml"
    text = path.read_bytes()
    problems = budget.findings(stack, yamlio.load(text.decode("utf-8")), text)
    assert not problems, "\n".join(problems)


def test_budgets_are_eighty_percent_of_the_aws_limits():
    assert budget.BODY.budget == 40_960
    assert (budget.RESOURCES.budget, budget.PARAMETERS.budget, budget.OUTPUTS.budget) == (400, 160, 160)
    assert budget.ROLE_INLINE.budget == 8_192 and budget.MANAGED_POLICY.budget == 4_915


# --- synthetic templates -------------------------------------------------------------------------

def _policy(characters: int) -> dict:
    """A policy document of exactly ``characters`` non-white-space characters."""
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ""}]}
    padding = characters - budget.policy_size(doc)
    assert padding >= 0
    doc["Statement"][0]["Resource"] = "x" * padding
    assert budget.policy_size(doc) == characters
    return doc


def _role(trust_characters=200) -> dict:
    return {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": _policy(trust_characters)}}


def _small() -> dict:
    return {
        "Parameters": {f"P{i}": {"Type": "String"} for i in range(160)},
        "Outputs": {f"O{i}": {"Value": "x"} for i in range(160)},
        "Resources": {
            "Role": _role(),
            "RolePolicy": {"Type": "AWS::IAM::Policy",
                           "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": _policy(4_000)}},
            "RoleUnscopedPolicy": {"Type": "AWS::IAM::Policy",
                                   "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": _policy(4_192)}},
            "Managed": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": _policy(4_915)}},
            **{f"Topic{i}": {"Type": "AWS::SNS::Topic"} for i in range(396)},
        },
    }


def test_a_template_at_every_budget_has_no_finding():
    template = _small()
    assert len(template["Resources"]) == 400
    assert budget.findings("small", template, "x" * 40_960) == []


def _kinds(template, text="x"):
    return [m.limit.key for m in budget.measure("t", template, text) if m.over]


def test_body_over_budget():
    problems = budget.findings("big", _small(), "é" * 20_481)  # counted in UTF-8 bytes: 40,962
    assert problems == [
        "big: template body is 40,962 bytes, over the budget of 40,960 (80% of the 51,200 limit); "
        + budget.BODY.hint]


def test_resources_parameters_outputs_over_budget():
    template = _small()
    template["Resources"]["Topic396"] = {"Type": "AWS::SNS::Topic"}
    template["Parameters"]["P160"] = {"Type": "String"}
    template["Outputs"]["O160"] = {"Value": "x"}
    assert _kinds(template) == ["resources", "parameters", "outputs"]
    message = budget.findings("t", template, "x")[0]
    assert message.startswith("t: resources is 401 resources, over the budget of 400 (80% of the 500 limit); ")


def test_inline_policies_of_a_role_are_summed():
    template = _small()
    template["Resources"]["RoleUnscopedPolicy"]["Properties"]["PolicyDocument"] = _policy(4_193)
    assert _kinds(template) == ["role-inline-policy"]
    assert "inline policies of role Role is 8,193 characters" in budget.findings("t", template, "x")[0]


def test_inline_policies_in_the_role_itself_count_too():
    template = _small()
    template["Resources"]["Role"]["Properties"]["Policies"] = [{"PolicyName": "p", "PolicyDocument": _policy(100)}]
    assert _kinds(template) == ["role-inline-policy"]


def test_managed_policy_over_budget():
    template = _small()
    template["Resources"]["Managed"]["Properties"]["PolicyDocument"] = _policy(4_916)
    assert _kinds(template) == ["managed-policy"]
    assert "managed policy Managed is 4,916 characters" in budget.findings("t", template, "x")[0]


def test_trust_policy_over_budget():
    template = _small()
    template["Resources"]["Role"] = _role(trust_characters=1_639)
    assert _kinds(template) == ["trust-policy"]


def test_white_space_is_not_counted():
    assert budget.policy_size({"Sid": "a b  c d"}) == budget.policy_size({"Sid": "abcd"})


# --- the render refuses ------------------------------------------------------------------------

class _Huge:
    """A stand-in stack whose template crosses the parameter budget."""
    name = "huge"
    description = "a stack over budget"
    app = None
    environments = ("tools",)


def test_render_fails_with_a_clear_message(monkeypatch, tmp_path, capsys):
    template = {"Parameters": {f"P{i}": {"Type": "String"} for i in range(161)}, "Resources": {}}
    monkeypatch.setattr(render, "as_dict", lambda stack: template)
    monkeypatch.setattr(render, "build", lambda stack_cls: None)
    with pytest.raises(budget.OverBudget) as err:
        render.rendered(_Huge)
    assert "huge: parameters is 161 parameters, over the budget of 160" in str(err.value)
    monkeypatch.setattr(registry, "stacks", lambda model=None: [_Huge])
    assert cli.main(["templates", "--out", str(tmp_path)]) == 1
    assert "huge: parameters is 161" in capsys.readouterr().err
    assert not (tmp_path / "huge.yaml").exists()


# --- shared grants keep every role's access exactly --------------------------------------------

def _effective(template, role_id):
    """{statement as JSON} a role holds: its inline policies and the managed policies attached to it."""
    import json
    found = set()
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and \
                {"Ref": role_id} in resource["Properties"].get("Roles", []):
            found |= {json.dumps(s, sort_keys=True) for s in resource["Properties"]["PolicyDocument"]["Statement"]}
    return found


@pytest.mark.parametrize("stack", [s.name for s in registry.STACKS if getattr(s, "part", None) == "roles"]
                         + [s.name for s in registry.STACKS if issubclass(s, BeanstalkEnvRolesStack)])
def test_shared_and_managed_policies_keep_each_roles_access(stack, monkeypatch):
    from generator.components import iam
    stack_cls = registry.get(stack)
    shared = render.as_dict(render.build(stack_cls))
    monkeypatch.setattr(iam.SharedGrants, "common", lambda self: {})
    monkeypatch.setattr(iam.SharedGrants, "_write", lambda self: None)
    original_init = iam.Role.__init__

    def inline_only(self, *args, **kwargs):
        kwargs["unscoped_managed"] = False
        original_init(self, *args, **kwargs)
    monkeypatch.setattr(iam.Role, "__init__", inline_only)
    inline = render.as_dict(render.build(stack_cls))
    roles = [k for k, v in inline["Resources"].items() if v["Type"] == "AWS::IAM::Role"]
    assert roles and sorted(roles) == sorted(k for k, v in shared["Resources"].items() if v["Type"] == "AWS::IAM::Role")
    for role in roles:
        assert _effective(shared, role) == _effective(inline, role), role


def test_deploy_roles_share_what_both_hold():
    pipeline = next(s for s in registry.stacks() if s.app is not None and s.app.kind == "beanstalk"
                    and getattr(s, "part", None) == "roles")
    template = yamlio.load_file(TEMPLATES / f"{pipeline.name}.yaml")
    roles = [{"Ref": f"Deploy{wave.capitalize()}Role"} for wave in pipeline.app.waves]
    managed = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::ManagedPolicy"}
    assert managed and all(v["Properties"]["Roles"] == roles for v in managed.values())
