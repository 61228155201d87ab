"""No credential-looking value in a template or parameter file.

Two passes: well-known token shapes anywhere in the file text (AWS access key ids, GitHub and
Slack tokens, private key blocks), and, structurally, any key named like a secret (password,
secret, token, api key, private key...) holding a literal value rather than an SSM/Secrets Manager
dynamic reference (``{{resolve:ssm-secure:...}}``, ``{{resolve:secretsmanager:...}}``), a ``Ref``
or another intrinsic. Secrets reach resources only through those references.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .. import yamlio

TOKEN_PATTERNS = [
    ("AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("AWS secret access key", re.compile(
        r"(?i)aws.{0,20}secret.{0,20}[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")),
    ("GitHub token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}\b")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")),
    ("password assignment", re.compile(
        r"(?i)[\"'](?:password|passwd|pwd|secret|client_secret|api_?key|access_?token|auth_?token)[\"']\s*:\s*"
        r"[\"'](?!\{\{resolve:)[^\"'\s]{3,}[\"']")),
]

SECRET_NAME = re.compile(r"(?i)(password|passwd|passphrase|secret|token|api_?key|private_?key|credential)")
#: A name ending like this points at a secret (its ARN, id, name, parameter path), it is not one.
POINTER_SUFFIX = re.compile(r"(?i)(arn|id|ids|name|path|prefix|parameter|ref|length|type|policy|rotation\w*|"
                            r"stringtemplate|generatesecretstring|excludecharacters|keyname)$")
DYNAMIC_REFERENCE = re.compile(r"^\{\{resolve:(ssm-secure|secretsmanager|ssm):")


def _literal_secret(value) -> bool:
    return isinstance(value, str) and value.strip() != "" and not DYNAMIC_REFERENCE.match(value.strip())


def _walk(value, path):
    if isinstance(value, dict):
        for key, item in value.items():
            yield path + [str(key)], key, item
            yield from _walk(item, path + [str(key)])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, path + [str(index)])


def scan_text(label: str, text: str) -> list:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in TOKEN_PATTERNS:
            if pattern.search(line):
                problems.append(f"{label}:{number}: looks like a {what}; keep secrets in SSM Parameter Store "
                                f"or Secrets Manager and reference them")
    return problems


def scan_structure(label: str, data) -> list:
    problems = []
    for path, key, value in _walk(data, []):
        if not isinstance(key, str) or not SECRET_NAME.search(key) or POINTER_SUFFIX.search(key):
            continue
        if path[:1] == ["Parameters"] and len(path) == 2 and isinstance(value, dict):
            # a template parameter's declaration: a secret parameter has no literal default
            if _literal_secret(value.get("Default")):
                problems.append(f"{label}: {'/'.join(path)} has a literal Default; a secret gets no default")
            continue
        if path[:1] == ["Metadata"] or "Metadata" in path[2:3]:
            continue
        if _literal_secret(value):
            problems.append(f"{label}: {'/'.join(path)} holds a literal value; use a "
                            f"{{{{resolve:secretsmanager:...}}}} or {{{{resolve:ssm-secure:...}}}} reference")
    return problems


def scan_file(path: Path, label: str = None) -> list:
    path = Path(path)
    label = label or str(path)
    text = path.read_text(encoding="utf-8")
    problems = scan_text(label, text)
    data = json.loads(text) if path.suffix == ".json" else yamlio.load_file(path)
    problems += scan_structure(label, data)
    return problems
