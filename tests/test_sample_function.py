"""The Lambda sample (examples/sample-function) and the function buildspecs, run locally the way the
Beanstalk sample's are (tests/test_buildspecs.py): its unit tests under node, the ECMAScript edition
check that holds it to Node.js 14's syntax (ES2020; a newer-syntax fixture must fail it), the package
the build makes, and the smoke test of a deployed alias against a stand-in ``aws``."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_buildspecs import AFTER_INSTALL, declared_files, junit_totals, load, report_files, run_buildspec

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-function"
CHECKER = ROOT / "buildspecs" / "es_syntax.py"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed: the sample's tests run under node")
needs_parser = pytest.mark.skipif(importlib.util.find_spec("esprima") is None,
                                  reason="esprima-fork (setup.py test extra, Python 3.11+) is not installed")
NODE14_EDITION = "2020"

#: Syntax Node.js 14 does not run (ES2021 and later), each of which the check must refuse.
NEWER_SYNTAX = {
    "logical assignment (ES2021)": "let a = null;\na ||= 1;\n",
    "numeric separators (ES2021)": "const million = 1_000_000;\n",
    "class static block (ES2022)": "class A {\n  static { A.ready = true; }\n}\n",
    "private class field (ES2022)": "class A {\n  #secret = 1;\n}\n",
    "hashbang (ES2023)": "#!/usr/bin/env node\nmodule.exports = 1;\n",
}
#: ES2020 syntax Node.js 14 runs, which the check must accept.
NODE14_SYNTAX = {
    "optional chaining and nullish coalescing": "const v = (o) => o?.a?.b ?? 'none';\n",
    "BigInt literal": "const big = 10n;\n",
    "optional catch binding": "try { JSON.parse('x'); } catch { }\n",
    "async iteration and object spread": "async function f(xs) { for await (const x of xs) { ({ ...x }); } }\n",
}


@pytest.fixture
def source(tmp_path):
    """The function's folder as CodeBuild unpacks the source archive."""
    src = tmp_path / "src"
    shutil.copytree(SAMPLE, src, ignore=shutil.ignore_patterns("node_modules", "dist", "reports"))
    return src


def checker():
    spec = importlib.util.spec_from_file_location("es_syntax", CHECKER)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def run_check(folder: Path, report: Path, edition=NODE14_EDITION):
    return subprocess.run([sys.executable, str(CHECKER), edition, str(folder), str(report)],
                          capture_output=True, text=True, timeout=120)


# -- the sample's own unit tests --------------------------------------------------------------------
@needs_node
def test_sample_unit_tests_pass_under_node(source, tmp_path):
    report = tmp_path / "junit.xml"
    result = subprocess.run([NODE, "test/run.js"], cwd=source, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, JUNIT_REPORT=str(report)))
    assert result.returncode == 0, result.stdout + result.stderr
    tests, failures = junit_totals(report)
    assert tests >= 5 and failures == 0
    assert f"{tests} passed, 0 failed" in result.stdout


@needs_node
def test_a_failing_sample_test_fails_the_runner(source):
    (source / "test" / "broken.test.js").write_text("test('broken', (assert) => assert.strictEqual(1, 2));\n")
    result = subprocess.run([NODE, "test/run.js"], cwd=source, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "1 failed" in result.stdout


def test_sample_tests_need_nothing_newer_than_node14():
    """node:test and its runner arrived in Node 18: the sample's tests use assert and their own runner."""
    for path in [SAMPLE / "index.js", *sorted((SAMPLE / "test").glob("*.js"))]:
        code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("//"))
        assert "node:test" not in code and "require('node:" not in code, path
    assert json.loads((SAMPLE / "package.json").read_text())["scripts"]["test"] == "node test/run.js"


