# Gate of image-scan.yml (inlined there by buildspecs/pins.py sync; edit this file, not the copy).
# Waits for ECR's scan of one image, basic or enhanced, and fails on findings at FAIL_ON_SEVERITY or worse.
#   basic scanning:    status IN_PROGRESS -> COMPLETE, findings in imageScanFindings.findings
#   enhanced scanning: Amazon Inspector; status PENDING -> ACTIVE (continuous) or COMPLETE (scan on push),
#                      findings in imageScanFindings.enhancedFindings (each with its own status)
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced-describe-scan-findings.html
# `aws ecr wait image-scan-complete` only knows COMPLETE: with continuous enhanced scanning it would time out.
import json, os, subprocess, sys, time
from xml.sax.saxutils import quoteattr

ORDER = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
ALIASES = {"MODERATE": "MEDIUM", "IMPORTANT": "HIGH"}
BELOW_LOW = {"INFORMATIONAL"}  # reported, never blocks
READY = {"COMPLETE", "ACTIVE"}
WAITING = {"IN_PROGRESS", "PENDING"}


def level(name, variable):
    value = (name or "").strip().upper()
    if value not in ORDER:
        sys.exit(f"{variable} '{name}' is not one of {', '.join(ORDER)} (any case)")
    return value


def describe(repository, image_id):
    """The scan of the image, all pages (the CLI follows nextToken), or (None, error text)."""
    answer = subprocess.run(["aws", "ecr", "describe-image-scan-findings", "--repository-name", repository,
                             "--image-id", image_id, "--output", "json"], capture_output=True, text=True)
    if answer.returncode != 0:
        return None, answer.stderr.strip() or f"aws exited {answer.returncode}"
    return json.loads(answer.stdout), None


def findings_of(scan, unknown):
    body = scan.get("imageScanFindings") or {}
    found = []
    if "enhancedFindings" in body:  # enhanced: only findings Inspector still holds open
        for f in body["enhancedFindings"]:
            if f.get("status", "ACTIVE") != "ACTIVE":
                continue
            details = f.get("packageVulnerabilityDetails") or {}
            packages = ", ".join(f"{p.get('name')} {p.get('version', '')}".strip() for p in details.get("vulnerablePackages", []))
            found.append((f.get("severity"), details.get("vulnerabilityId") or f.get("title", "?"), packages or f.get("title", "")))
    elif "findings" not in body:  # only the counts: one entry per severity
        for severity, count in (body.get("findingSeverityCounts") or {}).items():
            found += [(severity, f"{count} finding(s)", "see the ECR console")] if count else []
    else:
        for f in body["findings"]:
            attributes = {a.get("key"): a.get("value") for a in f.get("attributes", [])}
            found.append((f.get("severity"), f.get("name", "?"),
                          f"{attributes.get('package_name', '')} {attributes.get('package_version', '')}".strip()))
    # The counts cover every finding; more counted than listed means a page was missed: those count too.
    listed = {}
    for f in body.get("enhancedFindings", body.get("findings", [])):
        listed[f.get("severity")] = listed.get(f.get("severity"), 0) + 1
    if "enhancedFindings" in body or "findings" in body:
        for severity, count in (body.get("findingSeverityCounts") or {}).items():
            if count > listed.get(severity, 0):
                found.append((severity, f"{count - listed.get(severity, 0)} unlisted finding(s)", "see the ECR console"))
    result = []
    for severity, vid, where in found:
        value = ALIASES.get(str(severity or "").upper(), str(severity or "").upper())
        if value in BELOW_LOW:
            result.append(dict(id=vid, where=where, severity=None, shown=value))
        elif value in ORDER:
            result.append(dict(id=vid, where=where, severity=value, shown=value))
        else:
            result.append(dict(id=vid, where=where, severity=unknown, shown=f"{value or 'UNKNOWN'} (counted as {unknown})"))
    return result


def main(repository, image_id, report):
    threshold = level(os.environ.get("FAIL_ON_SEVERITY") or "high", "FAIL_ON_SEVERITY")
    unknown = level(os.environ.get("UNKNOWN_SEVERITY") or "high", "UNKNOWN_SEVERITY")
    deadline = time.monotonic() + int(os.environ.get("SCAN_WAIT_SECONDS") or 1800)
    poll = int(os.environ.get("SCAN_POLL_SECONDS") or 15)
    scan, error, status = None, None, "NOT_FOUND"
    while True:
        scan, error = describe(repository, image_id)
        if scan is not None:
            status = (scan.get("imageScanStatus") or {}).get("status", "UNKNOWN")
            description = (scan.get("imageScanStatus") or {}).get("description", "")
            if status in READY:
                error = None
                break
            error = f"scan status {status}: {description}".rstrip(": ")
            if status not in WAITING:
                break
        elif "ScanNotFoundException" not in error:
            break
        if time.monotonic() + poll > deadline:
            error = (f"gave up after SCAN_WAIT_SECONDS: {error}; with basic scanning the repository needs scan on push, "
                     "with enhanced scanning its name must match a scan-on-push or continuous filter")
            break
        print(f"waiting for the scan of {image_id}: {status if scan else 'not started'}")
        time.sleep(poll)
    kind = "enhanced" if scan and "enhancedFindings" in (scan.get("imageScanFindings") or {}) else "basic"
    findings = findings_of(scan, unknown) if scan and not error else []
    for f in findings:
        f["blocking"] = f["severity"] is not None and ORDER.index(f["severity"]) >= ORDER.index(threshold)
    blocking = [f for f in findings if f["blocking"]]
    cases = []
    if error:
        cases.append(f'<testcase classname="image-scan" name="scan of {image_id}"><error message={quoteattr(error)}/></testcase>')
    for f in findings:
        outcome = (f"<failure message={quoteattr(f['shown'] + ' ' + f['where'])}/>" if f["blocking"] else
                   f"<skipped message={quoteattr(f['shown'] + ' does not block at ' + threshold)}/>")
        cases.append(f'<testcase classname="image-scan" name={quoteattr(f["id"] + " " + f["where"])}>{outcome}</testcase>')
    if not cases:
        cases.append(f'<testcase classname="image-scan" name="no findings in {image_id}"/>')
    with open(report, "w") as out:
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="image-scan" tests="{len(cases)}" '
                  f'failures="{len(blocking)}" errors="{int(bool(error))}">{"".join(cases)}</testsuite>\n')
    print(f"image scan ({kind} scanning, status {status}) of {repository} {image_id}: FAIL_ON_SEVERITY={threshold} "
          f"blocks {', '.join(ORDER[ORDER.index(threshold):])}")
    for f in sorted(findings, key=lambda f: -1 if f["severity"] is None else -ORDER.index(f["severity"])):
        print(f"  {'BLOCKS' if f['blocking'] else 'note  '} {f['shown']:<10} {f['id']} {f['where']}")
    if error:
        print(f"image scan FAILED: {error}")
        return 1
    if blocking:
        print(f"image scan FAILED: {len(blocking)} finding(s) at {threshold} or worse")
        return 1
    print(f"image scan passed: {len(findings)} finding(s), none at {threshold} or worse")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
