"""Fixtures of the MySQL image tests (run by `invoke verify` with -p mysqlbuild.testing).

The plugin gives ``image``, ``docker_client``, ``image_host``; these add
containers with init files, secrets and volumes (see imagetest.py).
"""
from __future__ import annotations

import pytest

from imagetest import Servers


@pytest.fixture
def servers(docker_client, image):
    """Containers for one test."""
    made = Servers(docker_client, image)
    yield made
    made.cleanup()


@pytest.fixture(scope="module")
def module_servers(docker_client, image):
    """Containers shared by the tests of one module (one initialisation, many checks)."""
    made = Servers(docker_client, image)
    yield made
    made.cleanup()


@pytest.fixture(scope="session")
def image_config(docker_client, image) -> dict:
    return docker_client.images.get(image).attrs["Config"]

