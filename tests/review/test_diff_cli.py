"""`cfn-delivery diff` and `params diff` on the command line: exit codes (--fail-on, usage
errors), the Markdown summary table, colour rules, the git base, parameter differences."""
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from generator import cli, render, registry, yamlio
from generator.review import formats
from generator.review.diff import diff_templates
from tests.helpers import ROOT, copy_model

CASES = ROOT / "tests" / "fixtures" / "diff"


def run(*args, cwd=ROOT, env=None):
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, env=full_env)


def case(name):
    return str(CASES / name / "before.yaml"), str(CASES / name / "after.yaml")


# -- --fail-on --------------------------------------------------------------------

@pytest.mark.parametrize("name,fail_on,code", [
    ("bucket-renamed", "data-loss", 3),
    ("bucket-renamed", "iam-broadening,output", 0),
    ("sg-open-world", "data-loss,network-exposure", 3),
    ("sg-open-world", "iam-broadening", 0),  # the world is network-exposure, not IAM
    ("role-loses-action", "iam-broadening", 0),
    ("role-loses-action", "iam-narrowing", 3),
    ("export-removed", "output", 3),
    ("yaml-reordered", "data-loss,iam-broadening,iam-narrowing,parameter,output,rename", 0),
    ("logical-id-renamed", "rename", 3),
])
def test_fail_on_exit_codes(name, fail_on, code, capsys):
    assert cli.main(["diff", *case(name), "--fail-on", fail_on, "--format", "json"]) == code
    err = capsys.readouterr().err
    assert (err.startswith("--fail-on: found ") if code == 3 else err == "")


