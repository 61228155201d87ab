#!/usr/bin/env python3
"""Pinned tools and inlined scripts of the buildspecs: refresh the locks, copy them into the buildspecs.

The gate buildspecs (security-scan, image-scan, test, smoke-test) are rendered into the pipeline
templates, so they may not read helper files from the source artifact. What they need is written
into them between heredoc markers::

    cat > /tmp/requirements-scan.txt <<'EOF'
    # inline: buildspecs/requirements-scan.txt
    ...
    EOF

``sync`` replaces each such body with the named file (lock files without their comment lines);
``check`` fails when a buildspec holds a stale copy (``tests/test_buildspecs.py`` runs it);
``lock`` resolves every ``*.in`` file below for CPython 3.12 on Linux (x86_64 and aarch64, what
CodeBuild's standard images and ``python:3.12-slim`` run) and writes the ``.txt`` lock beside it:
each package pinned with ``==`` and the sha256 of exactly the wheels pip may install there.

    python buildspecs/pins.py lock      # needs PyPI and `uv` (pip install uv), then:
    python buildspecs/pins.py sync
    python buildspecs/pins.py check

Hashes come from the files pip downloads from the index (pip's default, so never the machine's
local wheel folders), hashed here as ``pip hash`` does. Only wheels are pinned (``--only-binary
:all:``): an sdist would build with build dependencies that ``--require-hashes`` does not cover.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILDSPECS = ROOT / "buildspecs"
#: Lock inputs: each ``X.in`` gives ``X.txt`` beside it.
LOCK_INPUTS = (
    BUILDSPECS / "requirements-scan.in",
    BUILDSPECS / "requirements-sbom.in",
    BUILDSPECS / "requirements-jscheck.in",
    ROOT / "examples" / "sample-app" / "requirements.in",
    ROOT / "examples" / "sample-app" / "requirements-dev.in",
)
PYTHON_VERSION = "3.12"
PLATFORMS = {
    "x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64", "linux_x86_64"),
    "aarch64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64", "linux_aarch64"),
}
INLINE = re.compile(r"^(?P<indent>[ \t]*)# inline: (?P<path>\S+)[ \t]*$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _clean_env() -> dict:
    """pip and uv with their defaults: no find-links folders or extra indexes of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_")) or k in ("PIP_CERT",)}
    env.update(PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def resolve(source: Path) -> list:
    """``name==version`` of everything ``source`` needs on CPython 3.12 / Linux, wheels only."""
    uv = os.environ.get("UV", "uv")
    out = subprocess.run(
        [uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--only-binary", ":all:",
         "--python-version", PYTHON_VERSION, "--python-platform", "x86_64-manylinux_2_28", str(source)],
        check=True, capture_output=True, text=True, env=_clean_env()).stdout
    return [line.strip() for line in out.splitlines() if PIN.match(line.strip())]


def wheel_hashes(pins: list) -> dict:
    """{pin: sorted sha256 of the wheels pip would pick for CPython 3.12 on each Linux platform}."""
    hashes = {pin: set() for pin in pins}
    names = {PIN.match(pin).group(1).lower().replace("_", "-").replace(".", "-"): pin for pin in pins}
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "pins.txt"
        requirements.write_text("\n".join(pins) + "\n")
        for arch, platforms in PLATFORMS.items():
            folder = Path(tmp) / arch
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                       "--python-version", PYTHON_VERSION, "--implementation", "cp", "--abi", "cp312",
                       "--dest", str(folder), "-r", str(requirements)]
            for platform in platforms:
                command += ["--platform", platform]
            subprocess.run(command, check=True, env=_clean_env())
            for wheel in sorted(folder.glob("*.whl")):
                project = wheel.name.split("-")[0].lower().replace("_", "-").replace(".", "-")
                hashes[names[project]].add(hashlib.sha256(wheel.read_bytes()).hexdigest())
    missing = [pin for pin, found in hashes.items() if not found]
    if missing:
        raise SystemExit(f"no wheel found for {', '.join(missing)}")
    return {pin: sorted(found) for pin, found in hashes.items()}


def lock(source: Path) -> Path:
    target = source.with_suffix(".txt")
    pins = resolve(source)
    hashes = wheel_hashes(pins)
    header = [line for line in source.read_text().splitlines() if line.startswith("#")]
    lines = header + [
        f"# Lock of {source.name} for CPython {PYTHON_VERSION} on Linux x86_64/aarch64, wheels only;",
        "# generated by buildspecs/pins.py lock (do not edit; see docs/scanning.md).",
    ]
    for pin in pins:
        lines.append(pin + " \\")
        lines += [f"    --hash=sha256:{h} \\" for h in hashes[pin][:-1]] + [f"    --hash=sha256:{hashes[pin][-1]}"]
    target.write_text("\n".join(lines) + "\n")
    return target


def inline_text(path: Path) -> list:
    """What a buildspec carries of ``path``: a lock file's requirement lines, a script as is."""
    lines = path.read_text().splitlines()
    if path.suffix == ".txt":
        lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return lines


def synced(text: str) -> str:
    """``text`` of a buildspec with every ``# inline:`` heredoc body replaced by its file."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        match = INLINE.match(line)
        i += 1
        if not (match and out[-2:-1] and out[-2].rstrip().endswith("<<'EOF'")):
            continue
        indent = match.group("indent")
        end = i
        while end < len(lines) and lines[end] != indent + "EOF":
            end += 1
        if end == len(lines):
            raise SystemExit(f"unterminated heredoc after '{line.strip()}'")
        out += [(indent + body) if body else "" for body in inline_text(ROOT / match.group("path"))]
        i = end
    return "\n".join(out) + "\n"


def inlined_paths(text: str) -> list:
    return [m.group("path") for m in (INLINE.match(line) for line in text.splitlines()) if m]


def stale() -> list:
    return [p.name for p in sorted(BUILDSPECS.glob("*.yml")) if synced(p.read_text()) != p.read_text()]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else "check"
    if command == "lock":
        for source in LOCK_INPUTS:
            print(f"wrote {lock(source).relative_to(ROOT)}")
        return 0
    if command == "sync":
        for path in sorted(BUILDSPECS.glob("*.yml")):
            text = synced(path.read_text())
            if text != path.read_text():
                path.write_text(text)
                print(f"updated {path.relative_to(ROOT)}")
        return 0
    if command == "check":
        names = stale()
        if names:
            print(f"stale inline copies in {', '.join(names)}: run python buildspecs/pins.py sync", file=sys.stderr)
            return 1
        return 0
    print("usage: pins.py lock|sync|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
