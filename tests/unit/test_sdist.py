"""Choosing and reading a source distribution from a simple-API page, without running it (pure)."""

from __future__ import annotations

import io
import json
import tarfile

from packaging.requirements import Requirement

from sigma_exec.deps.sdist import _best, _candidates, _members, _requires_dist

JSON_PAGE = json.dumps(
    {
        "files": [
            {"filename": "docopt-0.6.1.tar.gz", "url": "../../p/docopt-0.6.1.tar.gz", "hashes": {"sha256": "a" * 64}},
            {"filename": "docopt-0.6.2.tar.gz", "url": "../../p/docopt-0.6.2.tar.gz", "hashes": {"sha256": "b" * 64}},
            {"filename": "docopt-0.7.0.tar.gz", "url": "x", "hashes": {}, "yanked": "broken"},
            {"filename": "docopt-0.6.2-py3-none-any.whl", "url": "w", "hashes": {}},
            {"filename": "docopt_ng-1.0.tar.gz", "url": "n", "hashes": {}},
        ]
    }
).encode()
HTML_PAGE = (
    b'<html><body><a href="/p/Docopt-0.6.2.tar.gz#sha256=' + b"c" * 64 + b'">Docopt-0.6.2.tar.gz</a>'
    b'<a href="/p/docopt-0.6.2.zip">docopt-0.6.2.zip</a></body></html>'
)


def test_only_unyanked_sdists_of_the_project_itself_are_candidates() -> None:
    names = [c[0] for c in _candidates(JSON_PAGE, "json", "docopt")]
    assert names == ["docopt-0.6.1.tar.gz", "docopt-0.6.2.tar.gz"]
    assert [c[0] for c in _candidates(HTML_PAGE, "html", "docopt")] == ["Docopt-0.6.2.tar.gz", "docopt-0.6.2.zip"]
    assert _candidates(HTML_PAGE, "html", "docopt")[0][2] == "c" * 64


def test_the_newest_version_within_the_specifier_is_chosen() -> None:
    candidates = _candidates(JSON_PAGE, "json", "docopt")
    assert _best(candidates, Requirement("docopt"))[0] == "docopt-0.6.2.tar.gz"  # type: ignore[index]
    assert _best(candidates, Requirement("docopt<0.6.2"))[0] == "docopt-0.6.1.tar.gz"  # type: ignore[index]
    assert _best(candidates, Requirement("docopt>1")) is None


def test_pkg_info_and_pyproject_are_read_from_the_archive_and_extras_only_lines_are_left_out() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for name, text in {
            "pkg-1.0/PKG-INFO": "Name: pkg\nRequires-Dist: six>=1\nRequires-Dist: pytest; extra == 'test'\n",
            "pkg-1.0/pyproject.toml": '[build-system]\nrequires = ["flit_core>=3"]\n',
            "pkg-1.0/sub/PKG-INFO": "Requires-Dist: nope\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    pkg_info, pyproject = _members(buf.getvalue(), "pkg-1.0.tar.gz")
    assert _requires_dist(pkg_info) == ["six>=1"]
    assert "flit_core" in pyproject
