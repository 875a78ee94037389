"""The pure half of the Go fetcher: the proxy protocol's escaping, go.sum's h1: hashes, go.mod and go.sum reading."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from sigma_exec.deps.go_fetcher import (
    GoModule,
    GoSum,
    escape_path,
    escape_version,
    fetch_go_modules,
    go_mod_hash,
    parse_go_mod,
    parse_go_sum,
    proxy_urls,
    zip_hash,
)

GREET = GoModule(path="example.com/Greet", version="v1.0.0")
GREET_FILES = {
    "go.mod": b"module example.com/Greet\n\ngo 1.21\n",
    "greet.go": b'package greet\n\nfunc Hi(name string) string { return "hi " + name }\n',
}
# What go 1.23 itself wrote (`.ziphash`) and accepted (go.sum) for GREET_FILES, captured in the Go image.
GREET_ZIP_H1 = "h1:Vyx8sl7We2N56lK4HTFfcLDcAfaAdclRKCBDPK+VD0A="
GREET_MOD_H1 = "h1:BWkW88J0sYDx3M/PdY9grjr334ZzgoJEAJDKlmmfzIo="


def write_zip(path: Path, names: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("path", "escaped"),
    [
        ("example.com/greet", "example.com/greet"),
        ("example.com/Greet", "example.com/!greet"),
        ("github.com/BurntSushi/toml", "github.com/!burnt!sushi/toml"),
        ("gopkg.in/yaml.v3", "gopkg.in/yaml.v3"),
        ("golang.org/x/tools/go_pkg-x~1", "golang.org/x/tools/go_pkg-x~1"),
    ],
)
def test_module_paths_are_case_escaped_for_the_proxy(path: str, escaped: str) -> None:
    assert escape_path(path) == escaped


@pytest.mark.parametrize(
    "path", ["../etc/passwd", "example.com/../x", "example.com//x", "/example.com/x", "example.com/x y", "nodot/x", ""]
)
def test_a_module_path_that_could_leave_the_proxy_layout_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="not a valid module path"):
        escape_path(path)


@pytest.mark.parametrize(
    ("version", "escaped"),
    [
        ("v1.0.0", "v1.0.0"),
        ("v1.0.0-RC1", "v1.0.0-!r!c1"),
        ("v0.0.0-20240101120000-abcdef123456", "v0.0.0-20240101120000-abcdef123456"),
        ("v2.3.4+incompatible", "v2.3.4+incompatible"),
    ],
)
def test_versions_are_case_escaped_for_the_proxy(version: str, escaped: str) -> None:
    assert escape_version(version) == escaped


@pytest.mark.parametrize("version", ["1.0.0", "v1.0", "v1.0.0/../x", "v1.0.0-..", "latest", "v1.0.0 "])
def test_a_version_that_is_not_semantic_is_refused(version: str) -> None:
    with pytest.raises(ValueError, match="not a valid module version"):
        escape_version(version)


def test_the_hashes_are_those_go_computes(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "m.zip", {f"{GREET}/{name}": data for name, data in GREET_FILES.items()})
    assert zip_hash(archive, GREET) == GREET_ZIP_H1
    assert go_mod_hash(GREET_FILES["go.mod"]) == GREET_MOD_H1


def test_the_zip_hash_does_not_depend_on_entry_order_or_compression(tmp_path: Path) -> None:
    names = {f"{GREET}/{name}": data for name, data in reversed(GREET_FILES.items())}
    with zipfile.ZipFile(tmp_path / "stored.zip", "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    assert zip_hash(tmp_path / "stored.zip", GREET) == GREET_ZIP_H1


def test_a_zip_with_a_file_outside_the_module_prefix_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "m.zip", {f"{GREET}/go.mod": b"x", "evil/../../x": b"y"})
    with pytest.raises(ValueError, match=re.escape("outside example.com/Greet@v1.0.0/")):
        zip_hash(archive, GREET)


def test_a_zip_that_unpacks_past_the_cap_is_refused_without_unpacking_it(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "bomb.zip", {f"{GREET}/big.txt": b"0" * (4 * 2**20)})
    assert archive.stat().st_size < 64 * 1024
    with pytest.raises(ValueError, match="unpacks to over 1 MiB"):
        zip_hash(archive, GREET, max_bytes=2**20)


def test_go_sum_splits_zip_and_go_mod_hashes_and_keeps_bad_lines_to_report() -> None:
    text = (
        f"example.com/Greet v1.0.0 {GREET_ZIP_H1}\n"
        f"example.com/Greet v1.0.0/go.mod {GREET_MOD_H1}\n"
        f"example.com/old v0.9.0/go.mod {GREET_MOD_H1}\n"
        "\n"
        "../escape v1.0.0 h1:" + "A" * 43 + "=\n"
        "not a go.sum line\n"
    )
    gosum = parse_go_sum(text)
    old = GoModule(path="example.com/old", version="v0.9.0")
    assert gosum.zips == {GREET: GREET_ZIP_H1}
    assert gosum.mods == {GREET: GREET_MOD_H1, old: GREET_MOD_H1}
    assert len(gosum.bad_lines) == 2 and "not a valid module path" in gosum.bad_lines[0]


def test_go_mod_requirements_in_line_and_block_form_without_local_replacements() -> None:
    text = (
        "module example.com/app // the app\n\ngo 1.23\n\n"
        "require example.com/one v1.0.0\n"
        "require (\n\texample.com/two v0.2.0 // indirect\n\t// example.com/commented v9.9.9\n"
        "\texample.com/local v0.0.0\n\texample.com/moved v1.1.0\n)\n"
        "replace example.com/local => ./local\n"
        "replace (\n\texample.com/moved v1.1.0 => example.com/fork v1.1.1\n)\n"
    )
    plan = parse_go_mod(text)
    assert [str(m) for m in plan.requires] == [
        "example.com/one@v1.0.0",
        "example.com/two@v0.2.0",
        "example.com/moved@v1.1.0",
    ]
    assert plan.local_replaced == ["example.com/local"]
    assert plan.replaced == ["example.com/local", "example.com/moved"]


@pytest.mark.parametrize(
    ("setting", "urls"),
    [
        ("", []),
        ("off", []),
        ("direct", []),
        ("https://proxy.golang.org,direct", [("https://proxy.golang.org", False)]),
        ("http://a/|file:///srv/mods,off", [("http://a", True), ("file:///srv/mods", False)]),
    ],
)
def test_the_operators_goproxy_list_keeps_go_fallback_rules_and_skips_off_and_direct(
    setting: str, urls: list[tuple[str, bool]]
) -> None:
    assert proxy_urls(setting) == urls


def test_a_file_proxy_is_laid_out_again_keeping_only_what_matches_go_sum(tmp_path: Path) -> None:
    # Given a file:// proxy holding GREET, and a go.sum that also pins a module it lacks and one it holds altered.
    proxy = tmp_path / "proxy"
    folder = proxy / "example.com" / "!greet" / "@v"
    folder.mkdir(parents=True)
    write_zip(folder / "v1.0.0.zip", {f"{GREET}/{name}": data for name, data in GREET_FILES.items()})
    (folder / "v1.0.0.mod").write_bytes(GREET_FILES["go.mod"])
    (folder / "v1.0.0.info").write_text('{"Version": "v1.0.0", "Time": "2024-01-01T00:00:00Z", "Origin": {"x": 1}}')
    altered = GoModule(path="example.com/Greet", version="v1.0.1")
    for suffix in (".zip", ".mod", ".info"):
        (folder / f"v1.0.1{suffix}").write_bytes(
            (folder / f"v1.0.0{suffix}").read_bytes().replace(b"v1.0.0", b"v1.0.1")
        )
    missing = GoModule(path="example.com/missing", version="v0.1.0")
    gosum = GoSum(
        mods={GREET: GREET_MOD_H1, altered: GREET_MOD_H1, missing: GREET_MOD_H1},
        zips={GREET: GREET_ZIP_H1, altered: GREET_ZIP_H1},
        bad_lines=[],
    )

    out = tmp_path / "out"
    fetched = fetch_go_modules(gosum, f"off,file://{proxy},direct", out, max_bytes=2**20, timeout_s=30)

    assert fetched.zips == [GREET]
    assert sorted(str(p) for p in fetched.problems) == [
        "example.com/Greet@v1.0.1: its content does not match the hash in go.sum (refused)",
        "example.com/missing@v0.1.0: not on the module proxy (no such file)",
    ]
    laid_out = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert laid_out == [f"example.com/!greet/@v/v1.0.0{suffix}" for suffix in (".info", ".mod", ".zip")]
    assert (out / "example.com/!greet/@v/v1.0.0.info").read_text() == (
        '{"Version": "v1.0.0", "Time": "2024-01-01T00:00:00Z"}'
    )


def test_a_fetch_over_the_size_cap_names_the_module(tmp_path: Path) -> None:
    folder = tmp_path / "proxy" / "example.com" / "!greet" / "@v"
    folder.mkdir(parents=True)
    (folder / "v1.0.0.mod").write_bytes(b"x" * 4096)
    gosum = GoSum(mods={GREET: GREET_MOD_H1}, zips={}, bad_lines=[])
    fetched = fetch_go_modules(gosum, f"file://{tmp_path / 'proxy'}", tmp_path / "out", max_bytes=1024, timeout_s=30)
    assert [str(p) for p in fetched.problems] == [
        "example.com/Greet@v1.0.0: the module proxy failed: over the size limit (DEPS_MAX_MB)"
    ]
