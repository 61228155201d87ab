"""Two accounts on the local server (it namespaces by a 12-digit access key id): the bootstrap stack
goes to the target environment's account, the tools stacks to the tools account, each through the
profile the model names, and deploy prints the account and Region of every stack (issue 15)."""
from __future__ import annotations

import io

from generator import cli, model as model_module, registry
from generator.render import rendered
from tests.localstack_server import TEST_REGION, aws_env, client

from .conftest import ROOT, Result, stack_or_none, topic_template

_STACKS = registry.stacks  # the project fixture replaces it with fake stacks

TOOLS_ACCOUNT, TARGET_ACCOUNT = "111111111111", "222222222222"


def _credentials(tmp_path, monkeypatch, endpoint):
    """Profiles ``acct-<id>`` whose access key id is the account id, and nothing else."""
    for key, value in aws_env(endpoint).items():
        if key.startswith("AWS_") or "proxy" in key.lower():
            monkeypatch.setenv(key, value)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    creds, config = tmp_path / "credentials", tmp_path / "config"
    creds.write_text("".join(f"[acct-{a}]\naws_access_key_id = {a}\naws_secret_access_key = test\n"
                             for a in (TOOLS_ACCOUNT, TARGET_ACCOUNT)))
    config.write_text("".join(f"[profile acct-{a}]\nregion = {TEST_REGION}\n" for a in (TOOLS_ACCOUNT, TARGET_ACCOUNT)))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))


def _run(project, *argv) -> Result:
    project.monkeypatch.setattr("sys.stdin", io.StringIO(""))
    project.capsys.readouterr()
    code = cli.main(["deploy", "--endpoint-url", project.endpoint_url, "--poll-seconds", "0.5", *argv])
    captured = project.capsys.readouterr()
    return Result(code, captured.out, captured.err)


def _bootstrap_text():
    """The real bootstrap template, as the repository's model renders it."""
    model = model_module.load(ROOT / "delivery.yaml")
    return rendered(next(c for c in _STACKS(model) if getattr(c, "bootstrap", False)))[1]


def _account_client(project, account, service="cloudformation"):
    """A ``service`` client of ``account`` on the local server (loopback only)."""
    import boto3

    client("cloudformation", project.endpoint_url)  # refuses a non-loopback endpoint
    return boto3.session.Session(aws_access_key_id=account, aws_secret_access_key="test",
                                 region_name=TEST_REGION).client(service, endpoint_url=project.endpoint_url)


def test_bootstrap_goes_to_the_target_account_and_tools_stacks_to_the_tools_account(project, tmp_path, policies):
    text = _bootstrap_text()
    tools = "tools"
    project.environment(tools, Account=TOOLS_ACCOUNT, Profile=f"acct-{TOOLS_ACCOUNT}")
    project.environment("staging", Account=TARGET_ACCOUNT, Profile=f"acct-{TARGET_ACCOUNT}")
    _credentials(tmp_path, project.monkeypatch, project.endpoint_url)
    project.add_stack("base", environments=(tools,))
    project.template("base", topic_template())
    project.params(tools, "base")
    project.add_stack("bootstrap", environments=("staging",))
    project.template("bootstrap", text)
    project.params("staging", "bootstrap", {"CostCenter": "platform", "DeliveryEnvironment": tools,
                                            "ToolsAccountId": TOOLS_ACCOUNT, "ToolsRegion": ""})

    result = _run(project, "--env", tools, "--env", "staging", "--all", "--yes")
    assert result.code == 0, result.out + result.err
    out = result.out
    assert f"{tools}:base  (account {TOOLS_ACCOUNT}, " in out
    assert f"staging:bootstrap  (account {TARGET_ACCOUNT}, " in out
    assert (f"== {tools}/base: stack {project.stack_name(tools, 'base')} in account {TOOLS_ACCOUNT}, "
            f"region {TEST_REGION}") in out
    assert (f"== staging/bootstrap: stack {project.stack_name('staging', 'bootstrap')} in account "
            f"{TARGET_ACCOUNT}, region {TEST_REGION}") in out

    in_tools, in_target = _account_client(project, TOOLS_ACCOUNT), _account_client(project, TARGET_ACCOUNT)
    assert stack_or_none(in_tools, project.stack_name(tools, "base"))["StackStatus"] == "CREATE_COMPLETE"
    assert stack_or_none(in_target, project.stack_name(tools, "base")) is None
    bootstrap = stack_or_none(in_target, project.stack_name("staging", "bootstrap"))
    assert bootstrap["StackStatus"] == "CREATE_COMPLETE", bootstrap
    assert stack_or_none(in_tools, project.stack_name("staging", "bootstrap")) is None
    assert {o["OutputKey"] for o in bootstrap.get("Outputs", [])} >= {"DeployActionRoleArn", "ExecutionRoleArn"}


