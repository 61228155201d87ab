"""`cfn-delivery diff BEFORE AFTER` on input it cannot diff: one line, exit 2, never a traceback.

Fixtures in tests/fixtures/diff-invalid/: each file is malformed in one way; base.yaml is valid.
"""
import os
import subprocess
import sys

import pytest

from generator import cli
from tests.helpers import ROOT

INVALID = ROOT / "tests" / "fixtures" / "diff-invalid"

EXPECTED = {
    "resources-list.yaml": "Resources must be a mapping of names to declarations, not a list",
    "resource-number.yaml": "Resources.Topic must be a mapping of attributes (Type, Properties, ...), not a number (5)",
    "type-number.yaml": "Resources.Topic.Type must be a string, not a number (5)",
    "properties-list.yaml": "Resources.Topic.Properties must be a mapping, not a list",
    "top-level-list.yaml": "not a CloudFormation template: the top level is a list, expected a mapping with Resources",
    "empty.yaml": "not a CloudFormation template: the top level is empty, expected a mapping with Resources",
    "parameters-number.yaml": "Parameters must be a mapping of names to declarations, not a number (3)",
    "section-typo.yaml": "unknown top-level section 'Resource'; CloudFormation allows: AWSTemplateFormatVersion, "
                         "Description, Metadata, Parameters, Rules, Mappings, Conditions, Transform, Resources, "
                         "Outputs, Hooks",
    "sub-bad.yaml": "Resources.Logs.Properties.LogGroupName: Fn::Sub takes a string or [string, {Name: value}], "
                    "not a list",
    "export-number.yaml": "Outputs.Arn.Export must be a mapping with Name, not a number (3)",
    "not-utf8.yaml": "not UTF-8 (byte 0xff at offset 75); CloudFormation templates are UTF-8: re-save the file as UTF-8",
    "foreach-serverless.yaml": "Transform AWS::LanguageExtensions, AWS::Serverless-2016-10-31 with Fn::ForEach at "
                               "Resources.Fn::ForEach::Topics: CloudFormation expands this template before deploying "
                               "it, and diff expands only AWS::LanguageExtensions on its own; diff the expanded "
                               "template instead (for a deployed stack: aws cloudformation get-template "
                               "--template-stage Processed)",
    "foreach-no-transform.yaml": "Resources.Fn::ForEach::Topics: Fn::ForEach needs 'Transform: "
                                 "AWS::LanguageExtensions' (CloudFormation rejects the template without it); add the "
                                 "transform",
    "foreach-unknown-collection.yaml": "Resources.Fn::ForEach::Topics: the collection is parameter Names, whose value "
                                       "is not known here (no Default); give it with --parameters, or diff against "
                                       "the deployed stack (--env)",
    "foreach-same-key.yaml": "Resources.Fn::ForEach::Topics: gives 'Topic' twice; the output key must contain ${Name} "
                             "or &{Name}",
    "foreach-bad-shape.yaml": "Resources.Fn::ForEach::Topics: Fn::ForEach takes [Identifier, Collection, "
                              "{OutputKey: OutputValue}]",
}


def test_every_fixture_has_an_expectation():
    assert {p.name for p in INVALID.iterdir()} == set(EXPECTED) | {"base.yaml"}


@pytest.fixture
def in_fixtures(monkeypatch):
    monkeypatch.chdir(INVALID)  # file names in messages are as given on the command line


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("side", ["before", "after"])
def test_invalid_template_is_one_line_exit_2(name, side, in_fixtures, capsys):
    files = [name, "base.yaml"] if side == "before" else ["base.yaml", name]
    for fmt in ("text", "json"):
        assert cli.main(["diff", *files, "--format", fmt]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"error: {name}: {EXPECTED[name]}\n"


@pytest.mark.parametrize("path,message", [
    ("missing.yaml", "missing.yaml: file not found"),
    (".", ".: is a directory, not a template file"),
])
def test_unreadable_path_is_one_line_exit_2(path, message, in_fixtures, capsys):
    assert cli.main(["diff", "base.yaml", path]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_on_the_command_line_no_traceback():
    """The installed entry point, in a fresh process: stderr is exactly one line."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    for name in ("resources-list.yaml", "foreach-serverless.yaml", "not-utf8.yaml"):
        result = subprocess.run([sys.executable, "-m", "generator.cli", "diff", "base.yaml", name], cwd=INVALID,
                                capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"error: {name}: {EXPECTED[name]}\n"
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_shape_the_checks_miss_is_still_one_line(in_fixtures, capsys, monkeypatch):
    """The last line of defence: anything unexpected inside the diff engine is one line, exit 2."""
    from generator.review import cli as review_cli

    def broken(*args, **kwargs):
        raise TypeError("'int' object is not iterable")

    monkeypatch.setattr(review_cli, "diff_templates", broken)
    assert cli.main(["diff", "base.yaml", "base.yaml"]) == 2
    assert capsys.readouterr().err == (
        "error: cannot diff these templates (TypeError: 'int' object is not iterable); check that both are valid "
        "CloudFormation templates (rerun with --debug for the traceback)\n")
    with pytest.raises(TypeError):
        cli.main(["--debug", "diff", "base.yaml", "base.yaml"])


@pytest.mark.parametrize("flags,named", [
    (["--stack", "foundation"], "--stack"),
    (["--env", "dev"], "--env"),
    (["--env", "dev", "--stack", "foundation"], "--env, --stack"),
    (["--base", "HEAD"], "--base"),
    (["--stack-name", "x-dev-foundation"], "--stack-name"),
    (["--region", "eu-west-1"], "--region"),
])
def test_two_file_mode_rejects_stack_selection(flags, named, in_fixtures, capsys):
    for files in (["base.yaml", "base.yaml"], ["base.yaml"]):
        assert cli.main(["diff", *files, *flags]) == 2
        assert capsys.readouterr().err == (
            f"error: {named} cannot be combined with template files: two files are compared as given "
            f"(name the stack with --name); drop the files to compare stacks\n")


def test_two_file_mode_needs_exactly_two(in_fixtures, capsys):
    assert cli.main(["diff", "base.yaml", "base.yaml", "base.yaml"]) == 2
    assert capsys.readouterr().err == "error: give two template files (BEFORE AFTER), got 3\n"
