# Gate of security-scan.yml (inlined there by buildspecs/pins.py sync; edit this file, not the copy).
# Reads what every scanner left in REPORTS (<tool>.rc and <tool>.json), writes sast.xml (JUnit) and
# findings.json, prints every finding, and exits 1 when one is at FAIL_ON_SEVERITY or worse or a scanner
# did not run to the end. Severities: CRITICAL > HIGH > MEDIUM > LOW; unknown counts as UNKNOWN_SEVERITY.
import json, os, sys, urllib.request
from pathlib import Path
from xml.sax.saxutils import quoteattr

ORDER = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
ALIASES = {"MODERATE": "MEDIUM", "IMPORTANT": "HIGH"}


def level(name, variable):
    value = (name or "").strip().upper()
    if value not in ORDER:
        sys.exit(f"{variable} '{name}' is not one of {', '.join(ORDER)} (any case)")
    return value


def normalise(severity, unknown):
    value = ALIASES.get(str(severity or "").upper(), str(severity or "").upper())
    return (value, value) if value in ORDER else (unknown, f"UNKNOWN (counted as {unknown})")


# -- CVSS v3 base score (FIRST's specification, section 7) for advisories that give only a vector
W = {"AV": {"N": .85, "A": .62, "L": .55, "P": .2}, "AC": {"L": .77, "H": .44}, "UI": {"N": .85, "R": .62},
     "C": {"H": .56, "L": .22, "N": 0}}


