"""Fixtures for the server-sent events tests: the runtime's fake Runtime API, for in-process streams."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runtime.fake_runtime_api import FakeRuntimeApi
from stream_fn.runtime_api import RuntimeApiClient


@pytest.fixture
def fake_api() -> Iterator[FakeRuntimeApi]:
    with FakeRuntimeApi() as api:
        yield api


@pytest.fixture
def client(fake_api: FakeRuntimeApi) -> Iterator[RuntimeApiClient]:
    client = RuntimeApiClient(fake_api.address, "test-agent")
    yield client
    client.close()
