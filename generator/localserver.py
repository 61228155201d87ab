"""A local CloudFormation server (LocalStack in host mode: no Docker, no network) on 127.0.0.1.

The test suite starts and stops it (``tests/localstack_server.py``), and so does
``cfn-delivery local-server`` / ``make localstack`` for users who want to try a deploy locally.
LocalStack runs from its own venv (``.venv-localstack`` in the project root, or
``$LOCALSTACK_VENV``), created on demand by ``scripts/localstack_venv.sh`` (localstack-core needs
Python >= 3.12). The server is started as ``<venv>/bin/python -m localstack.runtime.main``, the
in-process host-mode runtime; ``localstack start`` would go through Docker.

What it does not emulate (docs/operations.md): ECS, CodeDeploy, Elastic Beanstalk and load
balancers are placeholders; offline it cannot create Lambda functions or DynamoDB tables; stack
policies, termination protection and rollback triggers are not enforced.
"""
from __future__ import annotations

import atexit
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # generator/.. is the project root
VENV_SCRIPT = PROJECT_ROOT / "scripts" / "localstack_venv.sh"
ENTRYPOINT = ["-m", "localstack.runtime.main"]

TEST_REGION = "us-east-1"
TEST_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}

STARTUP_TIMEOUT = float(os.environ.get("LOCALSTACK_STARTUP_TIMEOUT", "60"))

#: Resource types LocalStack cannot create without downloading runtimes (no network here): a stack
#: with one is not deployed locally (tests/deploy/test_real_stacks.py, bench/bench.py).
OFFLINE_UNSUPPORTED = {
    "AWS::Lambda::Function": "Lambda functions need runtime images downloaded at create time",
    "AWS::Serverless::Function": "Lambda functions need runtime images downloaded at create time",
    "AWS::DynamoDB::Table": "DynamoDB tables need DynamoDB Local downloaded at create time",
    "AWS::DynamoDB::GlobalTable": "DynamoDB tables need DynamoDB Local downloaded at create time",
}


def venv_dir() -> Path:
    return Path(os.environ.get("LOCALSTACK_VENV") or PROJECT_ROOT / ".venv-localstack")