def roundup(x):
    i = round(x * 100000)
    return i / 100000.0 if i % 10000 == 0 else (i // 10000 + 1) / 10.0


def cvss3(vector):
    m = dict(p.split(":", 1) for p in vector.split("/")[1:] if ":" in p)
    changed = m["S"] == "C"
    pr = {"N": .85, "L": .68 if changed else .62, "H": .5 if changed else .27}[m["PR"]]
    iss = 1 - (1 - W["C"][m["C"]]) * (1 - W["C"][m["I"]]) * (1 - W["C"][m["A"]])
    impact = 7.52 * (iss - .029) - 3.25 * (iss - .02) ** 15 if changed else 6.42 * iss
    exploit = 8.22 * W["AV"][m["AV"]] * W["AC"][m["AC"]] * pr * W["UI"][m["UI"]]
    if impact <= 0:
        return 0.0
    return roundup(min((1.08 if changed else 1) * (impact + exploit), 10))


def rating(score):
    return "CRITICAL" if score >= 9 else "HIGH" if score >= 7 else "MEDIUM" if score >= 4 else "LOW" if score > 0 else None


def advisory_severity(ids, api):
    """Severity of an advisory from OSV (GitHub's reviewed rating first, else a CVSS v3 vector)."""
    for vid in sorted(ids, key=lambda v: not v.startswith("GHSA-"))[:4]:
        if not api:
            break
        try:  # OSV_API_URL is the project's setting (https; the tests serve 127.0.0.1)
            with urllib.request.urlopen(f"{api.rstrip('/')}/vulns/{vid}", timeout=10) as answer:  # nosec B310
                record = json.load(answer)
        except Exception:  # noqa: BLE001 - an advisory we cannot read is UNKNOWN, never skipped
            continue
        severity = (record.get("database_specific") or {}).get("severity")
        if severity:
            return severity
        for entry in record.get("severity") or []:
            if entry.get("type") == "CVSS_V3" and str(entry.get("score", "")).startswith("CVSS:3"):
                try:
                    return rating(cvss3(entry["score"]))
                except (KeyError, ValueError):
                    pass
    return None


def bandit(report, unknown, api):
    """Findings (blocking only with MEDIUM or HIGH confidence) and files bandit could not read."""
    findings = []
    for issue in report["results"]:
        severity, shown = normalise(issue.get("issue_severity"), unknown)
        confident = str(issue.get("issue_confidence", "")).upper() in ("MEDIUM", "HIGH")
        findings.append(dict(id=issue.get("test_id", "?"), severity=severity, shown=shown, gated=confident,
                             where=f"{issue.get('filename', '?')}:{issue.get('line_number', '?')}",
                             text=f"{issue.get('issue_text', '').strip()} (confidence {issue.get('issue_confidence')})"))
    errors = [f"could not scan {e.get('filename')}: {e.get('reason')}" for e in report.get("errors", [])]
    return findings, "; ".join(errors) or None


def pip_audit(report, unknown, api):
    """Known vulnerabilities of each dependency; a dependency pip-audit skipped is an error."""
    findings = []
    for dep in report["dependencies"]:
        for vuln in dep.get("vulns", []):
            severity, shown = normalise(advisory_severity([vuln["id"]] + vuln.get("aliases", []), api), unknown)
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            findings.append(dict(id=vuln["id"], severity=severity, shown=shown, gated=True,
                                 where=f"{dep['name']}=={dep.get('version')}", text=f"fixed in {fixes}"))
    skipped = [f"{d['name']} not audited: {d['skip_reason']}" for d in report["dependencies"] if d.get("skip_reason")]
    return findings, "; ".join(skipped) or None


def npm_audit(report, unknown, api):
    """Advisories of npm audit (npm 7+ JSON, dev dependencies included) on the package each one names; a package
    listed only through a vulnerable dependency (its `via` names the package) adds nothing. npm's `error` is an error."""
    if "error" in report or "vulnerabilities" not in report:
        error = report.get("error") or {}
        text = error.get("summary") or report.get("message") or "not an npm 7+ audit report (no `vulnerabilities`)"
        detail = str(error.get("detail") or "").strip().splitlines()
        return [], " ".join(filter(None, ["npm audit failed:", error.get("code"), text, detail and f"({detail[0]})"]))
    findings = []
    for name, package in sorted(report["vulnerabilities"].items()):
        fix = package.get("fixAvailable")
        fix = (f"fix: {fix['name']}@{fix['version']}" + (" (semver major)" if fix.get("isSemVerMajor") else "")
               if isinstance(fix, dict) else "fix: npm audit fix" if fix else "no fix yet")
        for via in package.get("via", []):
            if not isinstance(via, dict):
                continue
            raw = str(via.get("severity") or "").upper()
            if raw == "INFO":  # npm's informational advisories are reported, never blocking
                severity, shown, gated = "LOW", "INFO", False
            else:
                score = (via.get("cvss") or {}).get("score")
                severity, shown = normalise(raw or (rating(score) if score else None), unknown)
                gated = True
            vid = str(via.get("url") or "").rstrip("/").rsplit("/", 1)[-1] or f"npm-{via.get('source', '?')}"
            findings.append(dict(id=vid, severity=severity, shown=shown, gated=gated,
                                 where=f"{name}@{package.get('range', '?')} ({', '.join(package.get('nodes', [])[:3])})",
                                 text=f"{via.get('title', '').strip()}; vulnerable {via.get('range', '?')}; {fix}"
                                      + (f"; affects {', '.join(package['effects'])}" if package.get("effects") else "")))
    return findings, None


PARSERS = {"bandit": bandit, "pip-audit": pip_audit, "npm-audit": npm_audit}


def main(reports):
    reports = Path(reports)
    threshold = level(os.environ.get("FAIL_ON_SEVERITY") or "high", "FAIL_ON_SEVERITY")
    unknown = level(os.environ.get("UNKNOWN_SEVERITY") or "high", "UNKNOWN_SEVERITY")
    api = os.environ.get("OSV_API_URL", "https://api.osv.dev/v1")
    blocks = lambda f: f["gated"] and ORDER.index(f["severity"]) >= ORDER.index(threshold)  # noqa: E731
    tools, suites, blocking, broken = {}, [], 0, 0
    for rc_file in sorted(reports.glob("*.rc")):
        tool = rc_file.stem
        rc = rc_file.read_text().strip()
        parser = next((p for name, p in PARSERS.items() if tool == name or tool.startswith(name + "-")), None)
        findings, error = [], None
        try:
            findings, error = parser(json.loads((reports / f"{tool}.json").read_text()), unknown, api)
        except Exception as err:  # noqa: BLE001 - no report or an unreadable one is a scanner failure
            error = f"{tool} exited {rc} without a usable report ({type(err).__name__}: {err}); see its log above"
        for f in findings:
            f["blocking"] = blocks(f)
        tools[tool] = {"exit_code": rc, "error": error, "findings": findings}
        cases = []
        if error:
            broken += 1
            cases.append(f'<testcase classname={quoteattr(tool)} name="{tool} ran"><error message={quoteattr(error)}/></testcase>')
        for f in findings:
            blocking += f["blocking"]
            outcome = ("<failure message=%s/>" % quoteattr(f"{f['shown']}: {f['text']}") if f["blocking"] else
                       "<skipped message=%s/>" % quoteattr(f"{f['shown']} does not block at {threshold}: {f['text']}"))
            cases.append(f'<testcase classname={quoteattr(tool)} name={quoteattr(f["id"] + " " + f["where"])}>{outcome}</testcase>')
        if not cases:
            cases.append(f'<testcase classname={quoteattr(tool)} name="no findings"/>')
        failed = sum(f["blocking"] for f in findings)
        suites.append(f'<testsuite name={quoteattr(tool)} tests="{len(cases)}" failures="{failed}" errors="{int(bool(error))}">'
                      + "".join(cases) + "</testsuite>")
    if not tools:
        broken += 1
        suites.append('<testsuite name="security-scan" tests="1" failures="0" errors="1"><testcase classname="security-scan" '
                      'name="scanners ran"><error message="no scanner left a result"/></testcase></testsuite>')
    (reports / "sast.xml").write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="security-scan">{"".join(suites)}</testsuites>\n')
    summary = {"fail_on_severity": threshold, "unknown_severity": unknown, "blocking": blocking, "scanner_errors": broken, "tools": tools}
    (reports / "findings.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"security scan: FAIL_ON_SEVERITY={threshold} blocks {', '.join(ORDER[ORDER.index(threshold):])}")
    for tool, result in tools.items():
        state = "ERROR" if result["error"] else "ran"
        print(f"  {tool:<28} {state:<6} {len(result['findings'])} finding(s), {sum(f['blocking'] for f in result['findings'])} blocking")
        if result["error"]:
            print(f"    ERROR {result['error']}")
        for f in sorted(result["findings"], key=lambda f: -ORDER.index(f["severity"])):
            print(f"    {'BLOCKS' if f['blocking'] else 'note  '} {f['shown']:<10} {f['id']} {f['where']}: {f['text']}")
    if blocking or broken:
        print(f"security scan FAILED: {blocking} blocking finding(s), {broken} scanner error(s)")
        return 1
    print("security scan passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
