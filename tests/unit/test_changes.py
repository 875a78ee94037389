"""Change batches are validated whole before anything is written."""

from __future__ import annotations

import pytest

from sigma_exec.changes import normalise_path, validate_changes
from sigma_exec.errors import InvalidChangeError

LIMITS = {"max_files": 100, "max_bytes": 1024}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("src/main.py", "src/main.py"), ("./a/./b.txt", "a/b.txt"), ("a//b", "a/b"), ("ünï/çødé.py", "ünï/çødé.py")],
)
def test_normalise_path_accepts_relative_paths(raw: str, expected: str) -> None:
    assert normalise_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("/etc/x", "absolute"),
        ("\\windows", "absolute"),
        ("C:/x", "absolute"),
        ("a\0b", "NUL"),
        ("a\nb", "control"),
        ("", "empty"),
        (".", "workspace itself"),
        ("x" * 5000, "longer than"),
        ("d/" + "n" * 300, "over 255"),
        (42, "must be a string"),
    ],
)
def test_normalise_path_rejects_hostile_paths_naming_them(raw: object, fragment: str) -> None:
    with pytest.raises(InvalidChangeError) as info:
        normalise_path(raw)
    assert fragment in str(info.value)


def test_one_bad_path_rejects_the_whole_batch() -> None:
    batch = [{"filepath": "ok.py", "content": "x"}, {"filepath": "../evil", "content": "y"}]
    with pytest.raises(InvalidChangeError) as info:
        validate_changes(batch, **LIMITS)
    assert info.value.path == "../evil"


@pytest.mark.parametrize(
    ("batch", "fragment"),
    [
        ([{"filepath": "a", "content": "1"}, {"filepath": "./a", "content": "2"}], "appears twice"),
        ([{"filepath": "a", "content": "1"}, {"filepath": "a/b", "content": "2"}], "writes as a file"),
        ([{"filepath": "a"}], "needs 'content'"),
        ([{"filepath": "a", "content": "x", "delete": True}], "both"),
        ([{"filepath": "a", "content": "x", "mode": "4755"}], "setuid"),
        ([{"filepath": "a", "content": "x", "mode": "rwx"}], "octal"),
        ([{"filepath": "a", "content": "x", "type": "symlink"}], "unknown keys"),
        ([{"filepath": "a", "content": "x" * 2000}], "over the cap"),
        ([{"filepath": f"f{i}", "content": ""} for i in range(101)], "exceed the cap"),
        ("not a list", "must be a list"),
        (["not a dict"], "must be an object"),
    ],
)
def test_invalid_batches_are_refused_with_a_reason(batch: object, fragment: str) -> None:
    with pytest.raises(InvalidChangeError) as info:
        validate_changes(batch, **LIMITS)
    assert fragment in str(info.value)


def test_a_valid_batch_keeps_content_modes_and_deletes() -> None:
    batch = validate_changes(
        [
            {"filepath": "bin/run.sh", "content": "#!/bin/sh\n", "mode": "0755"},
            {"filepath": "old.py", "delete": True},
            {"filepath": "data.bin", "content": "AAEC", "encoding": "base64"},
        ],
        **LIMITS,
    )
    assert [(c.path, c.mode, c.delete) for c in batch] == [
        ("bin/run.sh", 0o755, False),
        ("old.py", 0o644, True),
        ("data.bin", 0o644, False),
    ]
    assert batch[2].content == b"\x00\x01\x02"
    assert batch[0].parents == ["bin"]


def test_deep_paths_whose_parents_overflow_the_path_check_are_refused_up_front() -> None:
    from sigma_exec.changes import validate_changes

    deep = [f"p{i:02d}/" + "ab/" * 330 + "f.txt" for i in range(20)]  # ~20 KB of paths, ~6,600 parents
    assert sum(len(p) for p in deep) < 25_000  # the batch itself is small
    with pytest.raises(InvalidChangeError, match="parent directories add up"):
        validate_changes([{"filepath": p, "content": ""} for p in deep], max_files=100, max_bytes=1 << 20)


def test_a_change_is_parsed_once_and_survives_json_unchanged() -> None:
    import json

    from sigma_exec.changes import Change

    raw = [
        {"filepath": "./src//pkg/./mod.py", "content": "x = 1\n", "mode": "0755"},
        {"filepath": "bin/blob", "content": "AP8=", "encoding": "base64"},
        {"filepath": "old/", "delete": True},
    ]
    batch = [Change.model_validate(item) for item in raw]
    assert [c.path for c in batch] == ["src/pkg/mod.py", "bin/blob", "old"]
    assert batch[0].mode == 0o755 and batch[1].content == b"\x00\xff" and batch[2].delete
    wire = json.loads(json.dumps([c.model_dump(mode="json") for c in batch]))
    assert [Change.model_validate(item) for item in wire] == batch


@pytest.mark.parametrize(
    ("batch", "fragment"),
    [
        ([{"filepath": "a/b", "content": ""}, {"filepath": "a", "delete": True}], "which the same batch deletes"),
        ([{"filepath": "x", "content": "", "encoding": "utf-16"}], "is not 'base64' or 'utf-8'"),
        ([{"filepath": "a", "content": ""}, {"filepath": "./a", "content": ""}], "appears twice"),
    ],
)
def test_batch_rules_hold_for_every_form_of_a_batch(batch: list[dict], fragment: str) -> None:
    with pytest.raises(InvalidChangeError, match=fragment):
        validate_changes(tuple(batch), **LIMITS)  # a tuple is a batch like any other


def test_a_proposal_refuses_a_bad_batch_when_it_is_made() -> None:
    from pydantic import ValidationError

    from sigma_exec.pipeline import Proposal

    with pytest.raises(ValidationError, match=r"contains '\.\.'"):
        Proposal(
            proposal_id="p",
            project_id=1,
            workspace="/w",
            language="python",
            changes=[{"filepath": "../x", "content": ""}],
        )
    with pytest.raises(ValidationError, match="which the same batch deletes"):
        Proposal(
            proposal_id="p",
            project_id=1,
            workspace="/w",
            language="python",
            changes=[{"filepath": "a/b", "content": ""}, {"filepath": "a", "delete": True}],
        )
