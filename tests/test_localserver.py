"""``cfn-delivery local-server`` (``make localstack``): starts the tests' local CloudFormation server on
127.0.0.1, prints the endpoint and the environment to export, and stops cleanly on Ctrl-C."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from tests.helpers import ROOT
from tests.localstack_server import aws_env, client


def test_local_server_starts_prints_its_endpoint_and_stops_on_ctrl_c():
    env = {k: v for k, v in aws_env("http://127.0.0.1:1").items() if k not in ("AWS_ENDPOINT_URL",)}
    proc = subprocess.Popen([sys.executable, "-m", "generator.cli", "local-server"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
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
    assert proc.returncode == 0, err
    assert "local server stopped" in out
    with socket.socket() as probe:  # nothing listens any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0