def test_unknown_flag_is_a_usage_error(capsys):
    assert cli.main(["diff", *case("bucket-renamed"), "--fail-on", "data-loss,dataloss"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: unknown risk flag 'dataloss' in --fail-on; use a comma-separated list of: "
                   "data-loss, iam-broadening, iam-narrowing, network-exposure, retention-reduced, "
                   "parameter, output, export-in-use, rename")


@pytest.mark.parametrize("args,message", [
    (["--base", "HEAD", "--env", "dev"], "--base compares with git, --env with a deployed stack: choose one"),
    (["--env", "qa"], "unknown environment 'qa'"),
    (["--stack", "nosuch"], "unknown stack 'nosuch'"),
    (["--base", "no-such-rev-xyz"], "unknown git revision 'no-such-rev-xyz'"),
    (["--region", "eu-west-1"], "--region applies to a deployed stack: add --env ENV"),
    (["--parameters", "p.json"], "--parameters applies to two template files; with --env the parameter files of "
                                 "params/<env>/ are used"),
    (["only-one.yaml"], "give two template files"),
])
def test_usage_errors_exit_2_with_one_line(args, message, capsys):
    assert cli.main(["diff", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_missing_file_is_a_usage_error(capsys):
    assert cli.main(["diff", "nope.yaml", case("log-retention")[1]]) == 2
    assert capsys.readouterr().err == "error: nope.yaml: file not found\n"


# -- formats ------------------------------------------------------------------------

def _diffs(*names):
    out = []
    for name in names:
        before, after = case(name)
        out.append(diff_templates(name, yamlio.load_file(before), yamlio.load_file(after)))
    return out


def test_markdown_has_a_summary_table_then_details():
    text = formats.as_markdown(_diffs("bucket-renamed", "role-gains-action", "export-removed", "yaml-reordered"), "HEAD", "working tree")
    lines = text.splitlines()
    start = lines.index("| Stack | Change | Resource | Type | Replacement | Risks |")
    assert lines[start + 1] == "|---|---|---|---|---|---|"
    rows = lines[start + 2:lines.index("", start)]
    assert rows == [
        "| bucket-renamed | modify | `DataBucket` | `AWS::S3::Bucket` | **yes** | **data-loss** |",
        "| role-gains-action | modify | `ReaderRole` | `AWS::IAM::Role` | no | **iam-broadening** |",
        "| export-removed | remove | output `TopicArn` |  |  | **output** |",
    ]
    assert lines[0] == "### Template changes: `HEAD` → `working tree`"
    assert lines.index("<details><summary>Details</summary>") > start
    assert "  - `BucketName`: `!Sub '${ProjectName}-data-${AWS::AccountId}'` → `!Sub '${ProjectName}-datasets-${AWS::AccountId}'`" in lines
    assert ("3 resource changes" not in text) and "2 resource changes (0 added, 2 modified, 0 removed), 1 replacement" in text


def test_markdown_without_changes_says_so():
    assert "No changes in 1 stack." in formats.as_markdown(_diffs("yaml-reordered"), "HEAD", "working tree")


def test_markdown_escapes_pipes_in_cells():
    diffs = [diff_templates("s", {"Resources": {}}, {"Resources": {"A|B": {"Type": "AWS::SNS::Topic"}}})]
    assert "| s | add | `A\\|B` | `AWS::SNS::Topic` | no |  |" in formats.as_markdown(diffs, "a", "b")


def test_text_shows_replacement_values_and_summary():
    text = formats.as_text(_diffs("bucket-renamed"), "before", "after")
    assert "  ~ DataBucket  AWS::S3::Bucket  modify  REPLACE  [data-loss]" in text
    assert "      BucketName: !Sub '${ProjectName}-data-${AWS::AccountId}' -> !Sub '${ProjectName}-datasets-${AWS::AccountId}'" in text
    assert "\033[" not in text
    assert "\033[1;31mREPLACE\033[0m" in formats.as_text(_diffs("bucket-renamed"), "before", "after", colour=True)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_colour_only_on_a_tty_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert formats.use_colour(_Tty()) is True
    assert formats.use_colour(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert formats.use_colour(_Tty()) is False


def test_long_values_are_shortened():
    long = "x" * 500
    diffs = [diff_templates("s", {"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": long}}}},
                            {"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "y"}}}})]
    line = next(l for l in formats.as_text(diffs, "a", "b").splitlines() if "DisplayName" in l)
    assert "…" in line and len(line) < 140
    assert json.loads(formats.as_json(diffs, "a", "b"))["resources"][0]["values"][0]["old"] == long


# -- git base ------------------------------------------------------------------------

def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    """A git repository whose committed templates/ are the current render with edits."""
    (tmp_path / "templates").mkdir()
    copy_model(tmp_path)
    shutil.copytree(ROOT / "params", tmp_path / "params")
    for stack_cls in registry.stacks():
        (tmp_path / "templates" / f"{stack_cls.name}.yaml").write_text(render.render(stack_cls))
    foundation = yamlio.load_file(tmp_path / "templates" / "foundation.yaml")
    foundation["Resources"]["NotificationsTopic"]["Properties"]["DisplayName"] = "Old name"
    foundation["Resources"]["AuditLogGroup"]["Properties"]["LogGroupName"] = {"Fn::Sub": "${ProjectName}-${EnvironmentName}-old-audit"}
    (tmp_path / "templates" / "foundation.yaml").write_text(yamlio.dump(foundation))
    (tmp_path / "templates" / "retired.yaml").write_text(yamlio.dump(
        {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
         "Outputs": {"Url": {"Value": {"Ref": "Queue"}, "Export": {"Name": "retired-Url"}}}}))
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def test_diff_against_git_revision(repo):
    result = run("diff", "--format", "json", env={"CFN_DELIVERY_ROOT": str(repo)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["target"] == "working tree" and data["base"].startswith("HEAD (")
    by_stack = {s["stack"]: s["status"] for s in data["stacks"]}
    assert by_stack["foundation"] == "modified" and by_stack["retired"] == "removed"
    assert set(by_stack) == set(registry.names()) | {"retired"}
    got = [(r["stack"], r["logical_id"], r["change"], r["replacement"], r["properties"], r["risks"])
           for r in data["resources"] if r["stack"] in ("foundation", "retired")]
    assert got == [
        ("foundation", "NotificationsTopic", "modify", False, ["DisplayName"], []),
        ("foundation", "AuditLogGroup", "modify", True, ["LogGroupName"], ["data-loss"]),
        ("retired", "Queue", "remove", False, [], ["data-loss"]),
    ]
    assert [(o["stack"], o["name"], o["risks"]) for o in data["outputs"]] == [("retired", "Url", ["output"])]
    gate = run("diff", "--stack", "foundation", "--fail-on", "data-loss", env={"CFN_DELIVERY_ROOT": str(repo)})
    assert gate.returncode == 3 and "REPLACE" in gate.stdout and "retired" not in gate.stdout


def test_diff_outside_git_is_a_usage_error(tmp_path):
    result = run("diff", env={"CFN_DELIVERY_ROOT": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("is not a git checkout; use --env/--stack to compare with a deployed stack")


# -- params diff --------------------------------------------------------------------

def test_params_diff_shows_only_differing_values(tmp_path):
    copy_model(tmp_path)
    shutil.copytree(ROOT / "params", tmp_path / "params")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    for env, retention, email in (("staging", "30", "ops@example.com"), ("prod", "365", "ops@example.com")):
        path = tmp_path / "params" / env / "foundation.json"
        data = json.loads(path.read_text())
        data["Parameters"].update(LogRetentionDays=retention, NotificationEmail=email, CostCenter="same")
        data["Parameters"].pop("AccessLogRetentionDays", None)
        data["Tags"] = {"Owner": "team"}
        path.write_text(json.dumps(data))
    result = run("params", "diff", "staging", "prod", "--stack", "foundation", "--format", "json",
                 env={"CFN_DELIVERY_ROOT": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stacks"] == [{"stack": "foundation", "only_in": None, "differences": [
        {"name": "EnvironmentName", "a": "staging", "b": "prod"},
        {"name": "LogRetentionDays", "a": "30", "b": "365"},
    ]}]
    text = run("params", "diff", "staging", "prod", "--stack", "foundation", env={"CFN_DELIVERY_ROOT": str(tmp_path)}).stdout
    assert text.splitlines()[0] == "Parameter values that differ: staging vs prod"
    assert any(line.split() == ["LogRetentionDays", "30", "365"] for line in text.splitlines())


def test_params_diff_unknown_environment():
    result = run("params", "diff", "staging", "qa")
    assert result.returncode == 2 and result.stderr.startswith("error: unknown environment 'qa'")
