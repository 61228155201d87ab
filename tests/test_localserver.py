"""``cfn-delivery local-server`` and ``make localstack``: start the tests' local CloudFormation server on
127.0.0.1, print the endpoint and the environment to export, and stop cleanly on Ctrl-C."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest

from tests.helpers import ROOT
from tests.localstack_server import aws_env, client


def _env():
    return {k: v for k, v in aws_env("http://127.0.0.1:1").items() if k not in ("AWS_ENDPOINT_URL",)}


def _start_print_stop(command, env) -> str:
    """Run ``command``, read up to its Ctrl-C line, check the server answers, send Ctrl-C (SIGINT to
    its process group, as a terminal does) and check that nothing listens any more; its output."""
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    lines, endpoint = [], None
    try:
        deadline = time.monotonic() + 180
        while endpoint is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"local CloudFormation server: (http://127\.0\.0\.1:\d+)", line)
            endpoint = found.group(1) if found else None
        assert endpoint, "".join(lines) + proc.stderr.read() if proc.poll() is not None else "".join(lines)
        while "Ctrl-C" not in lines[-1]:
            lines.append(proc.stdout.readline())
        text = "".join(lines)
        assert f"export AWS_ENDPOINT_URL={endpoint}" in text and "export AWS_REGION=" in text
        assert "placeholders" in text
        # it answers CloudFormation on loopback only
        assert client("cloudformation", endpoint).list_stacks()["ResponseMetadata"]["HTTPStatusCode"] == 200
        port = urllib.parse.urlsplit(endpoint).port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "local server stopped" in out, err
    with socket.socket() as probe:  # nothing listens any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return proc.returncode, text + out, err


def test_local_server_starts_prints_its_endpoint_and_stops_on_ctrl_c():
    code, out, err = _start_print_stop([sys.executable, "-m", "generator.cli", "local-server"], _env())
    assert code == 0, err


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_localstack_starts_prints_its_endpoint_and_stops_on_ctrl_c(tmp_path):
    """The Makefile target itself. Its project venv is stood in for (this checkout's code through a
    ``cfn-delivery`` shim in BIN, a fresh STAMP so nothing is installed); its ``localstack-venv``
    step runs as written (a no-op when the LocalStack venv is up to date)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "cfn-delivery"
    shim.write_text(f"#!/bin/sh\nexec '{sys.executable}' -m generator.cli \"$@\"\n")
    shim.chmod(0o755)
    stamp = tmp_path / "installed-stamp"
    stamp.touch()
    command = ["make", "--no-print-directory", "localstack", f"BIN={bin_dir}", f"STAMP={stamp}"]
    code, out, err = _start_print_stop(command, dict(_env(), PATH=os.environ.get("PATH", "/usr/bin:/bin")))
    assert f"{bin_dir}/cfn-delivery local-server" in out  # the recipe make ran
    # make itself ends by the Ctrl-C (killed by SIGINT, or "Interrupt" and exit 2); the server stopped cleanly
    assert code in (-signal.SIGINT, 2, 130) and "Traceback" not in err, (code, err)
