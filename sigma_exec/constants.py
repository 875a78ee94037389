"""Every magic string and default of sigma-exec, in one place (units in the names)."""

from __future__ import annotations

from typing import Final

# Labels stamped on every container, volume and image sigma-exec creates.
LABEL_PREFIX: Final = "sigma."
LABEL_MANAGED: Final = "sigma.managed"
LABEL_PROJECT: Final = "sigma.project"
LABEL_PIPELINE: Final = "sigma.pipeline"
LABEL_NODE: Final = "sigma.node"
LABEL_CREATED_AT: Final = "sigma.created-at"
LABEL_EXPIRES_AT: Final = "sigma.expires-at"
LABEL_LANGUAGE: Final = "sigma.language"
LABEL_ROLE: Final = "sigma.role"
LABEL_DEPS_HASH: Final = "sigma.deps-hash"
LABEL_FRAMEWORK: Final = "sigma.framework"  # the test framework detected at create time

ROLE_PROJECT: Final = "project"
ROLE_DEPS_IMAGE: Final = "deps-image"
ROLE_DEPS_BUILD: Final = "deps-build"

# Paths inside the sandbox.
WORKSPACE_DIR: Final = "/workspace"
REPORTS_DIR: Final = "/tmp/sigma-reports"
HOME_DIR: Final = "/tmp/home"

# Identities inside the sandbox. The keep-alive process runs as a different
# unprivileged uid than user code, so user code can `kill -9 -1` all of its own
# processes without ever stopping the container.
SANDBOX_UID: Final = 1000
SANDBOX_GID: Final = 1000
KEEPALIVE_UID: Final = 65534
KEEPALIVE_GID: Final = 65534
SANDBOX_USER: Final = f"{SANDBOX_UID}:{SANDBOX_GID}"  # what `docker exec --user` takes

CAPS_KEPT: Final = ("CHOWN", "SETUID", "SETGID")

# Exit codes with a meaning of their own.
EXIT_KILLED: Final = 137  # 128 + SIGKILL

# Caps on what is read back from the untrusted container.
REPORT_CAP_BYTES: Final = 16 * 1024 * 1024
REPORT_MAX_ENTRIES: Final = 512

MAX_PATH_CHARS: Final = 1024
MAX_NAME_CHARS: Final = 255
