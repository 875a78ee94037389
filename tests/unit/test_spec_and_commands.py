"""The sandbox profile as data, and the in-sandbox scripts' parsing (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sigma_exec import commands
from sigma_exec import constants as c
from sigma_exec.settings import NetworkPolicy, Settings
from sigma_exec.spec import build_container_spec, container_name

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _spec(**overrides: object):
    settings = Settings(SIGMA_NODE="n1", **overrides)  # type: ignore[arg-type]
    return build_container_spec(settings, image="img", project_id=7, language="python", env={}, now=NOW)


def test_default_profile_is_locked_down() -> None:
    spec = _spec()
    assert spec.cap_drop == ["ALL"]
    assert sorted(spec.cap_add) == ["CHOWN", "SETGID", "SETUID"]
    assert spec.security_opt == ["no-new-privileges:true"]
    assert spec.privileged is False and spec.read_only is True and spec.init is True
    assert spec.network_mode == "none"
    assert spec.nano_cpus == 2_000_000_000
    assert spec.mem_limit == spec.memswap_limit == 2048 * 1024 * 1024
    assert spec.pids_limit == 512
    assert spec.user == f"{c.KEEPALIVE_UID}:{c.KEEPALIVE_GID}"
    assert "size=512m" in spec.tmpfs["/tmp"] and "nosuid" in spec.tmpfs["/tmp"]
    assert spec.volumes[0].target == "/workspace" and "size=1024m" in spec.volumes[0].driver_options["o"]


def test_the_parent_of_every_run_s_reports_is_root_s_sticky_and_unlistable() -> None:
    options = _spec().tmpfs[c.REPORTS_DIR].split(",")
    # 1733: the sandbox user may create its run's directory (a random name) but not list, rename or replace it
    assert "mode=1733" in options and not any(o.startswith(("uid=", "gid=")) for o in options)
    assert {"noexec", "nosuid", "nodev"} <= set(options)
    assert c.REPORTS_DIR.startswith("/tmp/")  # mounted inside the /tmp tmpfs, after it


def test_labels_account_for_every_container() -> None:
    labels = _spec().labels
    assert labels[c.LABEL_MANAGED] == "1"
    assert labels[c.LABEL_PROJECT] == "7"
    assert labels[c.LABEL_NODE] == "n1"
    assert int(labels[c.LABEL_EXPIRES_AT]) - int(labels[c.LABEL_CREATED_AT]) == 7200


def test_the_keepalive_is_the_containers_own_deadline() -> None:
    assert _spec(CONTAINER_TTL_SECONDS=600).command == ["sleep", "600"]


def test_limits_and_network_follow_settings() -> None:
    spec = _spec(SANDBOX_CPUS=0.5, SANDBOX_MEMORY_MB=256, SANDBOX_PIDS_LIMIT=64, SANDBOX_NETWORK=NetworkPolicy.BRIDGE)
    assert (spec.nano_cpus, spec.mem_limit, spec.pids_limit, spec.network_mode) == (
        500_000_000,
        256 * 1024 * 1024,
        64,
        "sigma-bridge",
    )


def test_container_names_are_safe_and_unique() -> None:
    assert container_name("a b/c", "p:1") == "sigma-pa-b-c-p-1"
    assert container_name(1) != container_name(1)


def test_user_commands_travel_as_arguments_not_script_text() -> None:
    argv = commands.wrap_with_deadline("echo $HOME; rm -rf /", 30)
    assert argv[:3] == ["/bin/sh", "-c", commands.EXEC_WRAPPER]
    assert argv[4:] == ["30", "echo $HOME; rm -rf /"]
    assert commands.wrap_with_deadline(["ls", "a b"], 5)[-1] == "ls 'a b'"


def test_parse_resolved_pairs_paths_and_directory_flags() -> None:
    out = b"/workspace/a\0/etc/passwd\0\n10"
    assert commands.parse_resolved(out, ["a", "b"]) == (["/workspace/a", "/etc/passwd"], [True, False])
    assert commands.parse_resolved(out, ["a"]) is None
    assert commands.parse_oom_count(b"2\n") == 2
    assert commands.parse_oom_count(b"") == 0
    assert commands.parse_oom_count(b"x") is None


def test_image_build_locks_use_a_fixed_set_of_files() -> None:
    from sigma_exec.image_sharing import BUILD_LOCK_SLOTS, build_lock_path

    paths = {build_lock_path(f"deps-{i:05d}") for i in range(1000)}
    assert len(paths) == BUILD_LOCK_SLOTS  # a thousand projects' layers, still 32 files
    assert build_lock_path("python-abc") == build_lock_path("python-abc")


def _side(pack: bytes, oom: bytes = b"0") -> bytes:
    return pack + b"\n" + commands.SIDE_TRAILER + b" %d %s\n" % (len(pack), oom)


def test_the_side_pack_is_the_one_the_last_trailer_names() -> None:
    forged = _side(b"FORGED-TAR")
    assert commands.parse_side_pack(_side(b"real"), 100) == (b"real", 0)
    assert commands.parse_side_pack(forged + _side(b"real", b"2"), 100) == (b"real", 2)
    assert commands.parse_side_pack(b"junk" + forged + b"junk" + _side(b"", b""), 100) == (b"", None)
    # the pack may itself contain a trailer-like line: the length decides
    assert commands.parse_side_pack(_side(forged, b"1+2"), 100) == (forged, 3)


@pytest.mark.parametrize(
    "side",
    [
        b"",
        b"no trailer at all\n",
        _side(b"real") + b"more after the trailer",
        _side(b"real")[:-1],  # no final newline: the stream was cut
        b"abc\n" + commands.SIDE_TRAILER + b" 99\n",  # names more than there is
        b"abc\n" + commands.SIDE_TRAILER + b" -3\n",
        b"abc\n" + commands.SIDE_TRAILER + b" 3\n",  # no OOM count field
        b"abc\n" + commands.SIDE_TRAILER + b" 3 4 5\n",
        _side(b"abc", b"x"),  # an OOM count that is no number
        _side(b"x" * 200),  # more than the cap
    ],
)
def test_a_side_channel_without_a_sound_trailer_gives_no_pack(side: bytes) -> None:
    assert commands.parse_side_pack(side, 100) is None


def test_the_reporting_wrapper_passes_user_data_as_arguments() -> None:
    argv = commands.wrap_reporting("pytest -q; echo '$3'", 30, "/tmp/sigma-reports/abc", 1024)
    assert argv[:3] == ["/bin/sh", "-c", commands.REPORTING_WRAPPER]
    assert argv[3:] == ["sigma-exec", "30", "pytest -q; echo '$3'", "/tmp/sigma-reports/abc", "1024", "", "", "", "0"]
    plan = commands.BuildPlan("make; echo '$6'", 60)
    names = ("PYTEST_ADDOPTS", "NOT A NAME", "X")
    with_build = commands.wrap_reporting(
        "pytest -q", 30, "/tmp/sigma-reports/abc", 1024, plan, unset=names, build_cap_bytes=4096
    )
    assert with_build[8:] == ["60", "make; echo '$6'", "PYTEST_ADDOPTS X", "4096"]


def _built(output: bytes, code: int = 0, total: int | None = None, oom: bytes = b"0") -> bytes:
    size = len(output) if total is None else total
    return output + b"\n" + commands.BUILD_TRAILER + b" %d %d %d 1500 %s\n" % (code, size, len(output), oom)


def test_the_build_section_is_split_off_the_end_and_the_pack_read_before_it() -> None:
    side = _side(b"FORGED") + _side(b"real-pack", b"1") + _built(b"compiled\n", code=2, oom=b"3")
    rest, build = commands.split_side_build(side, 100)  # type: ignore[misc]
    assert (build.exit_code, build.head, build.tail, build.total_bytes, build.elapsed_s) == (
        2,
        b"compiled\n",
        b"",
        9,
        1.5,
    )
    assert build.oom_kills == 3
    assert commands.parse_side_pack(rest, 100) == (b"real-pack", 1)
    # an output cut in the sandbox: its head and tail, as many bytes as the cap
    _, cut = commands.split_side_build(_side(b"p") + _built(b"H" * 50 + b"T" * 50, total=500), 100)  # type: ignore[misc]
    assert (cut.head, cut.tail, cut.total_bytes) == (b"H" * 50, b"T" * 50, 500)
    assert commands.split_side_build(_side(b"p"), 100) is None  # no build section
    assert commands.split_side_build(_built(b"x" * 200), 100) is None  # more than the cap
    assert commands.split_side_build(_built(b"x", code=300), 100) is None
