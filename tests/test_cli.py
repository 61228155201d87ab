"""The command line: help, unknown stack or environment, params validation exit codes."""
import argparse
import json
import shutil
import subprocess
import sys

import pytest

from generator import cli
from tests.helpers import ROOT, copy_model


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "generator.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_help_lists_subcommands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("templates", "params", "stacks"):
        assert command in result.stdout


def test_unknown_stack_is_a_clear_error(capsys):
    assert cli.main(["templates", "--stack", "nosuch", "--out", "/nonexistent/never"]) == 2
    err = capsys.readouterr().err
    from generator import registry

    assert err.strip() == "error: unknown stack 'nosuch'; known stacks: " + ", ".join(registry.names())


def test_unknown_environment_is_a_clear_error():
    result = run("params", "validate", "--env", "qa")
    assert result.returncode == 2
    assert "error: unknown environment 'qa'" in result.stderr
    # environments are declared in the model, never by creating a folder
    assert "not under environments in delivery.yaml" in result.stderr and "add it there" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_environment_name():
    result = run("stacks", "--env", "Prod!")
    assert result.returncode == 2 and "invalid environment name 'Prod!'" in result.stderr


def test_params_validate_passes_on_committed_files():
    result = run("params", "validate")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def project_copy(tmp_path):
    copy_model(tmp_path)
    shutil.copytree(ROOT / "params", tmp_path / "params")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path


def test_params_validate_reports_bad_file_with_exit_2(project_copy):
    path = project_copy / "params" / "dev" / "foundation.json"
    data = json.loads(path.read_text())
    data["Parameters"]["LogRetentionDays"] = "45"
    path.write_text(json.dumps(data))
    result = run("params", "validate", "--env", "dev", cwd=project_copy)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "params/dev/foundation.json: Parameters.LogRetentionDays: '45' is not an allowed value; use one of: "
        "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653")


def test_templates_writes_and_reports_sizes(tmp_path):
    result = run("templates", "--out", str(tmp_path))
    assert result.returncode == 0
    assert "foundation.yaml" in result.stdout and "bytes" in result.stdout
    assert (tmp_path / "foundation.yaml").exists()
    again = run("templates", "--out", str(tmp_path))
    assert "unchanged" in again.stdout


def _commands(parser) -> set:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_plugin_table_names_every_command_its_module_registers():
    """cli.PLUGINS says which module adds which command; a wrong entry would hide a command
    from a parser built for that command line."""
    everything = _commands(cli.build_parser())
    listed = {c for commands, _ in cli.PLUGINS.values() for c in commands} - {"params"}
    assert everything == set(cli.CORE_COMMANDS) | listed
    for module, (commands, _) in cli.PLUGINS.items():
        for command in commands:
            assert command in _commands(cli.build_parser([command]))
    params = cli.build_parser(["params"])
    full = cli.build_parser()
    actions = lambda p: set(next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))  # noqa: E731
                            .choices["params"]._subparsers._group_actions[0].choices)
    assert actions(params) == actions(full)


def test_templates_and_stacks_load_no_aws_or_plugin_code():
    probe = ("import sys; from generator import cli; cli.build_parser(['--debug', '{}']); "
             "loaded = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'cfnlint') "
             "or m.startswith(('generator.deploy', 'generator.review', 'generator.integ', 'generator.lint'))]; "
             "print(loaded)")
    for command in ("templates", "stacks"):
        result = subprocess.run([sys.executable, "-c", probe.format(command)], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]", f"{command}: {result.stdout}"


def test_unknown_command_still_lists_every_command():
    result = run("nosuch")
    assert result.returncode == 2
    for command in ("templates", "deploy", "diff", "diagram", "integ", "platforms"):
        assert f"'{command}'" in result.stderr


def test_only_the_console_entry_point_skips_the_final_collection(tmp_path, capsys):
    """``main()`` as the process's entry point freezes what is alive for the exit (issue 12); an
    in-process caller (argv given) keeps its collector as it was."""
    import gc

    before = gc.get_freeze_count()
    assert cli.main(["templates", "--out", str(tmp_path)]) == 0
    assert gc.get_freeze_count() == before
    code = ("import gc, sys; from generator import cli; sys.argv = ['cfn-delivery', 'stacks']; cli.main(); "
            "print(gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "True"
