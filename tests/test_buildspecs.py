"""Buildspecs: valid version 0.2 structure, and the ones that run offline actually work.

``build.yml`` and ``test.yml`` (and ``smoke-test.yml`` against the sample app served on
loopback) run their command phases with bash in a temporary copy of ``examples/sample-app``,
with the variables CodeBuild sets; the declared artifacts and reports must then exist.
``security-scan.yml`` downloads its scanners, so it is checked for structure only.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import yaml

from generator import registry
from tests.helpers import ROOT, load_template, resources

BUILDSPECS = ROOT / "buildspecs"
SAMPLE_APP = ROOT / "examples" / "sample-app"
PHASES = ("install", "pre_build", "build", "post_build")
ALL_BUILDSPECS = sorted(p.name for p in BUILDSPECS.glob("*.yml"))


def load(name) -> dict:
    return yaml.safe_load((BUILDSPECS / name).read_text())


@pytest.fixture
def source(tmp_path):
    """A source archive's contents as CodeBuild unpacks them: the app at the root plus buildspecs/."""
    src = tmp_path / "src"
    shutil.copytree(SAMPLE_APP, src, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    shutil.copytree(BUILDSPECS, src / "buildspecs")
    return src


def run_buildspec(name, src: Path, env=None, phases=PHASES) -> subprocess.CompletedProcess:
    """Run the buildspec's commands as CodeBuild 0.2 does: one shell, phase after phase, stop at a failure."""
    spec = load(name)
    lines = ["set -e"]
    for key, value in (spec.get("env", {}).get("variables") or {}).items():
        if not str(value).startswith("/root/"):  # cache folders of the build container
            lines.append(f"export {key}={str(value)!r}")
    for phase in phases:
        for command in (spec["phases"].get(phase) or {}).get("commands", []):
            lines.append(command)
    python_dir = str(Path(sys.executable).parent)  # `python3` with pytest, as after the install phase
    variables = {
        "PATH": python_dir + os.pathsep + os.environ["PATH"],
        "HOME": str(src.parent),
        "CODEBUILD_SRC_DIR": str(src),
        "CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef0123456789abcdef01234567",
        "CODEBUILD_BUILD_ID": "shop-tools-beanstalk-build:local",
        "APP_DIR": ".",
    }
    variables.update(env or {})
    return subprocess.run(["bash", "-c", "\n".join(lines)], cwd=src, env=variables,
                          capture_output=True, text=True, timeout=300)


def declared_files(spec: dict, src: Path) -> list:
    """Files matched by the buildspec's ``artifacts`` declaration."""
    base = src / spec["artifacts"].get("base-directory", ".")
    found = []
    for pattern in spec["artifacts"]["files"]:
        found += [Path(p) for p in glob.glob(str(base / pattern), recursive=True) if Path(p).is_file()]
    return found


def report_files(spec: dict, report: str, src: Path) -> list:
    group = spec["reports"][report]
    base = src / group.get("base-directory", ".")
    return [Path(p) for pattern in group["files"] for p in glob.glob(str(base / pattern), recursive=True)]


def junit_totals(path: Path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    return (sum(int(s.get("tests", 0)) for s in suites),
            sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites))


# -- structure -----------------------------------------------------------------
@pytest.mark.parametrize("name", ALL_BUILDSPECS)
def test_buildspec_structure(name):
    spec = load(name)
    assert str(spec["version"]) == "0.2", f"{name}: version must be 0.2"
    assert set(spec["phases"]) <= set(PHASES), f"{name}: unknown phase"
    assert spec["phases"].get("build", {}).get("commands"), f"{name}: no build commands"
    for phase, body in spec["phases"].items():
        assert all(isinstance(c, str) and c.strip() for c in body.get("commands", [])), f"{name}: {phase}"
    assert "artifacts" in spec or "reports" in spec, f"{name}: declares neither artifacts nor reports"
    if "artifacts" in spec:
        assert spec["artifacts"]["files"], f"{name}: artifacts without files"
    for report, group in spec.get("reports", {}).items():
        assert group["files"] and group.get("file-format") in ("JUNITXML", "CUCUMBERJSON", "TESTNGXML", "NUNITXML"), \
            f"{name}: report {report}"


def test_every_codebuild_project_uses_an_existing_buildspec_and_its_report_group():
    checked = 0
    for stack in registry.names():
        template = load_template(stack)
        groups = {g["Properties"]["Name"]["Fn::Sub"] for g in resources(template, "AWS::CodeBuild::ReportGroup").values()}
        for project in resources(template, "AWS::CodeBuild::Project").values():
            path = project["Properties"]["Source"]["BuildSpec"]
            assert path.startswith("buildspecs/") and (ROOT / path).is_file(), f"{stack}: {path}"
            name = project["Properties"]["Name"]["Fn::Sub"]
            for report in load(Path(path).name).get("reports", {}):
                assert f"{name}-{report}" in groups, f"{stack}: no report group {name}-{report} for {path}"
            checked += 1
    assert checked >= 4


def test_security_scan_fails_on_high_and_critical():
    text = (BUILDSPECS / "security-scan.yml").read_text()
    assert "--severity-level" in text and "bandit" in text
    assert "--exit-code 1" in text and "HIGH,CRITICAL" in text and "sha256sum --check" in text


# -- running them ----------------------------------------------------------------
def test_build_produces_the_beanstalk_bundle(source):
    result = run_buildspec("build.yml", source)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = load("build.yml")
    files = {p.name for p in declared_files(spec, source)}
    assert {"application.py", "Procfile", "requirements.txt", "build-info.json"} <= files
    assert "test_application.py" not in files, "tests do not ship in the bundle"
    info = (source / spec["artifacts"]["base-directory"] / "build-info.json").read_text()
    assert "0123456789abcdef0123456789abcdef01234567" in info


def test_build_fails_without_an_application(source):
    (source / "application.py").unlink()
    result = run_buildspec("build.yml", source)
    assert result.returncode != 0 and "no application.py" in result.stdout


def test_unit_tests_write_a_junit_report(source):
    result = run_buildspec("test.yml", source)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = load("test.yml")
    [report] = report_files(spec, "junit", source)
    tests, failures = junit_totals(report)
    assert tests >= 4 and failures == 0
    assert declared_files(spec, source)


def test_a_failing_unit_test_fails_the_build_and_is_reported(source):
    (source / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 1 == 2\n")
    result = run_buildspec("test.yml", source)
    assert result.returncode != 0
    [report] = report_files(load("test.yml"), "junit", source)
    assert junit_totals(report)[1] == 1


@pytest.fixture
def served_app(source):
    """The sample app served on loopback, as a deployed target."""
    sys.path.insert(0, str(source))
    try:
        import application  # noqa: WPS433 - the copy under test
    finally:
        sys.path.remove(str(source))

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = make_server("127.0.0.1", port, application.application, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    sys.modules.pop("application", None)


def test_smoke_test_passes_against_a_healthy_target(source, served_app):
    result = run_buildspec("smoke-test.yml", source, env={"TARGET_URL": served_app, "HEALTH_PATH": "/health"})
    assert result.returncode == 0, result.stdout + result.stderr
    [report] = report_files(load("smoke-test.yml"), "smoke", source)
    assert junit_totals(report) == (1, 0)


def test_smoke_test_fails_when_the_health_path_is_wrong(source, served_app):
    result = run_buildspec("smoke-test.yml", source, env={
        "TARGET_URL": served_app, "HEALTH_PATH": "/missing", "SMOKE_ATTEMPTS": "2", "SMOKE_DELAY": "0"})
    assert result.returncode != 0
    [report] = report_files(load("smoke-test.yml"), "smoke", source)
    assert junit_totals(report) == (1, 1)
