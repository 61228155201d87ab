"""The fault suite (issue 16, item 7) and the export-in-use check (item 3), against the local server.

Faults are injected where they happen: a real SIGINT sent from inside an API call (Ctrl-C while
waiting), botocore event hooks answering an operation with AWS's error (refused calls, throttling
past retries, a connection lost after ExecuteChangeSet reached the server), two deploys in threads.
Each asserts: no change set left behind, no false success, the exit code and the message.
LocalStack's ListImports answers [] (it does not record imports), so a hook answers it as AWS would.
"""
from __future__ import annotations

import http.server
import io
import json
import os
import signal
import threading
import time

import pytest
from botocore.exceptions import ConnectionClosedError

from generator import cli
from generator.deploy import main, watch
from generator.stackmodel import exports
from tests.aws_hooks import answer, error as _error, hooks  # noqa: F401  (fixture)

from .conftest import change_set_names, stack_or_none, topic_template
from .test_deploy_server import _failing_template


def _available(cfn, name):
    """Change sets that could still be executed (what a fault must not leave behind)."""
    left = []
    for cs in change_set_names(cfn, name):
        info = cfn.describe_change_set(StackName=name, ChangeSetName=cs)
        if info.get("ExecutionStatus") not in ("EXECUTE_COMPLETE", "EXECUTE_FAILED", "OBSOLETE"):
            left.append(cs)
    return left


def _params(cfn, name):
    return {p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stacks(StackName=name)["Stacks"][0]["Parameters"]}


def _base(project, env="dev"):
    project.add_stack("base")
    project.template("base", topic_template())
    project.params(env, "base")
    return project.stack_name(env, "base")


# -- one cleanup path ------------------------------------------------------------------------------

def test_sigint_while_waiting_for_a_create_change_set_leaves_no_stack(project, cfn, hooks):
    name = _base(project)
    hooks.append(("before-call.cloudformation.DescribeChangeSet", lambda **kw: os.kill(os.getpid(), signal.SIGINT)))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 130, result
    assert result.err.startswith("error: interrupted before execution: nothing was executed (change set cfn-delivery-")
    assert result.err.rstrip().endswith(f"and the empty stack {name} deleted)") and len(result.err.splitlines()) == 1
    assert stack_or_none(cfn, name) is None  # no empty REVIEW_IN_PROGRESS stack


@pytest.mark.parametrize("existing", [False, True], ids=["create", "update"])
def test_sigint_as_create_change_set_returns_leaves_nothing(project, cfn, hooks, existing):
    """Ctrl-C in the narrowest window: CloudFormation has made the change set (and, for a new stack,
    its REVIEW_IN_PROGRESS stack) but the tool has not yet got the answer."""
    name = _base(project)
    if existing:
        assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
        project.params("dev", "base", {"TopicSuffix": "audit"})
    hooks.append(("after-call.cloudformation.CreateChangeSet", lambda **kw: os.kill(os.getpid(), signal.SIGINT)))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 130, result
    assert result.err.startswith("error: interrupted before execution: nothing was executed (") and \
        len(result.err.splitlines()) == 1, result.err
    if existing:
        assert _available(cfn, name) == [] and _params(cfn, name)["TopicSuffix"] == "events"
    else:
        assert result.err.rstrip().endswith(f"the empty stack {name} it left deleted)"), result.err
        assert stack_or_none(cfn, name) is None


def test_ctrl_c_at_the_prompt_deletes_the_change_set(project, cfn):
    name = _base(project)
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    project.params("dev", "base", {"TopicSuffix": "audit"})

    class CtrlC(io.StringIO):
        def readline(self, *args):  # the user presses Ctrl-C while the prompt waits: a real SIGINT
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(30)  # interrupted by the signal's KeyboardInterrupt
            raise AssertionError("SIGINT did not interrupt the prompt")

    project.monkeypatch.setattr("sys.stdin", CtrlC())
    args = cli.build_parser().parse_args(["deploy", "--env", "dev", "--stack", "base", "--endpoint-url",
                                          project.endpoint_url, "--poll-seconds", "0.5"])
    project.capsys.readouterr()
    code = main.run(args)
    err = project.capsys.readouterr().err
    assert code == 130
    assert err.startswith("error: interrupted before execution: nothing was executed (change set ") and \
        err.rstrip().endswith(" deleted)")
    assert _available(cfn, name) == []
    assert _params(cfn, name)["TopicSuffix"] == "events"