# -- the ECMAScript edition check -----------------------------------------------------------------
@needs_parser
def test_the_sample_passes_the_node14_syntax_check(tmp_path):
    result = run_check(SAMPLE, tmp_path / "ecmascript.xml")
    assert result.returncode == 0, result.stdout + result.stderr
    tests, failures = junit_totals(tmp_path / "ecmascript.xml")
    assert tests >= 3 and failures == 0


@needs_parser
@pytest.mark.parametrize("feature", sorted(NEWER_SYNTAX))
def test_newer_syntax_fails_the_node14_check(feature, source, tmp_path):
    (source / "newer.js").write_text(NEWER_SYNTAX[feature])
    result = run_check(source, tmp_path / "ecmascript.xml")
    assert result.returncode == 1, result.stdout
    assert "FAIL newer.js" in result.stdout and "ECMAScript 2020" in result.stdout
    assert junit_totals(tmp_path / "ecmascript.xml")[1] == 1


@needs_parser
@pytest.mark.parametrize("feature", sorted(NODE14_SYNTAX))
def test_node14_syntax_passes(feature):
    assert checker().check_text(NODE14_SYNTAX[feature], NODE14_EDITION) is None


@needs_parser
def test_the_edition_is_the_setting_that_decides():
    """The same file passes at ES2021 and fails at ES2020: the parser setting is the check, not the file."""
    module = checker()
    assert module.check_text(NEWER_SYNTAX["logical assignment (ES2021)"], 2021) is None
    assert "2021" in module.check_text(NEWER_SYNTAX["logical assignment (ES2021)"], 2020)


def test_node_modules_are_not_checked(tmp_path):
    (tmp_path / "node_modules" / "dep").mkdir(parents=True)
    (tmp_path / "node_modules" / "dep" / "index.js").write_text("a ||= b;\n")
    (tmp_path / "index.js").write_text("module.exports = 1;\n")
    assert [Path(p).name for p in checker().sources(str(tmp_path))] == ["index.js"]


