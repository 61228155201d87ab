"""Multi-account delivery (issue 15): no template carries a literal account id or Region, the bootstrap
roles trust only the tools pipelines, the StackSet targets the model's OUs with auto-deployment, and
a model with tools, staging and prod in three accounts renders and passes the security gate.
Names (project, environments, applications, accounts) are read from the models, never assumed."""
from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from generator import model as model_module, paramgen, registry
from generator.render import rendered
from tests.test_security_gate import scanners  # noqa: F401 (fixture: builds the scanners' venvs on a fresh clone)

ROOT = Path(__file__).resolve().parents[1]
MULTI = ROOT / "examples" / "models" / "multi-account.yaml"
MULTI_BEANSTALK = ROOT / "examples" / "models" / "multi-account-beanstalk.yaml"
MODELS = [ROOT / "delivery.yaml"] + sorted((ROOT / "examples" / "models").glob("*.yaml"))
ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
REGION = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]\b")


def _load(path):
    return model_module.load(path)


def _literals(value, where, found, exempt_equals=True):
    """Every string under ``value`` holding an account id or a Region name, except a Region compared
    with ``AWS::Region`` in ``Fn::Equals`` (how a per-Region choice is written)."""
    if isinstance(value, dict):
        if exempt_equals and "Fn::Equals" in value and {"Ref": "AWS::Region"} in value["Fn::Equals"]:
            return found
        for key, item in value.items():
            _literals(item, f"{where}/{key}", found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _literals(item, f"{where}[{i}]", found)
    elif isinstance(value, str) and (ACCOUNT.search(value) or REGION.search(value)):
        found.append(f"{where}: {value[:80]!r}")
    return found


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_no_template_holds_a_literal_account_id_or_region(path):
    model = _load(path)
    accounts = {e.account for e in model.environments if e.account}
    for cls in registry.stacks(model):
        template, text = rendered(cls)
        # Mappings are per-Region tables of AWS-owned ids (ELB log delivery accounts), keyed by Region
        found = _literals({k: v for k, v in template.items() if k != "Mappings"}, cls.name, [])
        assert not found, found
        for account in accounts:
            assert account not in text, (cls.name, account)


def test_the_three_account_model_puts_each_environment_in_its_own_account():
    model = _load(MULTI)
    accounts = [e.account for e in model.environments]
    assert len(set(accounts)) == len(accounts) >= 3 and all(accounts)
    tools = model.environment(model.tools)
    for env in model.environments:
        if env.name == model.tools:
            continue
        bootstrap = next(c for c in registry.stacks(model) if c.name == "bootstrap")
        values = paramgen.document(bootstrap, env.name)["Parameters"]
        assert values["ToolsAccountId"] == tools.account
        assert values["ToolsRegion"] == (tools.region or model.project.region or "")
        assert values["EnvironmentName"] == env.name


def _trust(template, role):
    return template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]


def _pipeline_role_names(model):
    """``{project}-{tools}-...`` names of the CodePipeline service roles the model's pipelines create."""
    names = []
    for cls in registry.stacks(model):
        template = rendered(cls)[0]
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            trust = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            if any((s.get("Principal") or {}).get("Service") == "codepipeline.amazonaws.com" for s in trust):
                name = resource["Properties"]["RoleName"]["Fn::Sub"]
                names.append(name.replace("${ProjectName}", model.project.name)
                             .replace("${EnvironmentName}", model.tools))
    return names


