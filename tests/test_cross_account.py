"""Cross-account (and cross-Region) waves (issue 15 item 3): every action of a wave in another account runs
under that account's bootstrap deploy role, in its Region; the pipeline role may assume exactly those roles;
the artifact store and the tools key admit exactly those accounts' reading roles; no tools stack imports
another account's exports. Names (project, environments, applications, accounts) are read from the models."""
from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from generator import model as model_module, paramgen, registry
from generator.cli import main as cli_main
from generator.components import placement
from generator.stacks import lambda_function
from generator.render import rendered

ROOT = Path(__file__).resolve().parents[1]
MULTI = ROOT / "examples" / "models" / "multi-account.yaml"
#: The same three-account layout delivering a Beanstalk application (its own model: the bootstrap template holds
#: every kind's away grants, and ECS's and Beanstalk's together exceed its budget, docs/accounts.md).
MULTI_BEANSTALK = ROOT / "examples" / "models" / "multi-account-beanstalk.yaml"


@pytest.fixture(scope="module", params=[MULTI, MULTI_BEANSTALK], ids=lambda p: p.stem)
def model(request):
    return model_module.load(request.param)


@pytest.fixture(scope="module")
def containers():
    return model_module.load(MULTI)


@pytest.fixture(scope="module")
def beanstalk():
    return model_module.load(MULTI_BEANSTALK)


def _stack(model, name):
    return next(c for c in registry.stacks(model) if c.name == name)


def _pipelines(model):
    return [c for c in registry.stacks(model) if getattr(c, "part", None) == "pipeline" and c.app is not None]


def _roles_stack(model, pipeline):
    return _stack(model, pipeline.delivery.roles_stack)


def _away_envs(model, app):
    return [env for env in app.waves if placement.placement(model, env).away]


def _deploy_role(env, label):
    return {"Fn::Sub": ["arn:${AWS::Partition}:iam::${Account}:role/${ProjectName}-%s-bootstrap-deploy" % env,
                        {"Account": {"Ref": f"{label}AccountId"}}]}


def _statements(document):
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _list(value):
    return value if isinstance(value, list) else [value]