def test_failing_describe_change_set_deletes_it_and_the_empty_stack(project, cfn, hooks):
    name = _base(project)
    hooks.append(("before-call.cloudformation.DescribeChangeSet",
                  lambda **kw: _error("AccessDenied", "not authorized to perform DescribeChangeSet", 403)))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 1
    assert result.err.startswith("error: DescribeChangeSet failed: AccessDenied: not authorized to perform "
                                 "DescribeChangeSet (the caller lacks this permission) (change set cfn-delivery-")
    assert len(result.err.splitlines()) == 1
    assert stack_or_none(cfn, name) is None


def test_refused_execute_change_set_deletes_it(project, cfn, hooks):
    name = _base(project)
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    project.params("dev", "base", {"TopicSuffix": "audit"})
    hooks.append(("before-call.cloudformation.ExecuteChangeSet",
                  lambda **kw: _error("AccessDenied", "not authorized to perform ExecuteChangeSet", 403)))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 1
    assert result.err.startswith("error: ExecuteChangeSet failed: AccessDenied: ")
    assert result.err.rstrip().endswith(" deleted)") and "outcome unknown" not in result.err
    assert _available(cfn, name) == []
    assert _params(cfn, name)["TopicSuffix"] == "events"


# -- concurrent deploys ----------------------------------------------------------------------------

def test_two_concurrent_deploys_of_one_stack_never_both_succeed(project, cfn, monkeypatch):
    name = _base(project)
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 0
    for key, value in __import__("tests.localstack_server", fromlist=["aws_env"]).aws_env(project.endpoint_url).items():
        if key.startswith("AWS_") or "proxy" in key.lower():
            monkeypatch.setenv(key, value)
    both_created = threading.Barrier(2, timeout=120)
    first_done = threading.Event()
    original_confirm = main.Deployer.confirm

    def confirm(self, p, cs_name):  # both change sets exist; "alerts" executes first, "audit" after it ended
        both_created.wait()
        if self.args.tag == "audit":
            first_done.wait(120)
        return original_confirm(self, p, cs_name)

    monkeypatch.setattr(main.Deployer, "confirm", confirm)
    codes = {}

    def deploy(suffix):
        # each deploy reads its own parameter value: the plan is built from a patched build()
        args = cli.build_parser().parse_args(["deploy", "--env", "dev", "--stack", "base", "--yes", "--endpoint-url",
                                              project.endpoint_url, "--poll-seconds", "0.5"])
        args.tag = suffix
        try:
            codes[suffix] = main.run(args, stdin=io.StringIO(""))
        finally:
            if suffix == "alerts":
                first_done.set()

    from generator.deploy import plan as planning

    original_build = planning.build
    per_thread = threading.local()

    def build(env, cls):
        p = original_build(env, cls)
        p.params.parameters = dict(p.params.parameters, TopicSuffix=per_thread.suffix)
        return p

    monkeypatch.setattr(planning, "build", build)

    def run(suffix):
        per_thread.suffix = suffix
        deploy(suffix)

    threads = [threading.Thread(target=run, args=(s,)) for s in ("alerts", "audit")]
    project.capsys.readouterr()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    err = project.capsys.readouterr().err
    assert codes == {"alerts": 0, "audit": 1}, (codes, err)
    assert f"error: stack {name} changed under this deploy: another deployment changed it after this change set " \
           f"was created" in err
    assert "nothing was executed by this run" in err and " deleted)" in err
    assert _params(cfn, name)["TopicSuffix"] == "alerts"
    assert _available(cfn, name) == []


