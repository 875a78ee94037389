"""Per-project policies only tighten the operator's settings (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_exec.errors import InvalidRequestError
from sigma_exec.policy import ProjectPolicy, effective_settings, load_policy, path_hits
from sigma_exec.settings import NetworkPolicy, Settings

POLICIES = Path(__file__).resolve().parent.parent / "data" / "policies"


def test_a_project_override_tightens_limits_and_adds_paths() -> None:
    policy = load_policy(POLICIES, "strict")
    eff = effective_settings(Settings(), policy)
    assert (eff.SANDBOX_CPUS, eff.SANDBOX_MEMORY_MB, eff.SANDBOX_PIDS_LIMIT) == (0.5, 256, 64)
    assert (eff.EXEC_TIMEOUT, eff.TEST_TIMEOUT, eff.OUTPUT_CAP_BYTES) == (2, 60, 65536)
    assert eff.PROTECTED_PATHS == ["conftest.py", "tests/*"]
    assert policy.paths.read_only == ["calc.py"]


def test_a_policy_can_never_loosen_the_operators_settings() -> None:
    operator = Settings(SANDBOX_CPUS=2, SANDBOX_MEMORY_MB=2048, EXEC_TIMEOUT=300)
    eff = effective_settings(operator, load_policy(POLICIES, "loose"))
    assert (eff.SANDBOX_CPUS, eff.SANDBOX_MEMORY_MB, eff.EXEC_TIMEOUT) == (2, 2048, 300)


def test_a_policy_can_close_the_network_but_not_open_it() -> None:
    assert effective_settings(Settings(SANDBOX_NETWORK="bridge"), load_policy(POLICIES, "strict")).SANDBOX_NETWORK == (
        NetworkPolicy.NONE
    )
    assert effective_settings(Settings(), load_policy(POLICIES, "loose")).SANDBOX_NETWORK == NetworkPolicy.NONE


@pytest.mark.parametrize("project", ["../strict", "a/b", "", "x" * 200])
def test_unsafe_project_ids_get_only_the_defaults(project: str) -> None:
    policy = load_policy(POLICIES, project)
    assert policy.limits.cpus is None and policy.paths.protected == ["conftest.py"]


def test_an_invalid_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text("[limits]\ncpus = 'lots'\n")
    with pytest.raises(InvalidRequestError, match=r"policy\.toml is invalid"):
        load_policy(tmp_path, "p")


@pytest.mark.parametrize(
    ("touched", "deleted_dirs", "patterns", "hits"),
    [
        (["calc.py", "src/x.py"], [], ["calc.py"], ["calc.py"]),
        (["calc.py"], [], [], []),
        ([".env", ".github/workflows/ci.yml"], [], [".env", ".github/*"], [".env", ".github/workflows/ci.yml"]),
        (["ro1/settings.py"], [], ["./ro1/settings.py"], ["ro1/settings.py"]),
        (["locked"], ["locked"], ["locked/*"], ["locked"]),  # an empty directory deleted under a glob
        (["pytest.ini", "pytest.ini/x"], [], ["pytest.ini"], ["pytest.ini"]),  # a file replaced by a directory
    ],
)
def test_path_rules_match_every_touched_path(
    touched: list[str], deleted_dirs: list[str], patterns: list[str], hits: list[str]
) -> None:
    assert path_hits(touched, deleted_dirs, patterns) == hits


@pytest.mark.parametrize("entry", ["*:443,mirror.pypi.org:443", "pypi.org", "pypi.org:443 evil:80", "a:b", ":443"])
def test_an_allow_list_entry_must_be_one_host_port_pattern(entry: str) -> None:
    with pytest.raises(ValueError, match="not one host:port pattern"):
        ProjectPolicy.model_validate({"network": {"mode": "allowlist", "allow": [entry]}})
    with pytest.raises(ValueError, match="not one host:port pattern"):
        Settings(EGRESS_ALLOWLIST=[entry])


def test_host_port_patterns_are_accepted_lowercased() -> None:
    policy = ProjectPolicy.model_validate({"network": {"mode": "allowlist", "allow": ["PyPI.org:443", "*.internal:*"]}})
    assert policy.network.allow == ["pypi.org:443", "*.internal:*"]
    assert Settings(EGRESS_ALLOWLIST="pypi.org:443, *.files.pythonhosted.org:443").EGRESS_ALLOWLIST == [
        "pypi.org:443",
        "*.files.pythonhosted.org:443",
    ]
