"""Engine errors are classified by their type and HTTP status code, never by their text (pure)."""

from __future__ import annotations

import docker.errors
import pytest
import requests

from sigma_exec.docker_backend import _translate
from sigma_exec.errors import (
    ContainerNotFoundError,
    DockerUnavailableError,
    EngineConflictError,
    SandboxError,
)


def _api_error(status: int, explanation: str, cls: type[docker.errors.APIError] = docker.errors.APIError):
    response = requests.Response()
    response.status_code = status
    return cls("engine said no", response=response, explanation=explanation)


@pytest.mark.parametrize(
    ("status", "explanation", "expected", "retryable"),
    [
        (500, 'OCI runtime create failed: exec: "/": is a directory: unknown', SandboxError, False),
        (500, "unknown or invalid runtime name: sigma-none", SandboxError, False),
        (400, "invalid reference format", SandboxError, False),
        (503, "no such thing, but the daemon is shutting down", DockerUnavailableError, True),
        (502, "bad gateway", DockerUnavailableError, True),
        (409, "removal of container abc is already in progress", EngineConflictError, False),
    ],
)
def test_api_errors_are_classified_by_status(status: int, explanation: str, expected: type, retryable: bool) -> None:
    with pytest.raises(expected) as caught, _translate():
        raise _api_error(status, explanation)
    assert caught.value.retryable is retryable
    assert explanation in str(caught.value)  # the engine's own message is kept


def test_not_found_names_the_container_and_transport_errors_are_retryable() -> None:
    with pytest.raises(ContainerNotFoundError, match="abc"), _translate("abc"):
        raise _api_error(404, "No such container: abc", docker.errors.NotFound)
    with pytest.raises(DockerUnavailableError), _translate("abc"):
        raise requests.exceptions.ConnectionError("connection refused")
