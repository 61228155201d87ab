"""Buildspecs: valid version 0.2 structure, and the ones that run offline actually work.

``build.yml`` and ``test.yml`` (and ``smoke-test.yml`` against the sample app served on
loopback) run their command phases with bash in a temporary copy of ``examples/sample-app``,
with the variables CodeBuild sets; the declared artifacts and reports must then exist.
``security-scan.yml`` and ``image-scan.yml`` run their phases after the install phase (which needs
PyPI) with stand-in scanners and a stand-in ``aws`` on PATH: what is tested is the orchestration
(every scanner runs, one verdict at the end, the severity threshold, the reports), offline.
"""
from __future__ import annotations

import ast
import glob
import json
import os
import re
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
from generator.components import codebuild
from generator.core import pycompact
from tests.helpers import ROOT, load_template, resources

BUILDSPECS = ROOT / "buildspecs"
SAMPLE_APP = ROOT / "examples" / "sample-app"
PHASES = ("install", "pre_build", "build", "post_build")
#: The install phases fetch hashed wheels from PyPI: local runs start after them (pytest is in this venv).
AFTER_INSTALL = ("pre_build", "build", "post_build")
ALL_BUILDSPECS = sorted(p.name for p in BUILDSPECS.glob("*.yml"))


def load(name) -> dict:
    return yaml.safe_load((BUILDSPECS / name).read_text())


def module(name):
    """A script of buildspecs/ (not a package: the buildspecs inline them) imported by path."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"buildspecs_{name}", BUILDSPECS / f"{name}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture
def source(tmp_path):
    """A source archive's contents as CodeBuild unpacks them: the app at the root plus buildspecs/."""
    src = tmp_path / "src"
    shutil.copytree(SAMPLE_APP, src, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    shutil.copytree(BUILDSPECS, src / "buildspecs")
    return src


def run_buildspec(name, src: Path, env=None, phases=PHASES) -> subprocess.CompletedProcess:
    """Run the buildspec's commands as CodeBuild 0.2 does: one shell, phase after phase, stop at a failure.
    The text is the one templates carry (inlined scripts compacted; the same as the file otherwise)."""
    spec = yaml.safe_load(codebuild.buildspec_text(name))
    lines = ["set -e"]
    for key, value in (spec.get("env", {}).get("variables") or {}).items():
        # cache folders of the build container stay out; a variable the test gives wins (as a start-build override)
        if not str(value).startswith("/root/") and key not in (env or {}):
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
            buildspec = project["Properties"]["Source"]["BuildSpec"]
            if isinstance(buildspec, str) and buildspec.startswith("buildspecs/"):  # read from the source
                assert (ROOT / buildspec).is_file(), f"{stack}: {buildspec}"
                spec = load(Path(buildspec).name)
            else:  # rendered into the template: must be one of buildspecs/ as generated
                text = buildspec if isinstance(buildspec, str) else buildspec.get("Fn::Sub", [""])[0]
                spec = yaml.safe_load(text)
                rendered = [yaml.safe_load(codebuild.buildspec_text(n)) for n in ALL_BUILDSPECS]
                assert spec in rendered, f"{stack}: inline buildspec is none of buildspecs/ as rendered"
            name = project["Properties"]["Name"]["Fn::Sub"]
            for report in spec.get("reports", {}):
                assert f"{name}-{report}" in groups, f"{stack}: no report group {name}-{report} for project {name}"
            checked += 1
    assert checked >= 4


# -- pinned tools ---------------------------------------------------------------
PIP_INSTALL = re.compile(r"\bpip3?\b[^\n|;&]*?\binstall\b([^\n|;&]*)")
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s\\]+ \\$")


def lock_entries(lines):
    """{requirement: [hashes]} of a hashed lock's lines; fails on anything that is not pinned and hashed."""
    entries, current = {}, None
    for line in (l.rstrip() for l in lines):
        if not line or line.lstrip().startswith("#"):
            continue
        if line.startswith(" "):
            assert current and re.fullmatch(r" +--hash=sha256:[0-9a-f]{64}( \\)?", line), line
            entries[current].append(line.split(":", 1)[1].rstrip(" \\"))
        else:
            assert PINNED.match(line), f"not pinned with == and a hash: {line}"
            current = line.rstrip(" \\")
            entries[current] = []
    assert entries and all(entries.values())
    return entries


@pytest.mark.parametrize("lock", ["buildspecs/requirements-scan.txt", "buildspecs/requirements-sbom.txt",
                                  "examples/sample-app/requirements.txt", "examples/sample-app/requirements-dev.txt"])
def test_every_lock_pins_each_package_by_version_and_hash(lock):
    entries = lock_entries((ROOT / lock).read_text().splitlines())
    source = (ROOT / lock).with_suffix(".in").read_text()
    for requirement in (l for l in source.splitlines() if l and not l.startswith("#")):
        assert requirement.lower() in entries, f"{lock} does not lock {requirement}; run buildspecs/pins.py lock"


