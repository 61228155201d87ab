"""The CloudFormation execution role's policy is derived from the target stacks' resource types
(generator/execrole.py): it covers every type, grants no wildcard action, scopes what IAM lets it
scope, and changes when a stack gains a type. Names come from the model, never the sample's."""
from __future__ import annotations

import copy
import fnmatch
import json

import pytest
from troposphere import encode_to_dict

from generator import execrole, model as model_module, registry
from generator.lint import least_privilege
from generator.render import rendered


@pytest.fixture(scope="module")
def model():
    return model_module.current()


@pytest.fixture(scope="module")
def bootstrap(model):
    cls = next(c for c in registry.stacks(model) if getattr(c, "bootstrap", False))
    return rendered(cls)[0]


def _policies(template, kind="AWS::IAM::ManagedPolicy"):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _execution_statements(template):
    role = template["Resources"]["ExecutionRole"]["Properties"]
    attached = {ref["Ref"] for ref in role["ManagedPolicyArns"]}
    return [s for k in sorted(attached) for s in template["Resources"][k]["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement):
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_the_data_file_is_current_and_covers_every_type_a_stack_uses():
    """Fails when a stack gains a resource type the written-out data lacks, or cfn-lint's schemas or
    the IAM data changed: refresh with `python -m generator.execrole --refresh`."""
    data = execrole.snapshot()
    missing = sorted(set(execrole.used_types()) - set(data["types"]))
    assert not missing, f"{execrole.DATA_FILE.name} lacks {missing}; run .venv/bin/python -m generator.execrole --refresh"
    stale = [t for t, e in data["types"].items() if execrole.live_entry(t) != e]
    assert not stale, f"{execrole.DATA_FILE.name} is stale for {stale}; run .venv/bin/python -m generator.execrole --refresh"


def test_policy_covers_every_handler_action_of_every_target_type(model, bootstrap):
    templates = execrole.target_templates(model)
    types = execrole.resource_types(templates)
    assert types, "the model deploys no target stack"
    granted = {a for s in _execution_statements(bootstrap) if s["Effect"] == "Allow" for a in _actions(s)}
    for resource_type in types:
        wanted = set(execrole.entry(resource_type).get("actions", ()))
        assert wanted, f"{resource_type}: no handler permissions"
        assert wanted <= granted, (resource_type, sorted(wanted - granted))
    # the stacks deployed outside tools are exactly what the role manages (bootstrap itself excluded)
    for env in model.environment_names:
        if env == model.tools:
            continue
        for cls in registry.deploy_order(env, model):
            if getattr(cls, "bootstrap", False):
                continue
            for resource in rendered(cls)[0]["Resources"].values():
                assert resource["Type"] in types


def test_no_wildcard_action_and_star_only_for_actions_without_resource_permissions(bootstrap):
    data_unscoped = {a for e in execrole.snapshot()["types"].values() for a in e.get("unscoped", ())}
    for statement in _execution_statements(bootstrap):
        assert statement["Effect"] == "Allow"
        for action in _actions(statement):
            assert "*" not in action and "?" not in action, action
        if statement["Resource"] in ("*", ["*"]):
            assert statement.get("Sid"), "an unscoped statement says why in its Sid"
            # handler actions by the data file; the orchestration supplement's by IAM's data
            assert all(a in data_unscoped or least_privilege.wildcard_only(a) for a in _actions(statement)), statement


def test_iam_is_scoped_to_the_environment_and_passrole_to_the_services_that_trust_the_roles(model, bootstrap):
    statements = _execution_statements(bootstrap)
    for statement in statements:
        iam_actions = [a for a in _actions(statement) if a.startswith("iam:")]
        if not iam_actions or statement["Resource"] in ("*", ["*"]):  # List*: no resource-level permission
            continue
        for resource in statement["Resource"]:
            text = resource["Fn::Sub"]
            assert text.startswith("arn:${AWS::Partition}:iam::${AWS::AccountId}:"), text
            assert "${ProjectName}-${EnvironmentName}-" in text or "aws-service-role" in text, text
    passes = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert len(passes) == 1
    services = passes[0]["Condition"]["StringEquals"]["iam:PassedToService"]
    assert services == execrole.passed_to_services(execrole.target_templates(model))
    assert passes[0]["Resource"] == [{"Fn::Sub": execrole.SCOPES["iam"][0]}]


def test_the_execution_role_cannot_touch_the_bootstrap_roles(bootstrap):
    role = bootstrap["Resources"]["ExecutionRole"]
    inline = [r for r in bootstrap["Resources"].values()
              if r["Type"] == "AWS::IAM::Policy" and {"Ref": "ExecutionRole"} in r["Properties"]["Roles"]]
    denies = [s for p in inline for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert denies and denies[0]["Action"] == ["iam:*"]
    own = role["Properties"]["RoleName"]["Fn::Sub"]
    assert any(fnmatch.fnmatch(own, r["Fn::Sub"].split(":role/")[-1]) for r in denies[0]["Resource"]
               if ":role/" in r["Fn::Sub"])


def test_managed_policies_stay_within_the_budget(bootstrap):
    from generator import budget

    for name, policy in _policies(bootstrap).items():
        assert budget.policy_size(policy["Properties"]["PolicyDocument"]) <= budget.MANAGED_POLICY.budget, name


def test_a_stack_gaining_a_resource_type_changes_the_policy(model):
    templates = copy.deepcopy(execrole.target_templates(model))
    before = execrole.derive(templates)
    name = sorted(templates)[0]
    templates[name]["Resources"]["FixtureQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    after = execrole.derive(templates)
    added = set(after["actions"]) - set(before["actions"])
    assert "sqs:CreateQueue" in added and "sqs:DeleteQueue" in added
    assert after["types"]["AWS::SQS::Queue"] == [name]
    rendered_after = [encode_to_dict(s) for s in execrole.statements(after)]
    assert rendered_after != [encode_to_dict(s) for s in execrole.statements(before)]
    assert any("sqs:CreateQueue" in s["Action"] for s in rendered_after)


def test_wildcard_and_unknown_handler_permissions_are_reported_not_granted(monkeypatch):
    fake = {"AWS::Fake::Thing": {"actions": ["sqs:CreateQueue"], "wildcards": ["fake:*"],
                                 "not_iam_actions": ["fake:NoSuchCall"]},
            "AWS::Fake::Bare": {"no_handlers": True}}
    monkeypatch.setattr(execrole, "entry", lambda t: fake[t])
    templates = {"x": {"Resources": {"A": {"Type": "AWS::Fake::Thing"}, "B": {"Type": "AWS::Fake::Bare"}}}}
    derived = execrole.derive(templates)
    assert derived["gaps"]["wildcards"] == {"AWS::Fake::Thing": ["fake:*"]}
    assert derived["gaps"]["not_iam_actions"] == {"AWS::Fake::Thing": ["fake:NoSuchCall"]}
    assert "AWS::Fake::Bare" in derived["gaps"]["no_handlers"]
    granted = [a for s in execrole.statements(derived) for a in encode_to_dict(s)["Action"]]
    assert granted == ["sqs:CreateQueue"]


def test_the_data_file_records_the_gaps_of_the_types_in_use():
    """The handler lists name calls IAM does not know (they are left out, listed here)."""
    data = execrole.snapshot()["types"]
    for resource_type, entry in data.items():
        for action in entry.get("not_iam_actions", ()):
            assert action not in entry.get("actions", ()), (resource_type, action)


def test_a_type_without_schema_is_reported_not_granted():
    """A custom resource has no handlers to derive from: listed as a gap, rendering goes on."""
    templates = {"x": {"Resources": {"C": {"Type": "Custom::Thing"}}}}
    derived = execrole.derive(templates)
    # cfn-lint maps Custom::* to AWS::CloudFormation::CustomResource, whose schema lists no handlers
    assert "Custom::Thing" in {**derived["gaps"]["no_schema"], **derived["gaps"]["no_handlers"]}
    assert derived["actions"] == {}


def test_an_action_prefix_finds_its_awacs_module_without_importing_them_all():
    """The one-module lookup gives what the scan of every awacs module gives, for every prefix, and a
    render imports only the awacs modules the statements use."""
    import subprocess
    import sys
    from pathlib import Path

    scanned = execrole._awacs_modules()
    for prefix, module in scanned.items():
        assert execrole._awacs_module(prefix) is module, prefix
    assert execrole._awacs_module("no-such-service") is None
    assert execrole.awacs_action("lambda:InvokeFunction").JSONrepr() == "lambda:InvokeFunction"
    code = ("import sys; from generator import execrole, model, registry; from generator.render import rendered;"
            "[rendered(c) for c in registry.stacks()];"
            "print(sum(n.startswith('awacs.') for n in sys.modules))")
    root = Path(__file__).resolve().parents[1]
    count = int(subprocess.run([sys.executable, "-c", code], cwd=root, check=True, capture_output=True,
                               text=True).stdout)
    assert count < len(scanned) / 4, f"a render imported {count} awacs modules"


def _storage_bucket_arns():
    return list(execrole.SERVICE_OWNED["AWS::ElasticBeanstalk::Application"][1])


def _service_owned(statements):
    return [s for s in statements if str(s.get("Sid", "")).startswith(execrole.SERVICE_OWNED_SID)]


def test_beanstalk_handlers_reach_the_accounts_storage_bucket_and_nothing_else_does():
    """CloudFormation's Beanstalk handler creates and writes the account's storage bucket with the stack's
    role; only the Beanstalk types' S3 actions are granted there, never another type's (s3:DeleteBucket)."""
    templates = {"app": {"Resources": {"Application": {"Type": "AWS::ElasticBeanstalk::Application"},
                                       "Data": {"Type": "AWS::S3::Bucket"}}}}
    derived = execrole.derive(templates)
    found = _service_owned([encode_to_dict(s) for s in execrole.statements(derived)])
    assert len(found) == 1
    (statement,) = found
    wanted = {a for a in execrole.entry("AWS::ElasticBeanstalk::Application")["actions"] if a.startswith("s3:")}
    assert {"s3:CreateBucket", "s3:PutBucketPolicy"} <= wanted
    assert set(statement["Action"]) == wanted
    assert "s3:DeleteBucket" not in statement["Action"]
    assert [r["Fn::Sub"] for r in statement["Resource"]] == _storage_bucket_arns()
    assert all("elasticbeanstalk-${AWS::Region}-${AWS::AccountId}" in arn for arn in _storage_bucket_arns())


def test_without_beanstalk_types_the_storage_bucket_is_not_granted():
    templates = {"app": {"Resources": {"Data": {"Type": "AWS::S3::Bucket"}}}}
    statements = [encode_to_dict(s) for s in execrole.statements(execrole.derive(templates))]
    assert not _service_owned(statements)
    assert "elasticbeanstalk-" not in str(statements)


def test_an_away_beanstalk_account_can_create_its_storage_bucket():
    """The first Beanstalk stack in a new account (its `<app>-app`) creates the storage bucket."""
    from pathlib import Path

    away = model_module.load(Path(__file__).resolve().parents[1] / "examples" / "models" / "multi-account-beanstalk.yaml")
    cls = next(c for c in registry.stacks(away) if getattr(c, "bootstrap", False))
    (statement,) = _service_owned(_execution_statements(rendered(cls)[0]))
    assert "s3:CreateBucket" in statement["Action"]
    assert [r["Fn::Sub"] for r in statement["Resource"]] == _storage_bucket_arns()


def _granted(statements):
    """{action: [statement, ...]} over encoded statements."""
    found = {}
    for statement in statements:
        for action in _actions(statement):
            found.setdefault(action, []).append(statement)
    return found


def _statements_for(*types):
    templates = {"env": {"Resources": {f"R{i}": {"Type": t} for i, t in enumerate(types)}}}
    return [encode_to_dict(s) for s in execrole.statements(execrole.derive(templates))]


def test_a_beanstalk_environment_brings_what_beanstalk_does_as_the_caller():
    """The Environment schema's handlers list only Beanstalk's own API; Beanstalk then builds its awseb- stack,
    Auto Scaling group, instances and security groups with the execution role's permissions."""
    plain = _granted(_statements_for("AWS::SNS::Topic"))
    granted = _granted(_statements_for("AWS::ElasticBeanstalk::Environment"))
    for action in ("cloudformation:CreateStack", "autoscaling:CreateAutoScalingGroup", "ec2:RunInstances",
                   "ec2:CreateSecurityGroup", "elasticloadbalancing:CreateLoadBalancer",
                   "autoscaling:AttachLoadBalancerTargetGroups", "logs:CreateLogGroup", "s3:PutObject"):
        assert action in granted and action not in plain, action
    (stacks,) = granted["cloudformation:CreateStack"]
    assert [r["Fn::Sub"] for r in stacks["Resource"]] == [
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/awseb-*/*"]
    # changing what already exists needs Beanstalk's tag of an environment this role manages
    (delete,) = granted["cloudformation:DeleteStack"]
    assert delete["Condition"] == {"StringLike": {"aws:ResourceTag/elasticbeanstalk:environment-name": {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-*"}}}
    (terminate,) = granted["ec2:TerminateInstances"]
    assert "aws:ResourceTag/elasticbeanstalk:environment-name" in terminate["Condition"]["StringLike"]
    (run,) = granted["ec2:RunInstances"]
    assert "ec2:LaunchTemplate" in run["Condition"]["ArnLike"]
    (linked,) = granted["iam:CreateServiceLinkedRole"]
    assert linked["Condition"]["StringEquals"]["iam:AWSServiceName"] == [
        "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com"]
    (objects,) = granted["s3:PutObject"]
    assert [r["Fn::Sub"] for r in objects["Resource"]] == [_storage_bucket_arns()[1]]
    # launch templates carry no environment tag, so a tag condition would refuse every platform update
    (versions,) = granted["ec2:CreateLaunchTemplateVersion"]
    assert "Condition" not in versions
    assert [r["Fn::Sub"] for r in versions["Resource"]] == [
        "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:launch-template/*"]
    # the awseb- stack is tagged on creation, retagged only when it is already one of this role's environments
    conditions = [s["Condition"] for s in granted["cloudformation:TagResource"]]
    assert {"StringEquals": {"cloudformation:CreateAction": ["CreateStack", "UpdateStack"]}} in conditions
    assert delete["Condition"] in conditions and len(conditions) == 2
    (untag,) = granted["cloudformation:UntagResource"]
    assert untag["Condition"] == delete["Condition"]
    stars = [s for s in (s for found in granted.values() for s in found) if s["Resource"] in ("*", ["*"])]
    assert len({json.dumps(s, sort_keys=True) for s in stars}) == 1, "one Resource '*' statement"
    assert stars[0]["Sid"] and all(least_privilege.wildcard_only(a) for a in _actions(stars[0]))
    assert {"ec2:DescribeKeyPairs", "autoscaling:DescribeAutoScalingGroups"} <= set(_actions(stars[0]))


def test_an_orchestration_action_the_handlers_already_grant_more_widely_is_not_repeated():
    """A load balancer in the same environment's stacks brings elasticloadbalancing:CreateLoadBalancer on the
    whole account and Region: the supplement's awseb- grant of it would add nothing."""
    alone = _granted(_statements_for("AWS::ElasticBeanstalk::Environment"))
    both = _granted(_statements_for("AWS::ElasticBeanstalk::Environment", "AWS::ElasticLoadBalancingV2::LoadBalancer"))
    assert len(alone["elasticloadbalancing:CreateLoadBalancer"]) == 1
    assert len(both["elasticloadbalancing:CreateLoadBalancer"]) == 1
    (wide,) = both["elasticloadbalancing:CreateLoadBalancer"]
    assert [r["Fn::Sub"] for r in wide["Resource"]] == [
        "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:*"]
    # S3 and IAM scopes are narrower than the storage bucket: those supplement grants always stay
    with_bucket = _granted(_statements_for("AWS::ElasticBeanstalk::Environment", "AWS::S3::Bucket"))
    assert any(_storage_bucket_arns()[1] in str(s["Resource"]) for s in with_bucket["s3:PutObject"])


def test_the_bootstrap_metadata_names_the_types_whose_orchestration_is_granted(model, bootstrap):
    types = execrole.resource_types(execrole.target_templates(model))
    meta = bootstrap["Resources"]["ExecutionRole"]["Metadata"]["cfn-delivery-execution-role"]
    assert meta.get("orchestration-granted", []) == sorted(set(types) & set(execrole.ORCHESTRATED))