# -- outcome unknown -------------------------------------------------------------------------------

def test_throttled_past_retries_while_following_is_outcome_unknown_and_watch_resumes(project, cfn, hooks):
    name = _base(project)
    executed = []
    hooks.append(("after-call.cloudformation.ExecuteChangeSet", lambda **kw: executed.append(1)))
    hooks.append(("before-call.cloudformation.DescribeStackEvents",
                  lambda **kw: _error("Throttling", "Rate exceeded") if executed else None))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 4, result
    assert result.err == (
        f"error: outcome unknown for {name}: contact was lost while following it (DescribeStackEvents failed: "
        f"Throttling: Rate exceeded (retries exhausted; try again later)); the operation continues in "
        f"CloudFormation; resume with `cfn-delivery deploy --env dev --stack base --watch`\n")
    assert "failed:" not in result.out
    hooks.clear()
    result = project.run("--env", "dev", "--stack", "base", "--watch")
    assert result.code == 0, result.err
    assert f"{name}: CREATE_COMPLETE" in result.out


def test_connection_lost_after_execute_reached_the_server_is_outcome_unknown(project, cfn, hooks):
    name = _base(project)

    def lost(**kwargs):
        raise ConnectionClosedError(endpoint_url=project.endpoint_url)

    hooks.append(("after-call.cloudformation.ExecuteChangeSet", lost))
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 4, result
    assert result.err.startswith(f"error: outcome unknown for {name}: ExecuteChangeSet got no answer (Connection was "
                                 f"closed before we received a valid response from endpoint URL")
    assert "the operation continues in CloudFormation; resume with `cfn-delivery deploy --env dev --stack base " \
           "--watch`" in result.err
    result = project.run("--env", "dev", "--stack", "base", "--watch")
    assert result.code == 0 and f"{name}: CREATE_COMPLETE" in result.out


def test_watch_after_a_failure_prints_its_cause(project, cfn):
    project.add_stack("base")
    project.template("base", _failing_template())
    project.params("dev", "base")
    assert project.run("--env", "dev", "--stack", "base", "--yes").code == 1
    result = project.run("--env", "dev", "--stack", "base", "--watch")
    assert result.code == 1
    cause = next(line for line in result.err.splitlines() if line.strip().startswith("Param "))
    assert "(AWS::SSM::Parameter) CREATE_FAILED:" in cause
    assert "CREATE_IN_PROGRESS" in result.out  # the operation's events from its start


def test_watch_applies_protection_when_the_stack_settles(project, cfn, policies, monkeypatch):
    project.environment("prod", Protected=True)
    name = _base(project, "prod")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(watch, "follow", interrupted)
        assert project.run("--env", "prod", "--stack", "base", "--yes").code == 130
    assert cfn.describe_stacks(StackName=name)["Stacks"][0].get("EnableTerminationProtection") is not True
    assert policies == []
    result = project.run("--env", "prod", "--stack", "base", "--watch")
    assert result.code == 0, result.err
    assert "protection repaired: termination protection was off; enabled it" in result.out
    assert "protection repaired: the stack policy was missing; set it" in result.out
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["EnableTerminationProtection"] is True
    assert [n for n, _ in policies] == [name]


# -- export in use ---------------------------------------------------------------------------------