def test_credentials_of_another_account_are_refused_before_any_change(project, tmp_path):
    project.environment("tools", Account=TOOLS_ACCOUNT, Profile=f"acct-{TOOLS_ACCOUNT}")
    project.environment("staging", Account=TARGET_ACCOUNT, Profile=f"acct-{TOOLS_ACCOUNT}")  # the wrong profile
    _credentials(tmp_path, project.monkeypatch, project.endpoint_url)
    project.add_stack("base", environments=("staging",))
    project.template("base", topic_template())
    project.params("staging", "base")
    result = _run(project, "--env", "staging", "--stack", "base", "--yes")
    assert result.code == 2, result.out + result.err
    (line,) = result.err.splitlines()
    assert f"lives in account {TARGET_ACCOUNT}" in line and f"belong to account {TOOLS_ACCOUNT}" in line
    for account in (TOOLS_ACCOUNT, TARGET_ACCOUNT):
        assert stack_or_none(_account_client(project, account), project.stack_name("staging", "base")) is None


def test_execution_role_runs_target_stacks_with_the_bootstrap_role(project, policies):
    text = _bootstrap_text()
    project.add_stack("bootstrap", environments=("staging",))
    project.template("bootstrap", text)
    project.params("staging", "bootstrap", {"CostCenter": "platform", "DeliveryEnvironment": "tools"})
    project.add_stack("base", environments=("staging",))
    project.template("base", topic_template())
    project.params("staging", "base")

    refused = project.run("--env", "staging", "--stack", "base", "--yes", "--execution-role")
    assert refused.code == 3, refused.out + refused.err
    assert f"{project.stack_name('staging', 'bootstrap')} is not deployed" in refused.err
    assert "cfn-delivery deploy --env staging --stack bootstrap" in refused.err

    first = project.run("--env", "staging", "--stack", "bootstrap", "--yes", "--execution-role")
    assert first.code == 0, first.out + first.err
    assert "execution role:" not in first.out  # the bootstrap stack is deployed by an administrator
    from generator.deploy import changeset

    sent, create = [], changeset.create

    def recording(cfn, plan, *args, **kwargs):  # the local server does not keep a stack's RoleARN
        cfn.meta.events.register_first("provide-client-params.cloudformation.CreateChangeSet",
                                       lambda params, **_: sent.append(params.get("RoleARN")))
        return create(cfn, plan, *args, **kwargs)

    project.monkeypatch.setattr(changeset, "create", recording)
    result = project.run("--env", "staging", "--stack", "base", "--yes", "--execution-role")
    assert result.code == 0, result.out + result.err
    cfn = client("cloudformation", project.endpoint_url)
    role = {o["OutputKey"]: o["OutputValue"]
            for o in stack_or_none(cfn, project.stack_name("staging", "bootstrap"))["Outputs"]}["ExecutionRoleArn"]
    assert f"execution role: {role}" in result.out
    assert sent == [role]  # CreateChangeSet carried the execution role


def test_an_import_across_accounts_is_refused_with_the_reason(project, tmp_path):
    project.environment("tools", Account=TOOLS_ACCOUNT, Profile=f"acct-{TOOLS_ACCOUNT}")
    project.environment("staging", Account=TARGET_ACCOUNT, Profile=f"acct-{TARGET_ACCOUNT}")
    _credentials(tmp_path, project.monkeypatch, project.endpoint_url)
    project.add_stack("edge", environments=("staging",), requires=("tools:base",))
    project.template("edge", topic_template())
    project.params("staging", "edge")
    result = _run(project, "--env", "staging", "--stack", "edge", "--yes")
    assert result.code == 2, result.out + result.err
    (line,) = result.err.splitlines()
    assert f"imports from tools:base across accounts {TOOLS_ACCOUNT} -> {TARGET_ACCOUNT}" in line
    assert stack_or_none(_account_client(project, TARGET_ACCOUNT), project.stack_name("staging", "edge")) is None


