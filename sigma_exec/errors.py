"""The one error tree of sigma-exec.

    SigmaExecError
    ├── RetryableError            infrastructure blips: worth retrying later
    │   ├── DockerUnavailableError
    │   └── BrokerUnavailableError
    └── PermanentError            the request itself is wrong: never retried
        ├── InvalidRequestError
        │   ├── UnknownLanguageError
        │   ├── WorkspaceError
        │   └── InvalidChangeError
        ├── ContainerNotFoundError
        ├── ImageBuildError
        └── SandboxError
            └── EngineConflictError

The public `DockerExecutor` API never raises these for a failed operation; it
turns them into `success=False, error="..."` results.
"""

from __future__ import annotations


class SigmaExecError(Exception):
    """Root of every error sigma-exec raises on purpose."""

    retryable: bool = False


class RetryableError(SigmaExecError):
    """Raised when infrastructure failed in a way that may heal by itself."""

    retryable = True


class DockerUnavailableError(RetryableError):
    """Raised when the Docker daemon cannot be reached or answers with a server error."""


class BrokerUnavailableError(RetryableError):
    """Raised when Redis (broker or result backend) cannot be reached."""


class PermanentError(SigmaExecError):
    """Raised when retrying the same request cannot succeed."""


class InvalidRequestError(PermanentError):
    """Raised when a caller's argument is malformed; the message names it."""


class UnknownLanguageError(InvalidRequestError):
    """Raised when a language name or alias is not one sigma-exec supports."""


class WorkspaceError(InvalidRequestError):
    """Raised when a host workspace is missing, unreadable or over its size cap."""


class InvalidChangeError(InvalidRequestError):
    """Raised when a change batch fails validation; nothing of it was written."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ContainerNotFoundError(PermanentError):
    """Raised when a container id names no container managed by sigma-exec."""

    def __init__(self, container_id: str) -> None:
        super().__init__(f"unknown container {container_id!r}: no sigma-exec container has that id")
        self.container_id = container_id


class ImageBuildError(PermanentError):
    """Raised when an image recipe or a dependency layer fails to build."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


class DependencyError(ImageBuildError):
    """Raised when a project's dependencies cannot be fetched or installed; names each one and why."""

    def __init__(self, problems: list[str], log_tail: str = "") -> None:
        shown = "; ".join(problems[:20]) + (f"; … {len(problems) - 20} more" if len(problems) > 20 else "")
        super().__init__(f"dependencies could not be installed: {shown}", log_tail)
        self.problems = problems


class SandboxError(PermanentError):
    """Raised when the sandbox refused an operation (e.g. a path escaping /workspace)."""


class EngineConflictError(SandboxError):
    """Raised when the engine answers 409 Conflict (e.g. a removal already in progress, a name in use)."""
