#!/usr/bin/env bash
# Create (idempotently) the LocalStack venv used by tests/localstack_server.py.
#
#   scripts/localstack_venv.sh            # -> <project>/.venv-localstack
#   LOCALSTACK_VENV=/some/dir scripts/localstack_venv.sh
#
# Needs a Python >= 3.12 (prefers 3.13): python3.13/python3.12 on PATH, else
# pyenv-installed 3.13.x/3.12.x. Re-running is a no-op while the venv exists and
# its stamp matches the hash of requirements-localstack.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/requirements-localstack.txt"
VENV="${LOCALSTACK_VENV:-$ROOT/.venv-localstack}"
STAMP="$VENV/.requirements-localstack.sha256"

log() { echo "localstack_venv: $*"; }

[ -f "$REQ" ] || { echo "localstack_venv: ERROR: $REQ not found" >&2; exit 1; }
REQ_HASH="$(sha256sum "$REQ" | cut -d' ' -f1)"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$REQ_HASH" ]; then
    log "up to date: $VENV (requirements hash ${REQ_HASH:0:12}), nothing to do"
    exit 0
fi

py_ok() {  # $1: interpreter path; true if it runs and is >= 3.12
    [ -n "$1" ] && [ -x "$1" ] &&
        "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    local cand p root v
    # 1. PATH (pyenv shims included; they fail py_ok if the version isn't active)
    for cand in python3.13 python3.12; do
        p="$(command -v "$cand" 2>/dev/null || true)"
        if py_ok "$p"; then echo "$p"; return 0; fi
    done
    # 2. pyenv-installed versions, newest 3.13.x first, then 3.12.x
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root 2>/dev/null || true)"
        if [ -n "$root" ] && [ -d "$root/versions" ]; then
            for cand in 3.13 3.12; do
                for v in $(ls -1 "$root/versions" 2>/dev/null | grep -E "^${cand//./\\.}\.[0-9]+$" | sort -t. -k3,3nr); do
                    p="$(PYENV_VERSION="$v" pyenv which "python$cand" 2>/dev/null || true)"
                    if py_ok "$p"; then echo "$p"; return 0; fi
                    p="$root/versions/$v/bin/python$cand"
                    if py_ok "$p"; then echo "$p"; return 0; fi
                done
            done
        fi
    fi
    return 1
}

PY="$(find_python)" || {
    echo "localstack_venv: ERROR: no Python >= 3.12 found (tried python3.13/python3.12 on PATH and pyenv 3.13.x/3.12.x); localstack-core 2026.3.0 needs one" >&2
    exit 1
}
log "using $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"

if [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
    log "reusing existing venv $VENV (requirements changed or not yet installed)"
else
    [ -e "$VENV" ] && { log "removing unusable $VENV"; rm -rf "$VENV"; }
    log "creating venv $VENV"
    "$PY" -m venv "$VENV"
fi

rm -f "$STAMP"
start=$(date +%s)
log "pip installing $REQ (takes ~2 min on a fresh venv)"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
echo "$REQ_HASH" > "$STAMP"
log "done in $(( $(date +%s) - start ))s: $VENV ($("$VENV/bin/python" -m pip show localstack-core 2>/dev/null | grep -m1 '^Version' || true))"
