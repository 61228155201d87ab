"""Fixtures for the integ tests: offline clients (Stubber) and a fake clock."""
from __future__ import annotations

import boto3
import pytest

from generator.deploy import aws

OFFLINE = "http://127.0.0.1:9"   # nothing listens: a call the Stubber does not expect fails loudly


def offline_client(service):
    return boto3.session.Session().client(service, region_name="eu-west-1", aws_access_key_id="a",
                                          aws_secret_access_key="b", endpoint_url=OFFLINE)


def stubbed_clients(*clients_by_service):
    """``deploy.aws.Clients`` whose ``get(service)`` returns the given (stubbed) clients."""
    clients = aws.Clients(aws.Target(region="eu-west-1"),
                          session=boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b",
                                                        region_name="eu-west-1"))
    for service, client in clients_by_service:
        clients._clients[service] = client
    return clients


class FakeClock:
    """``clock`` and ``sleep`` for waiting loops: sleeping advances time, nothing waits."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()
