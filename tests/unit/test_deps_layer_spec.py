"""The install sandbox's profile, as data (pure): offline whatever the settings say, never privileged."""

from __future__ import annotations

from sigma_exec import Settings
from sigma_exec import constants as c
from sigma_exec.deps.layer import build_sandbox_spec
from sigma_exec.settings import NetworkPolicy


def test_the_install_sandbox_is_offline_even_when_sandboxes_may_use_a_bridge() -> None:
    spec = build_sandbox_spec(Settings(SANDBOX_NETWORK=NetworkPolicy.BRIDGE), "base:1", "p1", "python")
    assert spec.network_mode == "none"


def test_the_install_sandbox_keeps_the_hardening_and_expires_on_its_own() -> None:
    settings = Settings(DEPS_FETCH_TIMEOUT=100, BUILD_TIMEOUT=50)
    spec = build_sandbox_spec(settings, "base:1", "p1", "python")
    assert not spec.privileged and spec.cap_drop == ["ALL"]
    assert set(spec.cap_add) <= {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"}
    assert "no-new-privileges:true" in spec.security_opt
    assert spec.labels[c.LABEL_ROLE] == c.ROLE_DEPS_BUILD and spec.labels[c.LABEL_MANAGED] == "1"
    lifetime = int(spec.command[1])
    assert int(spec.labels[c.LABEL_EXPIRES_AT]) - int(spec.labels[c.LABEL_CREATED_AT]) == lifetime
    assert lifetime < settings.CONTAINER_TTL_SECONDS
    # The project and the fetched artifacts sit on volumes, which a commit never includes.
    assert {v.target for v in spec.volumes} == {c.WORKSPACE_DIR, "/sigma"}
    assert spec.mem_limit == settings.memory_bytes and spec.pids_limit == settings.SANDBOX_PIDS_LIMIT