def test_the_three_account_models_tools_key_and_target_bootstrap_deploy_in_their_accounts(project, tmp_path, policies):
    """The multi-account example's cross-account pieces on the server: the target's bootstrap (deploy role with
    the away waves' grants) in the target account, the tools foundation (its key policy admitting exactly the
    waves' roles) in the tools account; neither waits for the other."""
    from generator import paramgen
    from generator.components import placement

    model = model_module.load(ROOT / "examples" / "models" / "multi-account.yaml")
    stacks = {c.name: c for c in _STACKS(model)}
    fake = registry.stacks  # the project fixture's; the real templates render with the real registry
    project.monkeypatch.setattr(registry, "stacks", _STACKS)
    texts = {name: rendered(stacks[name])[1] for name in ("foundation", "bootstrap", "bootstrap-away")}
    target = next(env for env in model.environment_names
                  if env != model.tools and placement.placement(model, env).cross_account
                  and not placement.placement(model, env).cross_region)
    tools = model.tools
    project.environment(tools, Account=TOOLS_ACCOUNT, Profile=f"acct-{TOOLS_ACCOUNT}")
    project.environment(target, Account=TARGET_ACCOUNT, Profile=f"acct-{TARGET_ACCOUNT}")
    _credentials(tmp_path, project.monkeypatch, project.endpoint_url)
    for name, env in (("foundation", tools), ("bootstrap", target), ("bootstrap-away", target)):
        cls = stacks[name]
        values = paramgen.document(cls, env)["Parameters"]
        requires = registry.requires(cls, env)  # bootstrap-away after bootstrap: the model's order, by import
        project.monkeypatch.setattr(registry, "stacks", fake)
        project.add_stack(name, environments=(env,), requires=requires)
        project.template(name, texts[name])
        project.monkeypatch.setattr(registry, "stacks", _STACKS)
        values.update({"ProjectName": project.name, "EnvironmentName": env})
        account = f"{placement.label(target)}AccountId"
        if account in values:  # the local server's account ids, not the model's
            values[account] = TARGET_ACCOUNT
        if name == "bootstrap":
            values["ToolsAccountId"] = TOOLS_ACCOUNT
        project.params(env, name, values)
    project.monkeypatch.setattr(registry, "stacks", fake)

    result = _run(project, "--env", target, "--env", tools, "--all", "--yes")
    assert result.code == 0, result.out + result.err
    in_tools, in_target = _account_client(project, TOOLS_ACCOUNT), _account_client(project, TARGET_ACCOUNT)
    assert stack_or_none(in_tools, project.stack_name(tools, "foundation"))["StackStatus"] == "CREATE_COMPLETE"
    assert stack_or_none(in_target, project.stack_name(target, "bootstrap"))["StackStatus"] == "CREATE_COMPLETE"
    # the away waves' grants, after bootstrap (their import of its role ARN orders them), attached to its role
    assert stack_or_none(in_target, project.stack_name(target, "bootstrap-away"))["StackStatus"] == "CREATE_COMPLETE"
    iam = _account_client(project, TARGET_ACCOUNT, "iam")
    attached = iam.list_attached_role_policies(RoleName=f"{project.name}-{target}-bootstrap-deploy")["AttachedPolicies"]
    assert len(attached) == len([r for r in rendered(stacks["bootstrap-away"])[0]["Resources"].values()
                                 if r["Type"] == "AWS::IAM::ManagedPolicy"])
    assert f"{tools}:foundation  (account {TOOLS_ACCOUNT}, " in result.out
    assert f"{target}:bootstrap  (account {TARGET_ACCOUNT}, " in result.out
    assert result.out.index(f"{target}:bootstrap  (") < result.out.index(f"{target}:bootstrap-away  (")


def test_the_three_account_models_history_table_admits_the_away_recorders_on_the_server(project, tmp_path, policies):
    """The tools ``deployments`` stack of the multi-account example, with its resource policy naming the away
    recorders' roles by condition (none of them exists on the server: nothing waits for the targets), gets its
    change set in the tools account after the tools foundation, with no import across accounts. A dry run: the
    local server's DynamoDB backend is not part of this test setup, so the table is not created here."""
    from generator import paramgen
    from generator.components import placement

    model = model_module.load(ROOT / "examples" / "models" / "multi-account.yaml")
    stacks = {c.name: c for c in _STACKS(model)}
    fake = registry.stacks
    project.monkeypatch.setattr(registry, "stacks", _STACKS)
    texts = {name: rendered(stacks[name]) for name in ("foundation", "deployments")}
    tools = model.tools
    away = [env for env in model.environment_names if env != tools and placement.placement(model, env).cross_account]
    project.environment(tools, Account=TOOLS_ACCOUNT, Profile=f"acct-{TOOLS_ACCOUNT}")
    _credentials(tmp_path, project.monkeypatch, project.endpoint_url)
    for name, requires in (("foundation", ()), ("deployments", ("foundation",))):
        values = paramgen.document(stacks[name], tools)["Parameters"]
        project.monkeypatch.setattr(registry, "stacks", fake)
        project.add_stack(name, environments=(tools,), requires=requires)
        project.template(name, texts[name][1])
        project.monkeypatch.setattr(registry, "stacks", _STACKS)
        values.update({"ProjectName": project.name, "EnvironmentName": tools})
        for env in away:
            account = f"{placement.label(env)}AccountId"
            if account in values:  # an account of the server other than the tools one
                values[account] = TARGET_ACCOUNT
        project.params(tools, name, values)
    project.monkeypatch.setattr(registry, "stacks", fake)

    first = _run(project, "--env", tools, "--stack", "foundation", "--yes")
    assert first.code == 0, first.out + first.err
    result = _run(project, "--env", tools, "--stack", "deployments", "--dry-run")
    assert result.code == 0, result.out + result.err
    assert "across accounts" not in result.out + result.err
    assert f"== {tools}/deployments: stack {project.stack_name(tools, 'deployments')} in account {TOOLS_ACCOUNT}" \
        in result.out
    assert "ResourcePolicy" in texts["deployments"][1] and "HistoryTable" in result.out, result.out
    assert stack_or_none(_account_client(project, TOOLS_ACCOUNT), project.stack_name(tools, "deployments")) is None