def test_scanners_are_pinned_tools_from_this_repository():
    locked = {r.split("==")[0] for r in lock_entries((BUILDSPECS / "requirements-scan.txt").read_text().splitlines())}
    assert {"bandit", "pip-audit"} <= locked
    assert "cyclonedx-bom" in (BUILDSPECS / "requirements-sbom.txt").read_text()
    text = (BUILDSPECS / "security-scan.yml").read_text()
    assert "trivy" not in load("security-scan.yml")["phases"].__repr__(), "trivy is fetched from its release: not pinnable here"
    assert "curl" not in text and "wget" not in text, "nothing is downloaded but hashed packages"


def test_every_pip_install_requires_hashes_from_a_pinned_lock():
    installs = []
    for path in sorted(BUILDSPECS.glob("*.yml")) + [SAMPLE_APP / "Dockerfile"]:
        for match in PIP_INSTALL.finditer(path.read_text()):
            arguments = match.group(1)
            installs.append((path.name, arguments))
            assert "--require-hashes" in arguments, f"{path.name}: pip install{arguments}"
            assert re.search(r"(-r|--requirement) \S+", arguments), f"{path.name}: installs without a lock file"
    assert {name for name, _ in installs} >= {"security-scan.yml", "docker-build.yml", "build.yml", "test.yml", "Dockerfile"}


def test_inline_copies_in_the_buildspecs_match_their_files():
    """The gate buildspecs carry their lock and gate script (the template holds the buildspec, not the source)."""
    pins = module("pins")
    assert pins.stale() == [], "run python buildspecs/pins.py sync"
    assert pins.main(["check"]) == 0
    for name, expected in {"security-scan.yml": {"buildspecs/requirements-scan.txt", "buildspecs/scan_gate.py"},
                           "image-scan.yml": {"buildspecs/image_scan_gate.py"},
                           "docker-build.yml": {"buildspecs/requirements-sbom.txt", "buildspecs/ecs_artifacts.py"},
                           "build.yml": {"buildspecs/requirements-sbom.txt"}}.items():
        text = (BUILDSPECS / name).read_text()
        assert set(pins.inlined_paths(text)) == expected, name
        # the heredoc body is the lock as written: every pin and hash is in the buildspec itself
        for path in expected:
            for line in pins.inline_text(ROOT / path):
                assert line in text.replace("\n        ", "\n"), f"{name}: {line}"


def test_a_stale_inline_copy_is_detected(tmp_path, monkeypatch):
    pins = module("pins")
    spec = tmp_path / "buildspecs"
    spec.mkdir()
    text = (BUILDSPECS / "security-scan.yml").read_text()
    (spec / "security-scan.yml").write_text(text.replace("bandit==", "bandit==0.0.1#", 1))
    monkeypatch.setattr(pins, "BUILDSPECS", spec)
    assert pins.stale() == ["security-scan.yml"]
    assert pins.synced((spec / "security-scan.yml").read_text()) == text


@pytest.mark.parametrize("name", ["security-scan.yml", "image-scan.yml", "test.yml", "smoke-test.yml"])
def test_gate_buildspecs_read_nothing_from_the_source_but_the_application(name):
    """A gate's buildspec is rendered into the template: it must not run scripts or locks of the source."""
    commands = "\n".join(c for body in load(name)["phases"].values() for c in body.get("commands", []))
    assert "buildspecs/" not in re.sub(r"(?m)^\s*#.*$", "", commands), name


# -- running them ----------------------------------------------------------------
FAKE_CYCLONEDX = """#!{python}
import json, sys
args = sys.argv[1:]
assert args[0] == "requirements" and args[args.index("--of") + 1] == "JSON", args
pins = [l.split("==") for l in open(args[-1]) if "==" in l and not l.startswith("#")]
json.dump({{"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {{}},
           "components": [{{"type": "library", "name": n, "version": v.split()[0]}} for n, v in pins]}},
          open(args[args.index("-o") + 1], "w"))
"""


@pytest.fixture
def sbom_tools(tmp_path):
    """A stand-in cyclonedx-py where the install phase puts the pinned one."""
    tools = tmp_path / "sbom-tools"
    (tools / "bin").mkdir(parents=True)
    (tools / "bin" / "cyclonedx-py").write_text(FAKE_CYCLONEDX.format(python=sys.executable))
    (tools / "bin" / "cyclonedx-py").chmod(0o755)
    return {"SBOM_TOOLS": str(tools)}