@pytest.mark.parametrize("path", [ROOT / "delivery.yaml", MULTI, MULTI_BEANSTALK], ids=lambda p: p.name)
def test_bootstrap_roles_trust_only_the_tools_pipelines_and_cloudformation(path):
    model = _load(path)
    template = rendered(next(c for c in registry.stacks(model) if c.name == "bootstrap"))[0]
    (deploy,) = _trust(template, "DeployActionRole")
    assert deploy["Action"] == "sts:AssumeRole" or deploy["Action"] == ["sts:AssumeRole"]
    root = deploy["Principal"]["AWS"]["Fn::Sub"]
    assert root[0] == "arn:${AWS::Partition}:iam::${Account}:root"
    assert root[1]["Account"] == {"Fn::If": ["ToolsInThisAccount", {"Ref": "AWS::AccountId"}, {"Ref": "ToolsAccountId"}]}
    assert set(deploy["Condition"]) == {"ArnLike"}
    pattern = deploy["Condition"]["ArnLike"]["aws:PrincipalArn"]["Fn::Sub"][0]
    role_pattern = pattern.split(":role/")[1].replace("${ProjectName}", model.project.name) \
        .replace("${DeliveryEnvironment}", model.tools)
    pipelines = _pipeline_role_names(model)
    assert pipelines, "the model has pipelines"
    assert all(fnmatch.fnmatchcase(name, role_pattern) for name in pipelines), (role_pattern, pipelines)
    # no other role of the tools environment matches: build, scanner and deploy roles are refused
    others = [r["Properties"]["RoleName"]["Fn::Sub"].replace("${ProjectName}", model.project.name)
              .replace("${EnvironmentName}", model.tools)
              for c in registry.stacks(model) if model.tools in c.environments
              for r in rendered(c)[0]["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert [n for n in others if fnmatch.fnmatchcase(n, role_pattern)] == sorted(set(pipelines), key=pipelines.index)

    (execution,) = _trust(template, "ExecutionRole")
    assert execution["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    # the deploy role passes the execution role to CloudFormation only
    policies = [r["Properties"]["PolicyDocument"]["Statement"] for r in template["Resources"].values()
                if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
                and {"Ref": "DeployActionRole"} in r["Properties"].get("Roles", [])]
    away = next((c for c in registry.stacks(model) if c.name == "bootstrap-away"), None)
    if away is not None:  # the away waves' grants, attached to the same role (stacks/bootstrap_away.py)
        policies += [r["Properties"]["PolicyDocument"]["Statement"] for r in rendered(away)[0]["Resources"].values()
                     if r["Type"] == "AWS::IAM::ManagedPolicy"]
    passes = [s for st in policies for s in st if "iam:PassRole" in s["Action"]]
    to_cloudformation = [s for s in passes
                         if s["Condition"]["StringEquals"]["iam:PassedToService"] == "cloudformation.amazonaws.com"]
    assert to_cloudformation == [{"Effect": "Allow", "Action": ["iam:PassRole"],
                                  "Resource": [{"Fn::GetAtt": ["ExecutionRole", "Arn"]}],
                                  "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}}]
    # waves in another account: the deploy actions pass this environment's roles, each to its one service: task
    # roles to ECS tasks, Beanstalk instance roles to EC2, Beanstalk service roles to Beanstalk
    services = {"-task": "ecs-tasks.amazonaws.com", "-execution": "ecs-tasks.amazonaws.com",
                "-instance": "ec2.amazonaws.com", "-service": "elasticbeanstalk.amazonaws.com"}
    if path != ROOT / "delivery.yaml":  # every application of the multi-account models has an away wave
        assert [s for s in passes if s not in to_cloudformation]
    for statement in passes:
        if statement not in to_cloudformation:
            for role in statement["Resource"]:
                assert role["Fn::Sub"].startswith("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-"
                                                  "${EnvironmentName}-"), role
                suffix = "-" + role["Fn::Sub"].rpartition("-")[2]
                assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == services[suffix], statement


def test_stackset_targets_the_model_ous_with_auto_deployment():
    model = _load(MULTI)
    targets = [e for e in model.environments if e.organizational_units]
    assert targets
    bootstrap = rendered(next(c for c in registry.stacks(model) if c.name == "bootstrap"))[0]
    for env in targets:
        cls = next(c for c in registry.stacks(model) if c.name == f"bootstrap-stackset-{env.name}")
        assert cls.environments == (model.tools,)
        template = rendered(cls)[0]
        (stack_set,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudFormation::StackSet"]
        props = stack_set["Properties"]
        assert props["PermissionModel"] == "SERVICE_MANAGED"
        assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
        assert props["CallAs"] == {"Ref": "CallAs"}
        assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
        (group,) = props["StackInstancesGroup"]
        assert group["DeploymentTargets"] == {"OrganizationalUnitIds": {"Fn::Split": [",", {"Ref": "OrganizationalUnitIds"}]}}
        assert json.loads(props["TemplateBody"]) == bootstrap
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}
        assert parameters["EnvironmentName"] == env.name
        assert parameters["ToolsAccountId"] == {"Ref": "ToolsAccountId"}
        values = paramgen.document(cls, model.tools)["Parameters"]
        assert values["OrganizationalUnitIds"] == ",".join(env.organizational_units)
        assert values["ToolsAccountId"] == model.environment(model.tools).account
        assert values["StackInstanceRegions"] == (env.region or "")
    # no OU in the model, no StackSet
    assert not [c for c in registry.stacks(_load(ROOT / "delivery.yaml")) if c.name.startswith("bootstrap-stackset")]


def test_a_stackset_without_a_tools_account_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    from generator import cli

    model = _load(MULTI)
    tools = model.environment(model.tools)
    text = MULTI.read_text()
    edited = text.replace(f'    account: "{tools.account}"\n', "", 1)
    assert edited != text
    path = tmp_path / "delivery.yaml"
    path.write_text(edited)
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    code = cli.main(["--model", str(path), "templates", "--check"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    first = next(e for e in model.environments if e.organizational_units)
    index = model.environment_names.index(first.name)
    assert len(err) == 1 and f"environments[{index}].organizational_units" in err[0], err
    assert f"environments[{tools.name}].account" in err[0], err


def test_three_account_model_passes_the_security_gate(scanners, tmp_path):
    """cfn-lint, checkov, cfripper, Guard, own rules and least privilege: zero findings."""
    root = tmp_path / "multi"
    root.mkdir()
    for venv in (".venv", ".venv-checkov", ".venv-scanners"):
        if (ROOT / venv).exists():
            (root / venv).symlink_to(ROOT / venv)
    env = dict(os.environ, CFN_DELIVERY_ROOT=str(root), CFN_DELIVERY_MODEL=str(MULTI), PYTHONPATH=str(ROOT))
    render = subprocess.run([sys.executable, "-m", "generator.cli", "templates"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=600)
    assert render.returncode == 0, render.stderr
    gate = subprocess.run([sys.executable, "-m", "generator.lint"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=900)
    counts = dict(re.findall(r"^(\S[^:\n]*): findings = (\d+)$", gate.stdout, re.M))
    assert counts and all(n == "0" for n in counts.values()), gate.stdout[-4000:]
    assert gate.returncode == 0, gate.stdout[-4000:] + gate.stderr[-2000:]


def test_no_import_crosses_an_account_in_the_single_or_the_three_account_model():
    """Exports resolve only within one account and Region: what crosses is named by physical names and
    parameters, never imported (a stack that did would render with a warning and be refused by deploy:
    tests/deploy/test_accounts_server.py)."""
    assert registry.boundary_imports(_load(ROOT / "delivery.yaml")) == []
    assert registry.boundary_imports(_load(MULTI)) == []
    assert registry.boundary_imports(_load(MULTI_BEANSTALK)) == []
