"""Run LocalStack (host mode, no Docker, no network) on 127.0.0.1 for tests.

Usage from a test module or conftest::

    from localstack_server import localstack, client  # noqa: F401  (fixture)

    def test_x(localstack):
        cf = client("cloudformation", localstack.endpoint_url)

or without pytest::

    server = start_localstack()
    try: ...
    finally: server.stop()

LocalStack runs from its own venv (``.venv-localstack`` in the project root, or
``$LOCALSTACK_VENV``), created on demand by ``scripts/localstack_venv.sh``
(localstack-core 2026.3.0 needs Python >= 3.12). The server is started as
``<venv>/bin/python -m localstack.runtime.main`` -- the in-process host-mode
runtime; ``localstack start`` would go through Docker.

Offline, LocalStack cannot create DynamoDB tables or Lambda functions (they need
downloaded binaries); stick to s3/sns/sqs/kms/logs/iam/events/ssm/ec2/cloudformation.
"""

from __future__ import annotations

import atexit
import os
import tempfile

import pytest

from generator.localserver import (  # noqa: F401  (re-exported for the tests)
    ENTRYPOINT, PROJECT_ROOT, STARTUP_TIMEOUT, TEST_CREDENTIALS, TEST_REGION, VENV_SCRIPT, LocalStackServer,
    _check_loopback, _no_proxy_opener, _server_env, aws_env, ensure_venv, free_port, start_localstack, venv_dir,
)


@pytest.fixture(scope="session")
def localstack():
    """Session-wide LocalStack; yields the LocalStackServer (``.endpoint_url``)."""
    try:
        server = start_localstack()
    except RuntimeError as e:
        pytest.fail(f"LocalStack could not be started: {e}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


_EMPTY_AWS_CONFIG: str | None = None


def _empty_aws_config() -> str:
    global _EMPTY_AWS_CONFIG
    if _EMPTY_AWS_CONFIG is None or not os.path.exists(_EMPTY_AWS_CONFIG):
        fd, path = tempfile.mkstemp(prefix="localstack-test-aws-config-")
        with os.fdopen(fd, "w") as f:
            f.write("[default]\n")
        atexit.register(lambda: os.path.exists(path) and os.unlink(path))
        _EMPTY_AWS_CONFIG = path
    return _EMPTY_AWS_CONFIG


def client(service: str, endpoint_url: str, **kwargs):
    """A boto3 client for LocalStack with explicit test credentials and region.

    Never reads ~/.aws/{config,credentials}, AWS_PROFILE, AWS_ENDPOINT_URL* or
    HTTP(S)_PROXY from the environment, and refuses non-loopback endpoints, so a
    test can't reach real AWS by accident.
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    _check_loopback(endpoint_url)
    bs = botocore.session.Session()
    # an empty "[default]" config instead of ~/.aws/config, and profile "default"
    # set on the session (wins over AWS_PROFILE, which would name a missing profile)
    bs.set_config_variable("config_file", _empty_aws_config())
    bs.set_config_variable("credentials_file", os.devnull)
    bs.set_config_variable("profile", "default")
    session = boto3.session.Session(botocore_session=bs)
    config = Config(
        proxies={},  # {} (not None) disables proxies from the environment
        s3={"addressing_style": "path"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
    )
    if "config" in kwargs:
        config = config.merge(kwargs.pop("config"))
    return session.client(
        service,
        endpoint_url=endpoint_url,
        region_name=TEST_REGION,
        config=config,
        **TEST_CREDENTIALS,
        **kwargs,
    )