def test_build_produces_the_beanstalk_bundle_with_its_sbom(source, sbom_tools):
    result = run_buildspec("build.yml", source, env=sbom_tools, phases=AFTER_INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = load("build.yml")
    files = {p.name for p in declared_files(spec, source)}
    assert {"application.py", "Procfile", "requirements.txt", "build-info.json", "sbom.cdx.json"} <= files
    assert "test_application.py" not in files, "tests do not ship in the bundle"
    info = (source / spec["artifacts"]["base-directory"] / "build-info.json").read_text()
    assert "0123456789abcdef0123456789abcdef01234567" in info
    sbom = json.loads((source / spec["artifacts"]["base-directory"] / "sbom.cdx.json").read_text())
    assert {c["name"] for c in sbom["components"]} == {"gunicorn", "packaging"}
    assert sbom["metadata"]["component"]["version"] == "0123456789abcdef0123456789abcdef01234567"
    install = "\n".join(spec["phases"]["install"]["commands"])
    assert "# inline: buildspecs/requirements-sbom.txt" in install and "--require-hashes" in install


def test_build_fails_without_an_application(source, sbom_tools):
    (source / "application.py").unlink()
    result = run_buildspec("build.yml", source, env=sbom_tools, phases=AFTER_INSTALL)
    assert result.returncode != 0 and "no application.py" in result.stdout


def test_unit_tests_write_a_junit_report(source):
    result = run_buildspec("test.yml", source, phases=AFTER_INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = load("test.yml")
    [report] = report_files(spec, "junit", source)
    tests, failures = junit_totals(report)
    assert tests >= 4 and failures == 0
    assert declared_files(spec, source)


def test_a_failing_unit_test_fails_the_build_and_is_reported(source):
    (source / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 1 == 2\n")
    result = run_buildspec("test.yml", source, phases=AFTER_INSTALL)
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


# -- security-scan.yml: every scanner runs, one verdict at the end --------------------------
FAKE_SCANNER = '''#!{python}
"""Stand-in for {tool}: logs its call, writes the report FAKE_<TOOL> describes, exits like the real one."""
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["{tool}", os.getcwd(), args]) + "\\n")
behaviour = os.environ.get("FAKE_{key}", "[]")
if behaviour == "crash":
    print("{tool}: simulated crash", file=sys.stderr)
    sys.exit(2)
items = json.loads(behaviour)
report = {{"results": items, "errors": []}} if "{tool}" == "bandit" else {{"dependencies": items, "fixes": []}}
with open(args[args.index("--output") + 1], "w") as out:
    json.dump(report, out)
found = items if "{tool}" == "bandit" else [v for d in items for v in d.get("vulns", [])]
sys.exit(1 if found else 0)
'''


def bandit_issue(test_id="B602", severity="HIGH", confidence="HIGH", filename="./application.py"):
    return {"test_id": test_id, "issue_severity": severity, "issue_confidence": confidence, "filename": filename,
            "line_number": 7, "issue_text": f"simulated {severity} issue"}


def vulnerable(name="gunicorn", version="23.0.0", vid="PYSEC-2099-1", aliases=()):
    return {"name": name, "version": version, "vulns": [{"id": vid, "fix_versions": ["99.0"], "aliases": list(aliases)}]}


FAKE_NPM = '''#!{python}
"""Stand-in for npm (first on PATH, before the real one): logs its call, prints FAKE_NPM_AUDIT (a recorded
`npm audit --json` file, or raw text) and exits as npm audit does: 1 on an error or any vulnerability."""
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(["npm", os.getcwd(), sys.argv[1:]]) + "\\n")
answer = os.environ.get("FAKE_NPM_AUDIT", "")
text = open(answer).read() if os.path.isfile(answer) else answer
print(text)
try:
    report = json.loads(text)
    sys.exit(1 if "error" in report or report.get("vulnerabilities") else 0)
except ValueError:
    sys.exit(1)
'''
NPM_AUDIT = ROOT / "tests" / "fixtures" / "npm-audit"


@pytest.fixture
def scan(source, tmp_path):
    """Run security-scan.yml's pre_build and build phases with stand-in scanners; returns (result, reports)."""
    tools = tmp_path / "scan-tools"
    (tools / "bin").mkdir(parents=True)
    for tool in ("bandit", "pip-audit"):
        script = tools / "bin" / tool
        script.write_text(FAKE_SCANNER.format(python=sys.executable, tool=tool, key=tool.upper().replace("-", "_")))
        script.chmod(0o755)
    (tools / "bin" / "npm").write_text(FAKE_NPM.format(python=sys.executable))
    (tools / "bin" / "npm").chmod(0o755)
    log = tmp_path / "calls.jsonl"

    def run(**env):
        # the real npm is never reached (the stand-in is first on PATH); were it, its registry is a closed port
        variables = {"SCAN_TOOLS": str(tools), "FAKE_LOG": str(log), "OSV_API_URL": "",
                     "NPM_CONFIG_REGISTRY": "http://127.0.0.1:9/"}
        variables.update(env)
        result = run_buildspec("security-scan.yml", source, env=variables, phases=("pre_build", "build"))
        calls = [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []
        return result, source / "reports", calls
    return run


def test_security_scan_passes_clean_code_and_writes_every_report(scan):
    result, reports, calls = scan()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c[0] for c in calls] == ["bandit", "pip-audit", "pip-audit"]
    audited = {c[2][c[2].index("--requirement") + 1]: c[2] for c in calls if c[0] == "pip-audit"}
    assert set(audited) == {"requirements.txt", "requirements-dev.txt"}
    for args in audited.values():  # the locks are hashed: audited as written, nothing resolved or installed
        assert "--require-hashes" in args and "--disable-pip" in args
    assert {p.name for p in reports.iterdir()} >= {"sast.xml", "findings.json", "bandit.json",
                                                   "pip-audit-requirements.json", "pip-audit-requirements-dev.json"}
    spec = load("security-scan.yml")
    assert report_files(spec, "sast", reports.parent)
    assert {p.name for p in declared_files(spec, reports.parent)} >= {"sast.xml", "findings.json", "bandit.json"}
    tests, failures = junit_totals(reports / "sast.xml")
    assert tests == 3 and failures == 0
    assert "security scan passed" in result.stdout


def test_a_crashing_scanner_does_not_stop_the_next_and_the_build_fails_at_the_end(scan):
    result, reports, calls = scan(FAKE_BANDIT="crash", FAKE_PIP_AUDIT=json.dumps([vulnerable()]))
    assert result.returncode != 0
    assert [c[0] for c in calls] == ["bandit", "pip-audit", "pip-audit"], "pip-audit still ran after bandit failed"
    assert "security scan FAILED: 2 blocking finding(s), 1 scanner error(s)" in result.stdout
    assert "ERROR bandit exited 2 without a usable report" in result.stdout
    assert "PYSEC-2099-1 gunicorn==23.0.0" in result.stdout
    root = ET.parse(reports / "sast.xml").getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["bandit"].get("errors") == "1"
    assert suites["pip-audit-requirements"].get("failures") == "1"
    summary = json.loads((reports / "findings.json").read_text())
    assert summary["blocking"] == 2 and summary["scanner_errors"] == 1


def test_findings_of_every_scanner_are_reported_together(scan):
    result, reports, _ = scan(FAKE_BANDIT=json.dumps([bandit_issue()]), FAKE_PIP_AUDIT=json.dumps([vulnerable()]))
    assert result.returncode != 0
    assert "B602 ./application.py:7" in result.stdout and "PYSEC-2099-1" in result.stdout
    assert junit_totals(reports / "sast.xml")[1] == 3


@pytest.mark.parametrize("threshold,blocks", [
    ("critical", set()), ("HIGH", {"HIGH"}), ("high", {"HIGH"}), ("medium", {"HIGH", "MEDIUM"}),
    ("low", {"HIGH", "MEDIUM", "LOW"}),
])
def test_fail_on_severity_blocks_that_severity_and_worse(scan, threshold, blocks):
    issues = [bandit_issue("B602", "HIGH"), bandit_issue("B311", "MEDIUM"), bandit_issue("B101", "LOW")]
    result, reports, _ = scan(FAKE_BANDIT=json.dumps(issues), FAKE_PIP_AUDIT="[]", FAIL_ON_SEVERITY=threshold)
    findings = json.loads((reports / "findings.json").read_text())["tools"]["bandit"]["findings"]
    assert {f["severity"] for f in findings if f["blocking"]} == blocks
    assert (result.returncode != 0) == bool(blocks)
    assert len(findings) == 3, "findings below the threshold are still reported"


def test_default_threshold_is_high(scan):
    result, _, _ = scan(FAKE_BANDIT=json.dumps([bandit_issue("B311", "MEDIUM")]), FAKE_PIP_AUDIT="[]")
    assert result.returncode == 0 and "FAIL_ON_SEVERITY=HIGH blocks HIGH, CRITICAL" in result.stdout


def test_low_confidence_sast_findings_are_reported_but_do_not_block(scan):
    result, reports, _ = scan(FAKE_BANDIT=json.dumps([bandit_issue(confidence="LOW")]), FAKE_PIP_AUDIT="[]")
    assert result.returncode == 0, result.stdout
    assert "confidence LOW" in result.stdout


def test_an_unknown_threshold_fails_the_scan(scan):
    result, _, _ = scan(FAIL_ON_SEVERITY="severe")
    assert result.returncode != 0 and "FAIL_ON_SEVERITY 'severe' is not one of LOW, MEDIUM, HIGH, CRITICAL" in result.stderr


def test_a_skipped_dependency_is_a_scanner_error(scan):
    result, _, _ = scan(FAKE_PIP_AUDIT=json.dumps([{"name": "private-lib", "skip_reason": "not found on the index"}]))
    assert result.returncode != 0 and "private-lib not audited" in result.stdout


def node_app(source, package=None, lock=True):
    """A Node.js application in APP_DIR `function`: the recorded fixture project, or `package` without a lock."""
    app = source / "function"
    app.mkdir()
    if package is None:
        shutil.copy(NPM_AUDIT / "project" / "package.json", app)
    else:
        (app / "package.json").write_text(json.dumps(package) if isinstance(package, dict) else package)
    if lock:
        shutil.copy(NPM_AUDIT / "project" / "package-lock.json", app)
    return {"APP_DIR": "function"}


def npm_findings(reports):
    return {f["id"]: f for f in json.loads((reports / "findings.json").read_text())["tools"]["npm-audit"]["findings"]}


def test_npm_audit_audits_the_lock_of_a_node_application(scan, source):
    result, reports, calls = scan(FAKE_NPM_AUDIT=str(NPM_AUDIT / "vulnerable.json"), **node_app(source))
    [npm] = [c for c in calls if c[0] == "npm"]
    assert npm[1] == str(source / "function") and npm[2][:3] == ["audit", "--json", "--package-lock-only"]
    # dev dependencies run in the build: audited, whatever the source's .npmrc says (flags outrank it)
    assert {"--include=dev", "--include=optional", "--include=peer"} <= set(npm[2]) and "--omit=dev" not in npm[2]
    assert "--registry=https://registry.npmjs.org/" in npm[2], "the source's .npmrc does not choose the advisory server"
    assert [c[0] for c in calls] == ["bandit", "npm"], "every scanner still runs"
    found = npm_findings(reports)
    # moderate is MEDIUM; info is reported, never blocks; wrapper-lib (only via deep-merge-lib) adds nothing
    assert {k: (f["shown"], f["blocking"]) for k, f in found.items()} == {
        "GHSA-dddd-eeee-ffff": ("CRITICAL", True), "GHSA-aaaa-bbbb-cccc": ("MEDIUM", False),
        "GHSA-gggg-hhhh-jjjj": ("LOW", False), "GHSA-kkkk-mmmm-nnnn": ("INFO", False)}
    assert "affects wrapper-lib" in found["GHSA-dddd-eeee-ffff"]["text"]
    assert "fix: left-pad@1.4.0" in found["GHSA-aaaa-bbbb-cccc"]["text"]
    assert result.returncode != 0 and "BLOCKS CRITICAL   GHSA-dddd-eeee-ffff deep-merge-lib@1.0.0" in result.stdout
    suites = {s.get("name"): s for s in ET.parse(reports / "sast.xml").getroot().findall("testsuite")}
    assert suites["npm-audit"].get("failures") == "1" and suites["npm-audit"].get("errors") == "0"


@pytest.mark.parametrize("threshold,blocking", [
    ("critical", {"GHSA-dddd-eeee-ffff"}),
    ("medium", {"GHSA-dddd-eeee-ffff", "GHSA-aaaa-bbbb-cccc"}),
    ("low", {"GHSA-dddd-eeee-ffff", "GHSA-aaaa-bbbb-cccc", "GHSA-gggg-hhhh-jjjj"}),
])
def test_npm_audit_findings_block_at_the_threshold(scan, source, threshold, blocking):
    result, reports, _ = scan(FAKE_NPM_AUDIT=str(NPM_AUDIT / "vulnerable.json"), FAIL_ON_SEVERITY=threshold,
                              **node_app(source))
    assert {k for k, f in npm_findings(reports).items() if f["blocking"]} == blocking
    assert result.returncode != 0


def test_a_clean_npm_audit_passes(scan, source):
    result, reports, calls = scan(FAKE_NPM_AUDIT=str(NPM_AUDIT / "clean.json"), **node_app(source))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "npm" in [c[0] for c in calls] and npm_findings(reports) == {}
    assert "npm-audit" in (reports / "sast.xml").read_text()


@pytest.mark.parametrize("package", [
    {"name": "fn", "version": "1.0.0", "devDependencies": {"mocha": "^10.0.0"}},
    {"name": "fn", "version": "1.0.0", "dependencies": {"left-pad": "1.3.0"}},
    "{not json",
])
def test_a_node_application_without_a_lock_is_a_scanner_error(scan, source, package):
    result, reports, calls = scan(FAIL_ON_SEVERITY="critical", **node_app(source, package, lock=False))
    assert "npm" not in [c[0] for c in calls], "nothing to audit reproducibly: npm audit does not run"
    assert result.returncode != 0 and "1 scanner error(s)" in result.stdout
    error = json.loads((reports / "findings.json").read_text())["tools"]["npm-audit"]["error"]
    assert error.startswith("npm audit failed: ENOLOCK package.json")
    if isinstance(package, dict):
        assert "declares 1 dependencies but there is no package-lock.json or npm-shrinkwrap.json" in error


def test_a_package_json_without_dependencies_needs_no_lock(scan, source):
    """The sample function (no dependencies at all) passes with nothing for npm audit to do."""
    manifest = json.loads((ROOT / "examples" / "sample-function" / "package.json").read_text())
    assert not any(manifest.get(k) for k in ("dependencies", "devDependencies", "optionalDependencies",
                                            "peerDependencies"))
    for package in (manifest, dict(manifest, dependencies={})):
        result, reports, calls = scan(**node_app(source, package, lock=False))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "package.json declares no dependency: nothing for npm audit" in result.stdout
        assert "npm" not in [c[0] for c in calls] and not (reports / "npm-audit.rc").exists()
        shutil.rmtree(source / "function")


@pytest.mark.parametrize("answer,message", [
    ("enolock.json", "npm audit failed: ENOLOCK This command requires an existing lockfile."),
    ("endpoint-error.json", "npm audit failed: request to http://127.0.0.1:48732/-/npm/v1/security/advisories/bulk failed"),
    ("npm error code E403\nnpm error audit endpoint returned an error", "npm-audit exited 1 without a usable report"),
    ("", "npm-audit exited 1 without a usable report"),
    ('{"advisories": {}, "actions": []}', "not an npm 7+ audit report"),  # npm 6's format
])
def test_an_npm_audit_that_did_not_run_is_a_scanner_error(scan, source, answer, message):
    answer = str(NPM_AUDIT / answer) if answer.endswith(".json") else answer
    result, reports, _ = scan(FAKE_NPM_AUDIT=answer, FAIL_ON_SEVERITY="critical", **node_app(source))
    assert result.returncode != 0 and "security scan FAILED: 0 blocking finding(s), 1 scanner error(s)" in result.stdout
    assert message in json.loads((reports / "findings.json").read_text())["tools"]["npm-audit"]["error"]


def test_the_scan_gets_node_from_the_runtime_the_function_builds_use():
    """npm comes with CodeBuild's Node.js runtime: no network install of an unpinned tool."""
    runtimes = load("security-scan.yml")["phases"]["install"]["runtime-versions"]
    assert runtimes["nodejs"] == load("function-build.yml")["phases"]["install"]["runtime-versions"]["nodejs"]
    commands = re.sub(r"(?m)^\s*#.*$", "", (BUILDSPECS / "security-scan.yml").read_text())
    assert not re.search(r"\bnpm (install|i|ci|exec)\b|\bnpx ", commands.replace("`npm install --package-lock-only`", ""))


@pytest.fixture
def osv():
    """A loopback OSV API: GHSA-aaaa rated MODERATE, GHSA-bbbb rated CRITICAL, PYSEC-cvss with a CVSS v3 vector only."""
    records = {
        "GHSA-aaaa": {"database_specific": {"severity": "MODERATE"}},
        "GHSA-bbbb": {"database_specific": {"severity": "CRITICAL"}},
        "PYSEC-cvss": {"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]},
    }

    def app(environ, start_response):
        record = records.get(environ["PATH_INFO"].rsplit("/", 1)[-1])
        start_response("200 OK" if record else "404 Not Found", [("Content-Type", "application/json")])
        return [json.dumps(record or {"message": "Bug not found"}).encode()]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


@pytest.mark.parametrize("vuln,env,severity,blocks", [
    (vulnerable(vid="PYSEC-1", aliases=["CVE-1", "GHSA-aaaa"]), {}, "MEDIUM", False),
    (vulnerable(vid="GHSA-bbbb"), {"FAIL_ON_SEVERITY": "critical"}, "CRITICAL", True),
    (vulnerable(vid="PYSEC-cvss"), {}, "CRITICAL", True),                       # 9.8 from the vector
    (vulnerable(vid="PYSEC-none"), {}, "HIGH", True),                           # unknown: counted as HIGH
    (vulnerable(vid="PYSEC-none"), {"UNKNOWN_SEVERITY": "low"}, "LOW", False),
])
def test_dependency_severity_comes_from_the_advisory(scan, osv, vuln, env, severity, blocks):
    result, reports, _ = scan(FAKE_PIP_AUDIT=json.dumps([vuln]), OSV_API_URL=osv, **env)
    [finding] = json.loads((reports / "findings.json").read_text())["tools"]["pip-audit-requirements"]["findings"]
    assert (finding["severity"], finding["blocking"]) == (severity, blocks)
    assert (result.returncode != 0) == blocks


@pytest.mark.parametrize("vector,score", [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8), ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5), ("CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4), ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
])
def test_cvss3_base_score(vector, score):
    assert module("scan_gate").cvss3(vector) == score


def test_both_gates_rank_severities_alike():
    source, image = module("scan_gate"), module("image_scan_gate")
    assert source.ORDER == image.ORDER == ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
    assert source.ALIASES == image.ALIASES


# -- image-scan.yml: basic and enhanced ECR scanning -------------------------------------
FAKE_AWS = '''#!{python}
"""Stand-in for `aws ecr describe-image-scan-findings`: answers FAKE_AWS_ANSWERS in order, the last one again."""
import json, os, sys
args = sys.argv[1:]
assert args[:2] == ["ecr", "describe-image-scan-findings"], args
assert args[args.index("--repository-name") + 1] == "shop-tools-app" and args[args.index("--image-id") + 1] == "imageTag=0123456789ab"
answers = json.load(open(os.environ["FAKE_AWS_ANSWERS"]))
counter = os.environ["FAKE_AWS_ANSWERS"] + ".calls"
calls = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(calls + 1))
answer = answers[min(calls, len(answers) - 1)]
if "error" in answer:
    print(answer["error"], file=sys.stderr)
    sys.exit(254)
print(json.dumps(answer))
'''


def enhanced(status="ACTIVE", findings=(), description="Continuous scan is selected for image."):
    return {"imageScanStatus": {"status": status, "description": description},
            "imageScanFindings": {"enhancedFindings": list(findings)}}


def inspector_finding(severity, cve="CVE-2099-0001", status="ACTIVE"):
    return {"severity": severity, "status": status, "title": f"{cve} - openssl",
            "packageVulnerabilityDetails": {"vulnerabilityId": cve,
                                            "vulnerablePackages": [{"name": "openssl", "version": "3.0.11"}]}}


def basic(status="COMPLETE", findings=()):
    return {"imageScanStatus": {"status": status, "description": "The scan was completed successfully."},
            "imageScanFindings": {"findings": [
                {"name": name, "severity": severity, "attributes": [{"key": "package_name", "value": "libc6"}]}
                for name, severity in findings]}}


NOT_FOUND = {"error": "An error occurred (ScanNotFoundException) when calling the DescribeImageScanFindings operation: "
                      "Image scan does not exist for the image"}


@pytest.fixture
def image_scan(source, tmp_path):
    build_output = tmp_path / "BuildOutput"
    build_output.mkdir()
    (build_output / "imageDetail.json").write_text(json.dumps(
        {"ImageURI": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-tools-app:0123456789ab"}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS.format(python=sys.executable))
    (bin_dir / "aws").chmod(0o755)
    answers = tmp_path / "answers.json"

    def run(*scans, **env):
        answers.write_text(json.dumps(list(scans)))
        variables = {"PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                     "CODEBUILD_SRC_DIR_BuildOutput": str(build_output), "REPOSITORY_NAME": "shop-tools-app",
                     "FAKE_AWS_ANSWERS": str(answers), "SCAN_POLL_SECONDS": "0"}
        variables.update(env)
        result = run_buildspec("image-scan.yml", source, env=variables)
        [report] = report_files(load("image-scan.yml"), "scan", source)
        calls = int((tmp_path / "answers.json.calls").read_text())
        return result, report, calls
    return run


def test_enhanced_scanning_waits_for_inspector_then_passes_below_the_threshold(image_scan):
    result, report, calls = image_scan(
        NOT_FOUND, enhanced("PENDING", description="Pending initial scan"),
        enhanced("ACTIVE", [inspector_finding("MEDIUM"), inspector_finding("INFORMATIONAL", "CVE-2099-0002")]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls == 3, "it waited through ScanNotFound and PENDING, and did not use the COMPLETE-only waiter"
    assert "enhanced scanning, status ACTIVE" in result.stdout and "CVE-2099-0001 openssl 3.0.11" in result.stdout
    assert junit_totals(report) == (2, 0)


def test_enhanced_findings_at_the_threshold_fail_and_closed_or_suppressed_ones_do_not(image_scan):
    findings = [inspector_finding("HIGH"), inspector_finding("CRITICAL", "CVE-2099-0003", status="SUPPRESSED"),
                inspector_finding("CRITICAL", "CVE-2099-0004", status="CLOSED")]
    result, report, _ = image_scan(enhanced("ACTIVE", findings))
    assert result.returncode != 0 and "image scan FAILED: 1 finding(s) at HIGH or worse" in result.stdout
    assert junit_totals(report) == (1, 1)
    assert "CVE-2099-0003" not in result.stdout


def test_enhanced_scan_on_push_completes(image_scan):
    result, _, _ = image_scan(enhanced("COMPLETE", [inspector_finding("CRITICAL")], "The scan was completed successfully."),
                              FAIL_ON_SEVERITY="critical")
    assert result.returncode != 0 and "CVE-2099-0001" in result.stdout


def test_basic_scanning_waits_for_complete_and_gates_on_severity(image_scan):
    scans = (basic("IN_PROGRESS"), basic("COMPLETE", [("CVE-2099-1", "HIGH"), ("CVE-2099-2", "LOW")]))
    result, report, calls = image_scan(*scans)
    assert result.returncode != 0 and calls == 2 and "basic scanning, status COMPLETE" in result.stdout
    assert junit_totals(report) == (2, 1)
    result, _, _ = image_scan(*scans, FAIL_ON_SEVERITY="CRITICAL")
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("env,blocks", [({}, True), ({"UNKNOWN_SEVERITY": "low"}, False)])
def test_undefined_severity_counts_as_unknown_severity(image_scan, env, blocks):
    result, _, _ = image_scan(basic("COMPLETE", [("CVE-2099-5", "UNDEFINED")]), **env)
    assert (result.returncode != 0) == blocks
    assert "UNDEFINED (counted as" in result.stdout


@pytest.mark.parametrize("status", ["FAILED", "UNSUPPORTED_IMAGE", "SCAN_ELIGIBILITY_EXPIRED", "FINDINGS_UNAVAILABLE"])
def test_a_scan_that_cannot_vouch_for_the_image_fails_the_gate(image_scan, status):
    result, report, _ = image_scan(enhanced(status, description="no scan for you"))
    assert result.returncode != 0 and f"scan status {status}: no scan for you" in result.stdout
    assert junit_totals(report) == (1, 1)


def test_a_scan_that_never_comes_fails_with_the_reason(image_scan):
    result, _, calls = image_scan(NOT_FOUND, SCAN_WAIT_SECONDS="0")
    assert result.returncode != 0 and calls == 1
    assert "ScanNotFoundException" in result.stdout and "scan on push" in result.stdout


def test_an_access_error_fails_at_once(image_scan):
    result, _, calls = image_scan({"error": "An error occurred (AccessDeniedException)"})
    assert result.returncode != 0 and calls == 1 and "AccessDeniedException" in result.stdout


def test_findings_counted_but_not_listed_still_count(image_scan):
    """findingSeverityCounts covers every finding: a page the listing missed cannot hide a CRITICAL one."""
    scan = basic("COMPLETE", [("CVE-2099-1", "LOW")])
    scan["imageScanFindings"]["findingSeverityCounts"] = {"LOW": 1, "CRITICAL": 2}
    result, _, _ = image_scan(scan)
    assert result.returncode != 0 and "2 unlisted finding(s)" in result.stdout
    only_counts = {"imageScanStatus": {"status": "COMPLETE"}, "imageScanFindings": {"findingSeverityCounts": {"HIGH": 1}}}
    result, _, _ = image_scan(only_counts)
    assert result.returncode != 0 and "1 finding(s)" in result.stdout


REAL_TOOLS = os.environ.get("CFN_DELIVERY_SCAN_TOOLS", "")


@pytest.mark.skipif(not (REAL_TOOLS and (Path(REAL_TOOLS) / "bin" / "bandit").exists()),
                    reason="set CFN_DELIVERY_SCAN_TOOLS to a venv with buildspecs/requirements-scan.txt installed")
def test_real_bandit_passes_the_sample_and_blocks_shell_injection(scan, source, tmp_path):
    """The pinned bandit itself (offline), pip-audit still a stand-in (it needs the vulnerability service)."""
    fake = tmp_path / "scan-tools" / "bin"
    (fake / "bandit").unlink()
    (fake / "bandit").symlink_to(Path(REAL_TOOLS) / "bin" / "bandit")
    result, reports, _ = scan()
    assert result.returncode == 0, result.stdout + result.stderr
    (source / "shell.py").write_text("import subprocess\n\n\ndef run(command):\n    return subprocess.call(command, shell=True)\n")
    result, reports, _ = scan()
    assert result.returncode != 0 and "BLOCKS HIGH       B602 ./shell.py:5" in result.stdout


# -- inlined scripts go into templates compacted (generator/core/pycompact.py) ---------------------------

def _without_docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:]
    return ast.dump(tree)


INLINED_SCRIPTS = sorted({m.group("path") for n in ALL_BUILDSPECS
                          for m in map(pycompact.INLINE_SCRIPT.match, (BUILDSPECS / n).read_text().splitlines()) if m})


@pytest.mark.parametrize("path", INLINED_SCRIPTS)
def test_compacted_script_is_the_same_program(path):
    """Only docstrings, comments and blank lines go: the syntax tree is the original's minus its docstrings."""
    source = (ROOT / path).read_text()
    compacted = pycompact.compact(source)
    compile(compacted, path, "exec")
    assert _without_docstrings(ast.parse(compacted)) == _without_docstrings(ast.parse(source))
    assert '"""' not in compacted and not re.search(r"(?m)^\s*#", compacted)
    assert len(compacted) < 0.9 * len(source)


@pytest.mark.parametrize("name", [n for n in ALL_BUILDSPECS if "# inline: " in (BUILDSPECS / n).read_text()])
def test_rendered_buildspec_differs_from_its_file_only_in_inlined_scripts(name):
    rendered, original = yaml.safe_load(codebuild.buildspec_text(name)), load(name)

    def commands(spec):
        return [c for body in spec["phases"].values() for c in body.get("commands", [])]
    assert {k: v for k, v in rendered.items() if k != "phases"} == {k: v for k, v in original.items() if k != "phases"}
    assert len(commands(rendered)) == len(commands(original))
    for new, old in zip(commands(rendered), commands(original)):
        if new != old:
            assert pycompact.INLINE_SCRIPT.search(old.split("\n", 2)[1]), old[:80]
            assert new == pycompact.compact_inlined_scripts(old)


def test_compact_keeps_what_the_interpreter_reads():
    source = (
        "#!/usr/bin/env python3\n"
        '"""Module doc."""\n'
        "import sys  # why\n"
        "\n"
        "TEXT = \"\"\"line\n"
        "\n"
        "# not a comment\n"
        "\"\"\"\n"
        "def only_doc():\n"
        '    """Kept: a body needs a statement."""\n'
        "def f(x):\n"
        '    """Gone."""\n'
        "    return '#' + x  # gone\n"
    )
    compacted = pycompact.compact(source)
    assert compacted == (
        "import sys\n"
        "TEXT = \"\"\"line\n"
        "\n"
        "# not a comment\n"
        "\"\"\"\n"
        "def only_doc():\n"
        '    """Kept: a body needs a statement."""\n'
        "def f(x):\n"
        "    return '#' + x\n"
    )
    namespace = {}
    exec(compacted, namespace)
    assert namespace["TEXT"] == "line\n\n# not a comment\n" and namespace["f"]("a") == "#a"
