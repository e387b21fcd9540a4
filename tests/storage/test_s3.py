"""The s3:// backend against a real S3-protocol server on loopback (moto, behind tests/fixtures/s3server.py)."""

from __future__ import annotations

import random

import pytest
import requests

from scout_jupyter.storage.retry import RetryPolicy
from scout_jupyter.storage.s3 import S3Storage

from .conformance import StorageConformance

pytestmark = pytest.mark.s3


def make_storage(server, bucket, *, prefix="", clock=None, retry=None, **options):
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    return S3Storage(url, clock=clock, retry=retry, endpoint_url=server.endpoint_url, region=server.region,
                     access_key=server.access_key, secret_key=server.secret_key, **options)


class TestS3Conformance(StorageConformance):
    @pytest.fixture
    def clock(self, fake_clock, s3_server, s3_bucket):
        s3_server.guard.clock = fake_clock   # the server checks presigned URLs against this clock
        return fake_clock

    @pytest.fixture
    def storage(self, s3_server, s3_bucket, clock):
        retry = RetryPolicy(sleep=clock.sleep, rng=random.Random(7))
        store = make_storage(s3_server, s3_bucket, prefix="root/scout-data", clock=clock, retry=retry)
        yield store
        store.close()

    @pytest.fixture
    def fetch(self):
        def _fetch(url):
            response = requests.get(url, timeout=10)
            return response.status_code, response.content
        return _fetch