def _texts(value):
    """Every string inside ``value`` (Fn::Sub texts and their local values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def test_the_model_has_waves_in_other_accounts_and_regions(model):
    tools = model.environment(model.tools)
    kinds = {placement.placement(model, env).cross_account for app in model.applications for env in app.waves}
    assert kinds == {True}, "every wave of the example is in another account than tools"
    assert any(placement.placement(model, env).cross_region for app in model.applications for env in app.waves)
    assert all(placement.placement(model, env).account != tools.account for env in model.environment_names)


def test_every_action_of_a_cross_account_wave_runs_under_its_bootstrap_deploy_role(model):
    for pipeline in _pipelines(model):
        template = rendered(pipeline)[0]
        values = paramgen.document(pipeline, model.tools)["Parameters"]
        stages = {s["Name"]: s for s in template["Resources"]["Pipeline"]["Properties"]["Stages"]}
        for env in _away_envs(model, pipeline.app):
            where = placement.placement(model, env)
            label = placement.label(env)
            actions = stages["Deploy" + label]["Actions"]
            assert {a["Name"] for a in actions} >= {"Deploy", "SmokeTest"}
            for action in actions:
                assert action["RoleArn"] == _deploy_role(env, label), (env, action["Name"])
                if where.cross_region:
                    assert action["Region"] == {"Ref": f"{label}Region"}
                else:
                    assert "Region" not in action
            # the account id and Region reach the template from the model, through the parameter file
            assert values[f"{label}AccountId"] == model.environment(env).account
            if where.cross_region:
                assert values[f"{label}Region"] == model.environment(env).region
            # the target is named by physical names, not imported from another account
            for action in actions:
                assert "Fn::ImportValue" not in str(action["Configuration"]), action


def test_the_pipeline_role_may_assume_exactly_the_away_waves_deploy_roles(model):
    for pipeline in _pipelines(model):
        roles = rendered(_roles_stack(model, pipeline))[0]
        assumed = [r for resource in roles["Resources"].values() if resource["Type"] == "AWS::IAM::Policy"
                   and {"Ref": "PipelineRole"} in resource["Properties"]["Roles"]
                   for s in _statements(resource["Properties"]["PolicyDocument"])
                   if "sts:AssumeRole" in _list(s["Action"]) for r in _list(s["Resource"])]
        # this model has no same-account wave, so no tools deploy role either
        expected = [_deploy_role(env, placement.label(env)) for env in _away_envs(model, pipeline.app)]
        assert sorted(map(str, assumed)) == sorted(map(str, expected))
        assert not [k for k in roles["Resources"] if k.startswith("Deploy") and k.endswith("Role")]


def _reader_expectation(model, app, component, env):
    label = placement.label(env)
    account = {"Ref": f"{label}AccountId"}
    names = ["${ProjectName}-%s-bootstrap-deploy" % env, "${ProjectName}-%s-%s-check-%s-role" % (env, component, env)]
    return ({"Fn::Sub": ["arn:${AWS::Partition}:iam::${Account}:root", {"Account": account}]},
            sorted(str({"Fn::Sub": ["arn:${AWS::Partition}:iam::${Account}:role/" + n, {"Account": account}]})
                   for n in names))


def _other_account_grants(statements):
    """``{principal: [(actions, role ARNs)]}`` of the Allow statements naming another principal than a service,
    "*" or an imported ARN (the scanners)."""
    found = []
    for s in statements:
        principal = s.get("Principal")
        if s["Effect"] != "Allow" or not isinstance(principal, dict) or "AWS" not in principal:
            continue
        aws = principal["AWS"]
        if isinstance(aws, list) or "Fn::ImportValue" in str(aws):
            continue  # the shared scanners' roles (same account, imported)
        if aws == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}:
            continue  # this account administers its key
        found.append(s)
    return found


def test_the_store_and_the_tools_key_admit_exactly_the_away_waves_readers(model):
    from generator.kinds import pipeline_component

    foundation = rendered(_stack(model, "foundation"))[0]
    policy = foundation["Resources"]["EncryptionKey"]["Properties"]["KeyPolicy"]
    condition, with_readers, without = policy["Fn::If"]
    assert condition == "IsToolsEnvironment"
    assert foundation["Conditions"][condition] == {"Fn::Equals": [{"Ref": "EnvironmentName"}, model.tools]}
    assert _other_account_grants(_statements(without)) == []
    via_s3 = {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
    key_grants = [g for g in _other_account_grants(_statements(with_readers))
                  if g["Condition"].get("StringEquals") == via_s3]  # the recorders' grants: test_recorders_...
    expected_key = {}  # the key has one statement per account: every application's readers there
    for app in model.applications:
        component = pipeline_component(app.kind, app.name)
        store = rendered(_stack(model, f"{app.name}-store"))[0]
        (bucket_policy,) = [r for r in store["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
        grants = _other_account_grants(_statements(bucket_policy["Properties"]["PolicyDocument"]))
        expected = []
        for env in app.waves:
            where = placement.placement(model, env)
            if not where.cross_account or where.cross_region:
                continue  # a wave in another Region reads that Region's store
            expected.append(_reader_expectation(model, app, component, env))
        for principal, roles in expected:
            expected_key.setdefault(str(principal), (principal, set()))[1].update(roles)
        assert len(grants) == 2 * len(expected)
        for grant in grants:
            roles = sorted(str(r) for r in _list(grant["Condition"]["ArnEquals"]["aws:PrincipalArn"]))
            assert (grant["Principal"]["AWS"], roles) in expected, grant
            assert set(grant["Condition"]) == {"ArnEquals"}
            assert set(_list(grant["Action"])) <= {"s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation",
                                                   "s3:GetBucketVersioning", "s3:ListBucket"}
    assert len(key_grants) == len(expected_key)
    expected_key = [(principal, sorted(roles)) for principal, roles in expected_key.values()]
    for grant in key_grants:
        roles = sorted(str(r) for r in _list(grant["Condition"]["ArnEquals"]["aws:PrincipalArn"]))
        assert (grant["Principal"]["AWS"], roles) in expected_key, grant
        assert sorted(_list(grant["Action"])) == ["kms:Decrypt", "kms:DescribeKey"]
        assert grant["Condition"]["StringEquals"] == {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}


def _deploy_role_statements(model):
    """Every statement the bootstrap deploy role holds: its inline policies in ``bootstrap``, and the managed
    policies ``bootstrap-away`` attaches to it (the away waves' grants), by the name in the ARN bootstrap exports."""
    bootstrap = rendered(_stack(model, "bootstrap"))[0]
    away = rendered(_stack(model, "bootstrap-away"))[0]
    role = {"Fn::Select": [1, {"Fn::Split": [":role/", {"Fn::ImportValue": {
        "Fn::Sub": "${ProjectName}-${EnvironmentName}-bootstrap-DeployActionRoleArn"}}]}]}
    held = [r for r in bootstrap["Resources"].values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            and {"Ref": "DeployActionRole"} in r["Properties"].get("Roles", [])]
    attached = [r for r in away["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert attached and all(r["Properties"]["Roles"] == [role] for r in attached)
    assert bootstrap["Outputs"]["DeployActionRoleArn"]["Value"] == {"Fn::GetAtt": ["DeployActionRole", "Arn"]}
    return [s for r in held + attached for s in _statements(r["Properties"]["PolicyDocument"])]


def test_the_bootstrap_deploy_role_holds_what_the_away_actions_need(model):
    statements = _deploy_role_statements(model)
    text = str(statements)

    def grants(action, name):
        """A statement allowing ``action`` on a resource whose name pattern matches ``name``."""
        return any(action in _list(s["Action"]) and any(fnmatch.fnmatchcase(name, text) for text in _texts(s["Resource"]))
                   for s in statements)

    for pipeline in _pipelines(model):
        component = pipeline.delivery.component
        assert grants("codebuild:StartBuild", "${ProjectName}-${EnvironmentName}-%s-check-${EnvironmentName}" % component)
        if pipeline.delivery.recorder_stack:
            assert grants("lambda:InvokeFunction", "${ProjectName}-${EnvironmentName}-%s" % pipeline.delivery.recorder_component)
        name = "${ProjectName}-${EnvironmentName}-%s" % pipeline.app.name
        if pipeline.app.kind == "beanstalk":
            assert grants("elasticbeanstalk:UpdateEnvironment", name) and grants("elasticbeanstalk:CreateApplicationVersion", name)
        elif pipeline.app.kind == "lambda":  # the alias shift watches the function's alarms, logs to the action's group
            assert grants("lambda:UpdateAlias", name)
            for alarm in lambda_function.alarm_names(pipeline.app.name, "${EnvironmentName}"):
                arn = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:" + alarm
                assert grants("cloudwatch:DescribeAlarms", arn), alarm
            assert grants("logs:PutLogEvents", "/${AWS::Region}/codepipeline/${ProjectName}-%s-%s:*"
                          % (model.tools, pipeline.delivery.component))
        else:
            assert grants("ecs:RegisterTaskDefinition", name)
            assert "ecs:UpdateService" in text or "codedeploy:CreateDeployment" in text
    # every grant names this environment's resources (or this account's, for actions without resource scope; the
    # log group the tools pipeline's Lambda deploy action writes to in this account)
    from generator.components import beanstalk as beanstalk_component

    for s in statements:
        for resource in _list(s["Resource"]):
            by_alias = "${EnvironmentName}" in str(s.get("Condition", {}).get("ForAnyValue:StringEquals"))
            # Beanstalk's own resources are named from the environment's id (awseb-e-<id>), which no template knows:
            # changed only when tagged as this environment's, created only by launch template or with the
            # launch, read by their awseb- prefix; launch templates (untagged) of this account and Region; the
            # account's storage bucket (components/beanstalk.py)
            by_tag = "${EnvironmentName}" in str(s.get("Condition", {}).get("StringLike"))
            by_launch = set(s.get("Condition", {}).get("ArnLike", {})) == {"ec2:LaunchTemplate"} or \
                set(s.get("Condition", {}).get("StringEquals", {})) == {"ec2:CreateAction"} or \
                all(a.endswith(("LaunchTemplate", "LaunchTemplateVersion", "LaunchTemplateVersions"))
                    for a in _list(s["Action"]))  # launch templates carry no environment tag
            managed = beanstalk_component.MANAGED_PREFIX + "*" in str(resource) or \
                resource in (beanstalk_component.storage_bucket_arn().to_dict(),
                             beanstalk_component.storage_bucket_arn("*").to_dict())
            assert resource == "*" or "${EnvironmentName}" in str(resource) or "DeliveryEnvironment" in str(resource) \
                or resource == {"Fn::GetAtt": ["ExecutionRole", "Arn"]} or "ToolsAccount" in str(resource) \
                or by_alias or by_tag or by_launch or managed \
                or "/codepipeline/${ProjectName}-%s-" % model.tools in str(resource), s


def test_the_bootstrap_holds_the_beanstalk_deploy_grants_by_physical_names_without_wildcard_actions(beanstalk):
    """The same scoped grants as a same-account wave's deploy role (components/beanstalk.py deploy_grants), for
    every Beanstalk application of the environment: by name pattern, the tag conditions with StringLike (a
    pattern under StringEquals would match nothing), PassRole of the environment's instance and service roles
    to EC2 and Beanstalk only, no wildcard action, in managed policies within IAM's limits."""
    from generator import budget

    statements = _deploy_role_statements(beanstalk)
    assert [a for s in statements for a in _list(s["Action"]) if "*" in a] == []
    assert "elasticbeanstalk:UpdateEnvironment" in str(statements)
    tagged = [s for s in statements if "elasticbeanstalk:environment-name" in str(s.get("Condition"))]
    assert tagged and all(set(s["Condition"]) == {"StringLike"} for s in tagged)
    assert {str(s["Condition"]["StringLike"]["aws:ResourceTag/elasticbeanstalk:environment-name"]) for s in tagged} \
        == {str({"Fn::Sub": "${ProjectName}-${EnvironmentName}-*"})}
    passes = {s["Condition"]["StringEquals"]["iam:PassedToService"]: _list(s["Resource"])
              for s in statements if "iam:PassRole" in _list(s["Action"])}
    role = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-${EnvironmentName}-*-%s"
    assert passes == {"cloudformation.amazonaws.com": [{"Fn::GetAtt": ["ExecutionRole", "Arn"]}],
                      "ec2.amazonaws.com": [{"Fn::Sub": role % "instance"}],
                      "elasticbeanstalk.amazonaws.com": [{"Fn::Sub": role % "service"}]}
    away = rendered(_stack(beanstalk, "bootstrap-away"))[0]
    managed = [r for r in away["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert len(managed) >= 2  # the scoped grants (split by size) and the Resource "*" ones
    assert all(budget.policy_size(r["Properties"]["PolicyDocument"]) <= budget.MANAGED_POLICY.budget for r in managed)


def test_a_wave_in_another_region_gets_a_regional_store_in_its_environment(model):
    regional = placement.regional_environments(model)
    assert regional, "the example has a wave in another Region"
    cls = _stack(model, "regional-store")
    assert cls.environments == tuple(regional)
    template = rendered(cls)[0]
    (bucket_name,) = [r["Properties"]["BucketName"] for r in template["Resources"].values()
                      if r["Type"] == "AWS::S3::Bucket"]
    assert "-%s-" % placement.REGIONAL_STORE in bucket_name["Fn::Sub"]
    for pipeline in _pipelines(model):
        stores = rendered(pipeline)[0]["Resources"]["Pipeline"]["Properties"]
        assert "ArtifactStore" not in stores
        regions = [s["Region"] for s in stores["ArtifactStores"]]
        assert regions[0] == {"Ref": "AWS::Region"}
        expected = [{"Ref": f"{placement.label(env)}Region"} for env in pipeline.app.waves if env in regional]
        assert regions[1:] == expected
        values = paramgen.document(pipeline, model.tools)["Parameters"]
        for env in pipeline.app.waves:
            if env in regional:
                key = placement.KEY_PARAMETER.format(label=placement.label(env))
                assert values[key] == model.environment(model.tools).parameters[key].value
    # the same-Region sample keeps its single store
    sample = model_module.load(ROOT / "delivery.yaml")
    assert not placement.regional_environments(sample)
    for pipeline in _pipelines(sample):
        assert "ArtifactStores" not in rendered(pipeline)[0]["Resources"]["Pipeline"]["Properties"]


def test_a_single_account_bootstrap_has_no_away_grants():
    sample = model_module.load(ROOT / "delivery.yaml")
    text = rendered(_stack(sample, "bootstrap"))[1]
    assert "codebuild:StartBuild" not in text and "lambda:InvokeFunction" not in text


def test_away_validation_runs_in_the_wave_and_no_delivery_stack_imports_across_accounts(model):
    for app in model.applications:
        for env in _away_envs(model, app):
            cls = _stack(model, f"{app.name}-validation-{env}")
            assert cls.environments == (env,)
            if placement.placement(model, env).cross_region:  # reads its Region's store, in its own account
                assert "regional-store" in registry.requires(cls, env)
            else:  # reads the tools store of another account
                values = paramgen.document(cls, env)["Parameters"]
                assert values["ToolsAccountId"] == model.environment(model.tools).account
    delivery = {c.name for c in registry.stacks(model) if getattr(c, "part", None) in ("pipeline", "roles")}
    delivery |= {c.name for c in registry.stacks(model) if c.name.endswith("-build") or "-validation-" in c.name}
    crossing = [line for line in registry.boundary_imports(model) if line.split(" ")[0].split(":")[1] in delivery]
    assert crossing == []


def test_a_kind_without_cross_account_support_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    """Every kind supports away waves today; the refusal stays for a kind that does not (here: lambda with
    its support switched off), so a new kind cannot silently deploy an away wave with the tools' roles."""
    from generator.stacks.lambda_pipeline import LambdaPipelineStack

    monkeypatch.setattr(LambdaPipelineStack, "supports_away", False)
    text = MULTI.read_text()
    edited = text.replace("kind: ecs-rolling", "kind: lambda", 1)
    assert edited != text
    path = tmp_path / "delivery.yaml"
    path.write_text(edited)
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    code = cli_main(["--model", str(path), "templates", "--check"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and "environments[" in err[0] and "kind lambda" in err[0], err
    assert "beanstalk" in err[0].rpartition("kind")[2] and "lambda" not in err[0].rpartition("kind")[2], err


def test_a_cross_account_wave_needs_the_tools_account(tmp_path, capsys, monkeypatch):
    model = model_module.load(MULTI)
    tools = model.environment(model.tools)
    text = MULTI.read_text()
    # without OUs (whose own rule would fire first) and without the tools account
    edited = "\n".join(line for line in text.splitlines() if "organizational_units" not in line) + "\n"
    edited = edited.replace(f'    account: "{tools.account}"\n', "", 1)
    path = tmp_path / "delivery.yaml"
    path.write_text(edited)
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    code = cli_main(["--model", str(path), "templates", "--check"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and f"environments[{tools.name}].account" in err[0], err


def test_runtime_stacks_of_another_account_pull_by_name_and_the_repository_admits_exactly_their_roles(containers):
    from generator.kinds import container_applications

    model = containers
    apps = container_applications(model)
    assert apps
    for app in apps:
        service = _stack(model, f"{app.name}-service")
        for env in service.environments:
            assert f"{app.name}-ecr" not in str(registry.requires(service, env)), env
        values = paramgen.document(service, service.environments[0])["Parameters"]
        assert values["ToolsAccountId"] == model.environment(model.tools).account
        repository = rendered(_stack(model, f"{app.name}-ecr"))[0]
        (resource,) = [r for r in repository["Resources"].values() if r["Type"] == "AWS::ECR::Repository"]
        statements = _statements(resource["Properties"]["RepositoryPolicyText"])
        others = [s for s in statements if s["Effect"] == "Allow" and "Ref" in str(s["Principal"])]
        expected = {env for env in app.runtime_environments if placement.placement(model, env).cross_account}
        assert len(others) == len(expected)
        for statement in others:
            (role,) = _list(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])
            env = next(e for e in expected if "${ProjectName}-%s-%s-execution" % (e, app.name) in str(role))
            assert statement["Principal"]["AWS"]["Fn::Sub"][1] == {"Account": {"Ref": f"{placement.label(env)}AccountId"}}
            assert sorted(_list(statement["Action"])) == ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                                          "ecr:GetDownloadUrlForLayer"]


# -- the deployment history and the wave alarms across accounts ---------------------------------------
def _resources(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _recorder_roles(model):
    """``{env: [role ARN, ...]}`` of the recorders in other accounts, each named as its stack names it."""
    found = {}
    for app in model.applications:
        recorder = rendered(_stack(model, f"{app.name}-recorder"))[0]
        (role,) = _resources(recorder, "AWS::IAM::Role").values()
        name = role["Properties"]["RoleName"]["Fn::Sub"]
        for env in app.waves:
            if placement.placement(model, env).cross_account:
                label = placement.label(env)
                found.setdefault(env, []).append(str({"Fn::Sub": [
                    "arn:${AWS::Partition}:iam::${Account}:role/" + name.replace("${EnvironmentName}", env),
                    {"Account": {"Ref": f"{label}AccountId"}}]}))
    return found


def test_recorders_of_other_accounts_write_the_history_table_and_only_their_roles_are_admitted(model):
    expected = _recorder_roles(model)
    assert expected, "the example has recorders in other accounts"
    deployments = rendered(_stack(model, "deployments"))[0]
    (table,) = _resources(deployments, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    name = props["TableName"]["Fn::Sub"]
    table_arn = {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + name}
    statements = _statements(props["ResourcePolicy"]["PolicyDocument"])
    assert len(statements) == len(expected)
    for statement in statements:
        account = statement["Principal"]["AWS"]["Fn::Sub"][1]["Account"]["Ref"]
        env = next(e for e in expected if f"{placement.label(e)}AccountId" == account)
        assert statement["Effect"] == "Allow" and _list(statement["Action"]) == ["dynamodb:PutItem"]
        assert _list(statement["Resource"]) == [table_arn]
        assert set(statement["Condition"]) == {"ArnEquals"}
        assert sorted(str(r) for r in _list(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])) \
            == sorted(expected[env])
    # The tools key: the same roles, through DynamoDB only.
    foundation = rendered(_stack(model, "foundation"))[0]
    _, with_readers, _ = foundation["Resources"]["EncryptionKey"]["Properties"]["KeyPolicy"]["Fn::If"]
    via_dynamodb = {"kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}
    key_grants = [s for s in _other_account_grants(_statements(with_readers))
                  if s["Condition"].get("StringEquals") == via_dynamodb]
    assert sorted(r for s in key_grants for r in map(str, _list(s["Condition"]["ArnEquals"]["aws:PrincipalArn"]))) \
        == sorted(r for roles in expected.values() for r in roles)
    assert all("kms:Decrypt" in s["Action"] and "kms:GenerateDataKey" in s["Action"] for s in key_grants)
    # A single-account model names no table and writes no resource policy.
    single = model_module.load(ROOT / "delivery.yaml")
    (plain_table,) = _resources(rendered(_stack(single, "deployments"))[0], "AWS::DynamoDB::Table").values()
    assert "TableName" not in plain_table["Properties"] and "ResourcePolicy" not in plain_table["Properties"]


def test_an_away_recorder_names_the_table_by_arn_from_the_tools_account_parameter(model):
    tools = model.environment(model.tools)
    deployments = rendered(_stack(model, "deployments"))[0]
    (table,) = _resources(deployments, "AWS::DynamoDB::Table").values()
    table_name = table["Properties"]["TableName"]["Fn::Sub"].replace("${EnvironmentName}", model.tools)
    for app in model.applications:
        cls = _stack(model, f"{app.name}-recorder")
        recorder = rendered(cls)[0]
        assert "deployments" not in str([v for v in _texts(recorder) if "ImportValue" in v])
        imports = [str(v) for k, v in _walk(recorder) if k == "Fn::ImportValue"]
        assert not any("-deployments-" in i or f"-{model.tools}-" in i for i in imports), imports
        (function,) = _resources(recorder, "AWS::Lambda::Function").values()
        variables = function["Properties"]["Environment"]["Variables"]
        arn = variables["TABLE"]["Fn::Sub"]
        assert arn[0] == "arn:${AWS::Partition}:dynamodb:${Region}:${Account}:table/" + table_name
        assert arn[1]["Account"]["Fn::If"][2] == {"Ref": "ToolsAccountId"}
        assert variables["TABLE_REGION"] == arn[1]["Region"]
        policies = [s for p in _resources(recorder, "AWS::IAM::Policy").values()
                    for s in _statements(p["Properties"]["PolicyDocument"])]
        (put,) = [s for s in policies if "dynamodb:PutItem" in _list(s["Action"])]
        assert _list(put["Resource"]) == [variables["TABLE"]]
        (key,) = [s for s in policies if "kms:GenerateDataKey" in _list(s["Action"])]
        assert key["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Sub"][0] == "dynamodb.${Region}.amazonaws.com"
        for env in app.waves:
            values = paramgen.document(cls, env)["Parameters"]
            assert values["ToolsAccountId"] == tools.account


def _walk(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def test_the_wave_alarms_of_an_away_application_live_in_its_waves_and_gate_under_their_roles(model):
    from generator.stacks import operations

    assert "cloudwatch:DescribeAlarms" in str(_deploy_role_statements(model))
    for app in model.applications:
        ops = rendered(_stack(model, operations.stack_name(app)))[0]
        imports = [str(v) for k, v in _walk(ops) if k == "Fn::ImportValue"]
        assert not any(env in i for i in imports for env in app.waves), imports  # nothing of another account
        recorder = rendered(_stack(model, f"{app.name}-recorder"))[0]
        alarms = _resources(recorder, "AWS::CloudWatch::Alarm")
        if app.kind == "lambda":  # the function stack (in the wave) owns its alarms: the rules name them there
            assert alarms == {}
            slugs = [key.lower() for key in lambda_function.ALARM_KEYS]
        else:
            slugs = [a.slug for a in operations.kind_alarms(app)]
        assert app.kind == "lambda" or sorted(a["Properties"]["AlarmName"]["Fn::Sub"] for a in alarms.values()) \
            == sorted("${ProjectName}-${EnvironmentName}-%s-%s" % (app.name, slug) for slug in slugs)
        for alarm in alarms.values():  # this environment's topic: an alarm acts in its own account only
            for action in alarm["Properties"]["AlarmActions"] + alarm["Properties"]["OKActions"]:
                assert "${EnvironmentName}" in action["Fn::ImportValue"]["Fn::Sub"]
        pipeline = next(c for c in _pipelines(model) if c.app.name == app.name)
        template = rendered(pipeline)[0]
        (resource,) = _resources(template, "AWS::CodePipeline::Pipeline").values()
        rules = [rule for stage in resource["Properties"]["Stages"] for key in ("BeforeEntry", "OnSuccess")
                 for condition in stage.get(key, {}).get("Conditions", []) for rule in condition["Rules"]]
        assert rules
        for rule in rules:
            name = rule["Configuration"]["AlarmName"]["Fn::Sub"]
            env = next(e for e in app.waves if name.startswith("${ProjectName}-%s-%s-" % (e, app.name)))
            assert name.rpartition("-%s-" % app.name)[2] in slugs
            where = placement.placement(model, env)
            assert rule["RoleArn"] == _deploy_role(env, placement.label(env))
            assert rule.get("Region") == ({"Ref": where.region_parameter} if where.cross_region else None)


def test_the_three_account_plan_imports_nothing_across_accounts_and_its_parameters_validate(model, tmp_path,
                                                                                           monkeypatch, capsys):
    """What ``deploy`` refuses (``registry.boundary``, in the deploy code's requirement check) never occurs."""
    crossing = [(env, cls.name, req) for env in model.environment_names for cls in registry.deploy_order(env, model)
                for req in registry.requires(cls, env)
                if req.rpartition(":")[0] and registry.boundary(model, env, req.rpartition(":")[0])]
    assert crossing == []
    assert registry.boundary_imports(model) == []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    assert cli_main(["--model", str(model.path), "templates"]) == 0
    assert "across accounts" not in capsys.readouterr().out
    assert cli_main(["--model", str(model.path), "params", "validate"]) == 0, capsys.readouterr().err


# -- Beanstalk waves in another account or Region -------------------------------------------------------
def _beanstalk_apps(model):
    apps = [app for app in model.applications if app.kind == "beanstalk" and _away_envs(model, app)]
    assert apps, "the model has a Beanstalk application with an away wave"
    return apps


def test_an_away_beanstalk_wave_deploys_to_the_application_and_environment_of_its_own_account(beanstalk):
    """An environment's application is of its account and Region: ``<app>-app`` is deployed in tools and in each
    away wave's environment, whose environment, roles and recorder stacks import it there (DeliveryEnvironment),
    and the deploy action names both by their physical names in that account."""
    for app in _beanstalk_apps(beanstalk):
        away = _away_envs(beanstalk, app)
        app_stack = _stack(beanstalk, f"{app.name}-app")
        assert app_stack.environments == (beanstalk.tools, *away)
        application = rendered(app_stack)[0]["Resources"]["Application"]["Properties"]["ApplicationName"]
        for env in away:
            for name in (f"{app.name}-env", f"{app.name}-env-roles", f"{app.name}-recorder"):
                cls = _stack(beanstalk, name)
                assert f"{app.name}-app" in registry.requires(cls, env), (name, env)  # this environment's
                assert paramgen.document(cls, env)["Parameters"]["DeliveryEnvironment"] == env
            label = placement.label(env)
            stages = {s["Name"]: s for s in rendered(_stack(beanstalk, f"{app.name}-pipeline"))[0]["Resources"]
                      ["Pipeline"]["Properties"]["Stages"]}
            (deploy,) = [a for a in stages["Deploy" + label]["Actions"] if a["Name"] == "Deploy"]
            assert deploy["ActionTypeId"]["Provider"] == "ElasticBeanstalk"
            physical = {"Fn::Sub": application["Fn::Sub"].replace("${EnvironmentName}", env)}
            env_name = rendered(_stack(beanstalk, f"{app.name}-env"))[0]["Resources"]["Environment"]["Properties"]
            assert deploy["Configuration"] == {
                "ApplicationName": physical,
                "EnvironmentName": {"Fn::Sub": env_name["EnvironmentName"]["Fn::Sub"].replace("${EnvironmentName}", env)}}
            assert deploy["RoleArn"] == _deploy_role(env, label)


def test_same_account_beanstalk_waves_keep_the_tools_application(beanstalk):
    """A wave of the tools account and Region keeps importing the tools application (its parameter files say tools)."""
    text = MULTI_BEANSTALK.read_text()
    model = model_module.load(MULTI_BEANSTALK)
    staging = next(e for e in model.environments if e.name != model.tools and not e.region)
    edited = text.replace(f'    account: "{staging.account}"\n', f'    account: "{model.environment(model.tools).account}"\n')
    assert edited != text
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "delivery.yaml"
        path.write_text(edited)
        same = model_module.load(path)
        (app,) = _beanstalk_apps(same)
        assert staging.name not in _stack(same, f"{app.name}-app").environments
        for name in (f"{app.name}-env", f"{app.name}-env-roles"):
            cls = _stack(same, name)
            assert f"{same.tools}:{app.name}-app" in registry.requires(cls, staging.name)
            assert paramgen.document(cls, staging.name)["Parameters"]["DeliveryEnvironment"] == same.tools
        stages = {s["Name"]: s for s in rendered(_stack(same, f"{app.name}-pipeline"))[0]["Resources"]["Pipeline"]
                  ["Properties"]["Stages"]}
        (deploy,) = [a for a in stages["Deploy" + placement.label(staging.name)]["Actions"] if a["Name"] == "Deploy"]
        assert "Fn::ImportValue" in deploy["Configuration"]["ApplicationName"] and "bootstrap" not in str(deploy["RoleArn"])


def test_an_away_beanstalk_recorder_reads_its_environment_in_its_own_account_and_holds_the_wave_alarm(beanstalk):
    for app in _beanstalk_apps(beanstalk):
        recorder = rendered(_stack(beanstalk, f"{app.name}-recorder"))[0]
        reads = [s for p in _resources(recorder, "AWS::IAM::Policy").values()
                 for s in _statements(p["Properties"]["PolicyDocument"])
                 if "elasticbeanstalk:DescribeEnvironments" in _list(s["Action"])]
        (arn,) = [r for s in reads for r in _list(s["Resource"])]
        assert arn["Fn::Sub"][1]["App"] == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${DeliveryEnvironment}-%s-app-ApplicationName" % app.name}}
        (alarm,) = _resources(recorder, "AWS::CloudWatch::Alarm").values()
        assert alarm["Properties"]["MetricName"] == "EnvironmentHealth"
        assert alarm["Properties"]["Dimensions"] == [{"Name": "EnvironmentName", "Value": {"Fn::ImportValue": {
            "Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-env-EnvironmentName" % app.name}}}]


def test_an_away_beanstalk_waves_change_sets_create_its_application_first(tmp_path):
    """``infrastructure: pipeline``: the wave's own ``<app>-app`` is a step before the stacks importing it
    (through ``DeliveryEnvironment``), so a first run creates it before them."""
    from generator.components import infrastructure

    text = MULTI_BEANSTALK.read_text()
    edited = text.replace("    kind: beanstalk\n", "    kind: beanstalk\n    infrastructure: pipeline\n", 1)
    assert edited != text
    path = tmp_path / "delivery.yaml"
    path.write_text(edited)
    model = model_module.load(path)
    for app in _beanstalk_apps(model):
        for env in _away_envs(model, app):
            steps = {s.cls.name: s.step for s in infrastructure.wave_stacks(model, app, env)}
            assert steps[f"{app.name}-app"] < steps[f"{app.name}-env-roles"] < steps[f"{app.name}-env"], steps


def test_an_away_lambda_wave_shifts_the_function_stacks_alias_watching_its_alarms_and_logs_in_its_account():
    """The deploy action of a ``lambda`` wave in another account names exactly what that account's function
    stack creates (function, alias, alarms), and the log group it writes to there exists, encrypted and
    expiring, in the wave's validation stack, under the name the bootstrap deploy role may write."""
    model = model_module.load(MULTI)
    apps = [app for app in model.applications if app.kind == "lambda" and _away_envs(model, app)]
    assert apps, "the example has a lambda application with a wave in another account"
    for app in apps:
        pipeline = next(c for c in _pipelines(model) if c.app.name == app.name)
        stages = {s["Name"]: s for s in rendered(pipeline)[0]["Resources"]["Pipeline"]["Properties"]["Stages"]}
        function_stack = rendered(_stack(model, f"{app.name}-function"))[0]
        (function,) = _resources(function_stack, "AWS::Lambda::Function").values()
        (alias,) = _resources(function_stack, "AWS::Lambda::Alias").values()
        alarms = _resources(function_stack, "AWS::CloudWatch::Alarm")
        for env in _away_envs(model, app):
            def there(text):  # a name of the function stack as deployed in env
                return text.replace("${EnvironmentName}", env)

            (deploy,) = [a for a in stages["Deploy" + placement.label(env)]["Actions"] if a["Name"] == "Deploy"]
            config = deploy["Configuration"]
            assert config["FunctionName"] == {"Fn::Sub": there(function["Properties"]["FunctionName"]["Fn::Sub"])}
            assert config["FunctionAlias"] == alias["Properties"]["Name"]
            assert config["Alarms"]["Fn::Sub"].split(",") == \
                [there(a["Properties"]["AlarmName"]["Fn::Sub"]) for a in alarms.values()]
            validation = _stack(model, f"{app.name}-validation-{env}")
            assert validation.environments == (env,)
            template = rendered(validation)[0]
            group = template["Resources"]["DeployActionLogs"]
            assert group["Type"] == "AWS::Logs::LogGroup"
            name = group["Properties"]["LogGroupName"]["Fn::Sub"]
            assert name == "/${AWS::Region}/codepipeline/${ProjectName}-%s-%s" % (model.tools, pipeline.delivery.component)
            assert "KmsKeyId" in group["Properties"] and group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
            # the pipeline in tools is named so: ${ProjectName}-${EnvironmentName}-<component> in tools
            assert rendered(pipeline)[0]["Resources"]["Pipeline"]["Properties"]["Name"] == \
                {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s" % pipeline.delivery.component}


def test_every_kind_away_in_one_model_stays_within_the_template_budgets(tmp_path):
    """ECS, Beanstalk and Lambda applications with away waves in one model: the away grants of every kind live in
    ``bootstrap-away`` (deployed after ``bootstrap``, whose role ARN it imports), so ``bootstrap`` stays the same
    size whatever kinds a model mixes, and each template is within its budget (rendering enforces it)."""
    text = MULTI_BEANSTALK.read_text().rstrip("\n") + "\n"
    other = MULTI.read_text()
    path = tmp_path / "delivery.yaml"
    path.write_text(text + other[other.index("applications:\n") + len("applications:\n"):])
    mixed = model_module.load(path)
    kinds = {app.kind for app in mixed.applications}
    assert {"beanstalk", "lambda"} <= kinds and kinds & {"ecs-bluegreen", "ecs-rolling"}
    away = _stack(mixed, "bootstrap-away")
    assert set(away.environments) == {env for app in mixed.applications for env in _away_envs(mixed, app)}
    for env in away.environments:
        assert "bootstrap" in registry.requires(away, env)
    statements = _deploy_role_statements(mixed)  # renders both: an over-budget template raises here
    actions = {a for s in statements for a in _list(s["Action"])}
    assert {"elasticbeanstalk:UpdateEnvironment", "lambda:UpdateAlias", "ecs:RegisterTaskDefinition"} <= actions
    # bootstrap holds none of them: it grows with the target stacks' resource types (the execution role), not
    # with the kinds delivered away
    bootstrap = rendered(_stack(mixed, "bootstrap"))[0]
    held = [s for r in bootstrap["Resources"].values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            and {"Ref": "DeployActionRole"} in r["Properties"].get("Roles", [])
            for s in _statements(r["Properties"]["PolicyDocument"])]
    assert not {a for s in held for a in _list(s["Action"])} & {"elasticbeanstalk:UpdateEnvironment",
                                                                  "lambda:UpdateAlias", "ecs:RegisterTaskDefinition"}


def test_the_away_grants_stackset_follows_the_bootstrap_stackset_of_its_environment(containers):
    """An environment with organizational units and an away wave gets two StackSets: ``bootstrap`` and
    ``bootstrap-away``, the second's auto-deployment sequenced after the first's in a new account and its stack
    after the first's (the import of its ARN); each passes exactly its body's parameters."""
    import json

    model = containers
    envs = [e.name for e in model.environments if e.organizational_units and e.name in _stack(model, "bootstrap-away").environments]
    assert envs
    for env in envs:
        first, second = _stack(model, f"bootstrap-stackset-{env}"), _stack(model, f"bootstrap-away-stackset-{env}")
        assert first.name in registry.requires(second, model.tools)
        for cls, body in ((first, "bootstrap"), (second, "bootstrap-away")):
            (stack_set,) = _resources(rendered(cls)[0], "AWS::CloudFormation::StackSet").values()
            props = stack_set["Properties"]
            template = json.loads(props["TemplateBody"])
            assert template == rendered(_stack(model, body))[0]
            assert {p["ParameterKey"] for p in props["Parameters"]} == set(template["Parameters"])
            assert props["AutoDeployment"]["Enabled"] is True and props["PermissionModel"] == "SERVICE_MANAGED"
        (stack_set,) = _resources(rendered(second)[0], "AWS::CloudFormation::StackSet").values()
        assert stack_set["Properties"]["AutoDeployment"]["DependsOn"] == [{"Fn::ImportValue": {
            "Fn::Sub": "${ProjectName}-${EnvironmentName}-bootstrap-stackset-%s-StackSetArn" % env}}]