def _importing_pair(project, cfn):
    project.add_stack("base")
    project.add_stack("app", requires=("base",))
    project.template("base", topic_template())
    app = topic_template(outputs=None)
    app["Resources"]["Topic"]["Properties"]["TopicName"] = {"Fn::Sub": "${ProjectName}-${EnvironmentName}-app"}
    app["Resources"]["Link"] = {"Type": "AWS::SSM::Parameter", "Properties": {
        "Type": "String", "Value": {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-base-TopicArn"}}}}
    app["Outputs"] = {}
    project.template("app", app)
    project.params("dev", "base")
    project.params("dev", "app")
    assert project.run("--env", "dev", "--all", "--yes").code == 0
    return project.stack_name("dev", "base"), project.stack_name("dev", "app"), f"{project.name}-dev-base-TopicArn"


def _list_imports(export, importer, asked):
    def handler(params, **kwargs):
        name = params["body"]["ExportName"]
        asked.append(name)
        if name == export:
            return answer({"Imports": [importer]})
        return _error("ValidationError", f"Export '{name}' is not imported by any stack.")
    return handler


def test_removing_an_export_another_stack_imports_is_refused_before_any_change_set(project, cfn, hooks):
    base, app, export = _importing_pair(project, cfn)
    asked = []
    hooks.append(("before-call.cloudformation.ListImports", _list_imports(export, app, asked)))
    before = change_set_names(cfn, base)
    template = topic_template()
    template["Outputs"] = {}
    project.template("base", template)
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2, result
    assert result.err == (
        f"error: export-in-use: export '{export}' (output TopicArn) removed but {app} imports it; CloudFormation "
        f"refuses to change an export another stack imports (the update would fail and roll back); nothing was "
        f"executed; deploy the importing stacks without that Fn::ImportValue first, or keep the export and its "
        f"value in templates/base.yaml\n")
    assert asked == [export]
    assert change_set_names(cfn, base) == before  # no change set was created
    assert cfn.describe_stacks(StackName=base)["Stacks"][0]["Outputs"][0]["ExportName"] == export


def test_renamed_export_in_use_is_refused_and_an_unused_one_goes_through(project, cfn, hooks):
    base, app, export = _importing_pair(project, cfn)
    asked = []
    hooks.append(("before-call.cloudformation.ListImports", _list_imports(export, app, asked)))
    template = topic_template()
    template["Outputs"]["TopicArn"]["Export"]["Name"] = {"Fn::Sub": "${ProjectName}-${EnvironmentName}-base-Topic"}
    project.template("base", template)
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2
    assert f"export '{export}' (output TopicArn) renamed to '{project.name}-dev-base-Topic' but {app} imports it" \
        in result.err
    hooks[:] = [("before-call.cloudformation.ListImports", _list_imports("nobody-imports-this", app, asked))]
    result = project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 0, result.err  # "not imported by any stack": the rename goes through


def test_changed_exports_unit():
    stack = {"StackName": "s", "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1",
             "Outputs": [{"OutputKey": "A", "ExportName": "s-A"}, {"OutputKey": "B", "ExportName": "p-B"},
                         {"OutputKey": "C", "ExportName": "C"}, {"OutputKey": "D", "ExportName": "D"}]}
    old = {"Parameters": {"P": {"Type": "String"}}, "Outputs": {
        "A": {"Value": {"Ref": "X"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-A"}}},
        "B": {"Value": "1", "Export": {"Name": {"Fn::Join": ["-", [{"Ref": "P"}, "B"]]}}},
        "C": {"Value": {"Fn::Sub": "${P}-c"}, "Export": {"Name": "C"}},
        "D": {"Value": "d", "Export": {"Name": "D"}}}}
    new = json.loads(json.dumps(old))
    del new["Outputs"]["A"]
    new["Outputs"]["B"]["Export"]["Name"] = "other-B"
    changes = exports.changed_exports(stack, old, {"P": "p"}, new, {"P": "q"})
    assert [(c.name, c.what) for c in changes] == [("s-A", "removed"), ("p-B", "renamed to 'other-B'"),
                                                  ("C", "value changes")]
    assert exports.value_resources({"Fn::Sub": "${Bucket.Arn}/${AWS::Region}"}) == {"Bucket"}
    assert exports.value_resources({"Fn::GetAtt": ["Key", "Arn"]}) == {"Key"}


# -- bad input and a wrong endpoint ------------------------------------------------------------------

@pytest.mark.parametrize("which, write, expected", [
    ("template", lambda root: (root / "templates" / "base.yaml").write_bytes(b"Resources:\n  T: \xff\xfe\n"),
     "templates/base.yaml: not UTF-8 text (byte 0xff at offset 16); save it as UTF-8"),
    ("params", lambda root: (root / "params" / "dev" / "base.json").write_bytes(b'{"Parameters": "\xe9"}'),
     "params/dev/base.json: not UTF-8 text (byte 0xe9 at offset 16); save it as UTF-8"),
    ("directory", lambda root: ((root / "params" / "dev" / "base.json").unlink(),
                                (root / "params" / "dev" / "base.json").mkdir()),
     "params/dev/base.json: is a directory, not a file; fix the file"),
    ("missing template", lambda root: (root / "templates" / "base.yaml").unlink(),
     "templates/base.yaml: template not found; run `make templates`"),
    ("missing params", lambda root: (root / "params" / "dev" / "base.json").unlink(),
     'params/dev/base.json: file not found; create it with {"Parameters": {...}, "Tags": {...}}'),
    # the environments' settings live in the model (delivery.yaml), the former environment file
    ("model", lambda root: (root / "delivery.yaml").write_bytes(b"project:\n  name: \xff\n"),
     "delivery.yaml: not UTF-8 text (byte 0xff at offset 17); save it as UTF-8"),
    ("model directory", lambda root: ((root / "delivery.yaml").unlink(), (root / "delivery.yaml").mkdir()),
     "delivery.yaml: is a directory, not a model file; pass --model PATH to the YAML file"),
    ("missing model", lambda root: (root / "delivery.yaml").unlink(),
     "delivery.yaml: no model file; create delivery.yaml at the project root (see docs/model.md) or pass "
     "--model PATH"),
])
def test_unreadable_files_are_one_line_exit_2(offline_project, which, write, expected):
    _base(offline_project)
    write(offline_project.root)
    result = offline_project.run("--env", "dev", "--stack", "base", "--yes")
    assert result.code == 2, result
    assert len(result.err.splitlines()) == 1 and result.err.rstrip().endswith(expected), result.err


def _unreadable(monkeypatch, path):
    """``path`` cannot be read: its mode where that stops the user, a PermissionError where it does
    not (root reads files whatever their mode)."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    import pathlib

    for method in ("read_bytes", "read_text"):
        original = getattr(pathlib.Path, method)

        def denied(self, *args, _original=original, **kwargs):
            if self.resolve() == path.resolve():
                raise PermissionError(13, "Permission denied", str(self))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(pathlib.Path, method, denied)


@pytest.mark.parametrize("relative, expected", [
    ("params/dev/base.json", "params/dev/base.json: cannot be read (Permission denied)"),
    ("templates/base.yaml", "templates/base.yaml: cannot be read (Permission denied)"),
    ("delivery.yaml", "delivery.yaml: cannot read the model (Permission denied); check its permissions"),
])
def test_unreadable_permission_is_one_line_exit_2(offline_project, monkeypatch, relative, expected):
    _base(offline_project)
    path = offline_project.root / relative
    _unreadable(monkeypatch, path)
    try:
        result = offline_project.run("--env", "dev", "--stack", "base", "--yes")
    finally:
        path.chmod(0o600)
    assert result.code == 2 and len(result.err.splitlines()) == 1 and expected in result.err, result.err


def test_an_endpoint_that_is_not_aws_is_one_line(offline_project):
    class Html(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = b"<html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _base(offline_project)
        result = offline_project.run("--env", "dev", "--stack", "base", "--yes",
                                     endpoint_url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert result.code == 1, result
    assert len(result.err.splitlines()) == 1 and "Traceback" not in result.err
    assert result.err == ("error: the endpoint did not answer like AWS (DescribeStacks got HTTP 200 with an HTML page "
                          "(text/html), not an AWS response); check --endpoint-url, AWS_ENDPOINT_URL and proxy "
                          "settings\n")