# -- the buildspecs, run as CodeBuild would after their install phase -------------------------------
@needs_node
@needs_parser
def test_function_test_buildspec_runs_tests_and_the_check_into_one_report(source):
    env = {"JSCHECK_PYTHON": sys.executable, "JSCHECK_SCRIPT": str(CHECKER), "ECMA_VERSION": NODE14_EDITION}
    result = run_buildspec("function-test.yml", source, env=env, phases=AFTER_INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    reports = {p.name: junit_totals(p) for p in report_files(load("function-test.yml"), "junit", source)}
    assert set(reports) == {"junit.xml", "ecmascript.xml"}
    assert all(failures == 0 and tests > 0 for tests, failures in reports.values())


@needs_node
@needs_parser
def test_newer_syntax_fails_the_function_test_buildspec_even_when_unit_tests_pass(source):
    (source / "index.js").write_text((source / "index.js").read_text() + "\nlet cache = null;\ncache ??= {};\n")
    env = {"JSCHECK_PYTHON": sys.executable, "JSCHECK_SCRIPT": str(CHECKER), "ECMA_VERSION": NODE14_EDITION}
    result = run_buildspec("function-test.yml", source, env=env, phases=AFTER_INSTALL)
    assert result.returncode != 0
    assert "FAIL index.js" in result.stdout and "passed, 0 failed" in result.stdout  # both ran


def test_function_build_packages_the_function_without_tests(source):
    result = run_buildspec("function-build.yml", source, phases=AFTER_INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = load("function-build.yml")
    files = {p.relative_to(source / spec["artifacts"]["base-directory"]).as_posix() for p in declared_files(spec, source)}
    assert {"index.js", "package.json", "build-info.json"} <= files
    assert not any(f.startswith(("test/", "events/", "node_modules/")) for f in files), files
    info = json.loads((source / spec["artifacts"]["base-directory"] / "build-info.json").read_text())
    assert info["commit"] == "0123456789abcdef0123456789abcdef01234567"


def test_function_build_refuses_dependencies_without_a_lock(source):
    package = json.loads((source / "package.json").read_text())
    package["dependencies"] = {"left-pad": "^1.3.0"}
    (source / "package.json").write_text(json.dumps(package))
    result = run_buildspec("function-build.yml", source, phases=AFTER_INSTALL)
    assert result.returncode != 0 and "without a package-lock.json" in result.stdout


FAKE_AWS = """#!{python}
import json, os, sys
args = sys.argv[1:]
assert args[:2] == ["lambda", "invoke"], args
assert args[args.index("--qualifier") + 1] == "live"
payload = json.load(open(args[args.index("--payload") + 1][len("file://"):]))
answer = json.loads(os.environ["FAKE_ANSWER"])
json.dump(answer.get("response"), open(args[-1], "w"))
json.dump(answer["invoke"], sys.stdout)
open(os.environ["FAKE_SEEN"], "w").write(json.dumps(payload))
"""


@pytest.fixture
def smoke(source, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS.format(python=sys.executable))
    (bin_dir / "aws").chmod(0o755)
    seen = tmp_path / "seen.json"

    def run(invoke, response):
        env = {"PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               "FUNCTION_NAME": "p-staging-fn", "FUNCTION_ALIAS": "live", "FAKE_SEEN": str(seen),
               "FAKE_ANSWER": json.dumps({"invoke": invoke, "response": response})}
        result = run_buildspec("function-smoke.yml", source, env=env)
        [report] = report_files(load("function-smoke.yml"), "smoke", source)
        return result, junit_totals(report), json.loads(seen.read_text())
    return run


def test_smoke_invokes_the_alias_with_the_sample_event(smoke):
    result, totals, event = smoke({"StatusCode": 200, "ExecutedVersion": "7"}, {"statusCode": 200, "body": "{}"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert totals == (1, 0) and event == json.loads((SAMPLE / "events" / "smoke.json").read_text())


@pytest.mark.parametrize("invoke,response,message", [
    ({"StatusCode": 200, "FunctionError": "Unhandled"}, {"errorMessage": "boom"}, "function error Unhandled"),
    ({"StatusCode": 200}, {"statusCode": 503, "body": "placeholder"}, "statusCode 503"),
])
def test_smoke_fails_on_a_function_error_or_a_bad_status(smoke, invoke, response, message):
    result, totals, _ = smoke(invoke, response)
    assert result.returncode != 0 and message in result.stdout
    assert totals == (1, 1)


def test_function_gates_carry_their_checker_and_lock_and_read_nothing_else_from_the_source():
    """function-test.yml and function-smoke.yml are rendered into the templates: the edition check's script
    and its hashed lock are inlined (kept by buildspecs/pins.py sync), nothing is read from buildspecs/."""
    import re

    from tests.test_buildspecs import module

    pins = module("pins")
    text = (ROOT / "buildspecs" / "function-test.yml").read_text()
    assert set(pins.inlined_paths(text)) == {"buildspecs/requirements-jscheck.txt", "buildspecs/es_syntax.py"}
    assert pins.synced(text) == text
    for name in ("function-test.yml", "function-smoke.yml"):
        commands = "\n".join(c for body in load(name)["phases"].values() for c in body.get("commands", []))
        assert "buildspecs/" not in re.sub(r"(?m)^\s*#.*$", "", commands), name


def test_function_build_packages_a_python_function_too(tmp_path):
    """The Runtime may be Python: a folder with handler modules (no package.json) is packaged without its tests."""
    src = tmp_path / "src"
    (src / "tests").mkdir(parents=True)
    (src / "index.py").write_text("def handler(event, context):\n    return {'statusCode': 200}\n")
    (src / "tests" / "test_index.py").write_text("def test_nothing():\n    pass\n")
    result = run_buildspec("function-build.yml", src, phases=AFTER_INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = load("function-build.yml")
    files = {p.relative_to(src / spec["artifacts"]["base-directory"]).as_posix() for p in declared_files(spec, src)}
    assert files == {"index.py", "build-info.json"}