def ensure_venv() -> Path:
    """Return the venv python, running scripts/localstack_venv.sh (a no-op when the
    venv is up to date) first. Raises RuntimeError with the script output on failure."""
    env = dict(os.environ, LOCALSTACK_VENV=str(venv_dir()))
    proc = subprocess.run(
        ["bash", str(VENV_SCRIPT)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    python = venv_dir() / "bin" / "python"
    if proc.returncode != 0 or not python.exists():
        tail = "\n".join(proc.stdout.strip().splitlines()[-20:])
        raise RuntimeError(
            f"could not create the LocalStack venv at {venv_dir()} "
            f"({VENV_SCRIPT.name} exited {proc.returncode}):\n{tail}"
        )
    return python


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    # never route the health probe through an HTTP(S)_PROXY from the environment
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _server_env(port: int, workdir: Path) -> dict[str, str]:
    """A minimal environment: nothing from the user's AWS_*/LocalStack config, no
    proxies, HOME in the temp dir (so no ~/.aws, ~/.cache/localstack)."""
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(workdir / "home"),
        # bind 127.0.0.1 only (the default server binds every address)
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "GATEWAY_SERVER": "hypercorn",
        # URLs LocalStack hands back (e.g. SQS QueueUrl) point at loopback, not
        # *.localhost.localstack.cloud (which would need a public DNS lookup)
        "LOCALSTACK_HOST": f"127.0.0.1:{port}",
        "SQS_ENDPOINT_STRATEGY": "path",
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "PERSISTENCE": "0",
        # state/cache/tmp all inside our temp dir. TMPDIR matters: LocalStack's
        # TMP_FOLDER is $TMPDIR/localstack and it is cleared at startup, so a
        # shared /tmp/localstack would be clobbered by parallel runs. (LocalStack
        # logs a harmless "TMPDIR is deprecated" warning for it.)
        "FILESYSTEM_ROOT": str(workdir / "fs"),
        "LOCALSTACK_VOLUME_DIR": str(workdir / "volume"),
        "TMPDIR": str(tmp),
        "PYTHONUNBUFFERED": "1",
    }
    (workdir / "home").mkdir(exist_ok=True)
    return env


class LocalStackServer:
    def __init__(self, proc: subprocess.Popen, port: int, workdir: Path, log_path: Path):
        self.proc = proc
        self.port = port
        self.workdir = workdir
        self.log_path = log_path
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self.startup_seconds: float | None = None
        self._stopped = False

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def health(self) -> dict:
        with _no_proxy_opener().open(self.endpoint_url + "/_localstack/health", timeout=2) as r:
            return json.loads(r.read().decode())

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        start = time.monotonic()
        deadline = start + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"LocalStack exited with code {self.proc.returncode} during startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if self.health().get("services", {}).get("cloudformation") in (
                    "available",
                    "running",
                ):
                    self.startup_seconds = time.monotonic() - start
                    return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"LocalStack did not answer {self.endpoint_url}/_localstack/health "
                    f"within {timeout:.0f}s; log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self, keep_workdir: bool = False) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL after 10 s) and wait.
        Idempotent; also registered with atexit."""
        if self._stopped:
            return
        self._stopped = True
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                # shutdown normally takes ~2 s; it has been seen to hang
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        else:
            # the server's own children may outlive it in the group
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not keep_workdir and not os.environ.get("LOCALSTACK_KEEP_WORKDIR"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_localstack(timeout: float = STARTUP_TIMEOUT, attempts: int = 3) -> LocalStackServer:
    """Start LocalStack on a free 127.0.0.1 port and wait until CloudFormation is up."""
    python = ensure_venv()
    last_error: Exception | None = None
    for _ in range(attempts):  # retry only for the free-port race / early exit
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="localstack-"))
        log_path = workdir / "localstack.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(python), *ENTRYPOINT],
                cwd=workdir,
                env=_server_env(port, workdir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, killed as a whole in stop()
            )
        server = LocalStackServer(proc, port, workdir, log_path)
        atexit.register(server.stop, keep_workdir=False)
        try:
            server.wait_ready(timeout)
            return server
        except RuntimeError as e:
            last_error = e
            exited_early = proc.poll() is not None
            server.stop(keep_workdir=True)
            if not exited_early:  # a timeout: retrying won't help
                break
    raise RuntimeError(str(last_error))


def _check_loopback(endpoint_url: str) -> None:
    host = urllib.parse.urlsplit(endpoint_url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise ValueError(f"refusing a non-loopback AWS endpoint in tests: {endpoint_url!r}")


def aws_env(endpoint_url: str) -> dict[str, str]:
    """Environment for running a subprocess (e.g. a deploy CLI) against LocalStack:
    os.environ minus the user's AWS settings/proxies, plus test creds and endpoint."""
    _check_loopback(endpoint_url)
    drop_prefixes = ("AWS_",)
    drop = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop_prefixes) and k not in drop
    }
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION=TEST_REGION,
        AWS_REGION=TEST_REGION,
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def register(sub):
    """``cfn-delivery local-server``: start the server, print how to use it, stop it on Ctrl-C."""
    p = sub.add_parser(
        "local-server", help="run the local CloudFormation server the tests use (127.0.0.1) until Ctrl-C",
        description="Start LocalStack (host mode, loopback only) as the test suite does, print its endpoint and "
                    "the environment to export, and stop it cleanly on Ctrl-C or SIGTERM. ECS, CodeDeploy, Elastic "
                    "Beanstalk and load balancers are placeholders there: a local success is not a real one "
                    "(docs/operations.md).")
    p.add_argument("--timeout", type=float, default=STARTUP_TIMEOUT, help="seconds to wait for the server to start")
    p.set_defaults(func=run)
    return p


def _first_environment() -> str:
    """The model's first environment outside tools (the hint deploys there), or tools itself."""
    from . import model as delivery_model

    try:
        current = delivery_model.current()
    except Exception:  # the hint must not stop the server: a broken model is reported by deploy itself
        return "<env>"
    others = [name for name in current.environment_names if name != current.tools]
    return (others or [current.tools])[0]


def run(args) -> int:
    import sys

    try:
        server = start_localstack(timeout=args.timeout)
    except RuntimeError as err:
        print(f"error: local server did not start: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    stop = {"signal": None}

    def on_signal(number, _frame):
        stop["signal"] = number

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"local CloudFormation server: {server.endpoint_url} (started in {server.startup_seconds:.1f}s)")
        print("use it from another shell:")
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
            print(f"  export {key}={aws_env(server.endpoint_url)[key]}")
        print(f"  .venv/bin/cfn-delivery deploy --env {_first_environment()} --all --dry-run "
              f"--endpoint-url {server.endpoint_url}")
        print("ECS, CodeDeploy, Beanstalk and load balancers are placeholders here (docs/operations.md). "
              "Ctrl-C stops the server.", flush=True)
        while stop["signal"] is None and server.proc.poll() is None:
            time.sleep(0.2)
        if stop["signal"] is None:
            print(f"error: the local server exited ({server.proc.returncode}); log:\n{server.log_tail()}",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        server.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
        print("local server stopped", flush=True)
