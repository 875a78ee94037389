"""Results that cross a module or process boundary: frozen pydantic v2 models.

Outcomes of user code (non-zero exit, failing test, time-out, OOM) are fields
here, never exceptions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExecutionResult(_Frozen):
    """What one command run in a sandbox did."""

    success: bool
    exit_code: int | None = None
    output: str = ""
    error: str | None = None
    execution_time: float = 0.0
    timed_out: bool = False
    truncated: bool = False
    oom_killed: bool = False
    output_bytes: int = Field(0, description="bytes the command wrote, including any cut out")


class RawExec(_Frozen):
    """What the engine reported for one exec, before it is judged."""

    exit_code: int | None
    output: str
    output_bytes: int
    truncated: bool
    elapsed_s: float
    deadline_hit: bool
    side: bytes = b""  # with a side channel: the last bytes the exec wrote on stderr, raw


class PathStat(_Frozen):
    """What the engine found at a path in a container (its last component not followed)."""

    is_dir: bool
    is_link: bool


class CaseOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERRORED = "errored"


MAX_TEST_ID_CHARS = 1000


class TestCase(_Frozen):
    """One test case as a structured report names it.

    `id` is the case's identity, stable across runs of the same code and in each framework's own
    terms (what its runner accepts to select the case again): pytest node ids
    (`tests/test_x.py::TestC::test_a[1]`), jest `path::full name`, JUnit `pkg.Class#method`,
    `go test` `package::TestName/subtest`, RSpec ids (`./spec/x_spec.rb[1:2]`), minitest
    `Class#method`. A parser that cannot tell gives `classname::name`.
    """

    __test__ = False  # not a pytest class

    name: str
    classname: str = ""
    id: str = ""
    outcome: CaseOutcome
    duration_s: float | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _default_id(self) -> TestCase:
        ident = self.id or (f"{self.classname}::{self.name}" if self.classname else self.name)
        if ident != self.id or len(ident) > MAX_TEST_ID_CHARS:
            object.__setattr__(self, "id", ident[:MAX_TEST_ID_CHARS])
        return self


class ParsedReport(_Frozen):
    """Counts read from one machine-readable test report; None means "not reported"."""

    framework: str
    tests_passed: int | None = None
    tests_failed: int | None = None
    tests_skipped: int | None = None
    tests_errored: int | None = None
    cases: list[TestCase] = Field(default_factory=list)
    error: str | None = None  # e.g. a compile error, or "report unreadable: ..."


class CoverageReport(_Frozen):
    """Line coverage read from a coverage report."""

    percent: float
    source: str  # which report format it came from


class TestResult(_Frozen):
    """The outcome of `run_tests`."""

    __test__ = False

    success: bool
    framework: str | None = None
    command: str = ""
    tests_passed: int | None = None
    tests_failed: int | None = None
    tests_skipped: int | None = None
    tests_errored: int | None = None
    coverage_percent: float | None = None
    cases: list[TestCase] = Field(default_factory=list)
    output: str = ""
    error: str | None = None
    exit_code: int | None = None
    execution_time: float = 0.0
    timed_out: bool = False
    truncated: bool = False
    report_source: str | None = Field(None, description="which report the counts came from")
    flaky: list[str] = Field(
        default_factory=list, description="ids of failing cases whose status changed when re-run (same code)"
    )
    rerun_cases: list[TestCase] = Field(
        default_factory=list, description="the failing cases as a second run of them found them"
    )
    report_disputed: str | None = Field(
        None,
        description="why the test report cannot be trusted: it contradicts what the runner printed or its exit "
        "code (possible tampering); such a run is never a pass and its cases grade nothing",
    )

    @property
    def tests_total(self) -> int | None:
        parts = (self.tests_passed, self.tests_failed, self.tests_skipped, self.tests_errored)
        if all(p is None for p in parts):
            return None
        return sum(p or 0 for p in parts)


class ChangeResult(_Frozen):
    """The outcome of `apply_changes`: all of the batch or none of it."""

    success: bool
    applied: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    error: str | None = None
    bad_path: str | None = None
    refused: bool = Field(
        False, description="the batch itself was refused (invalid, escaping, read-only, over a cap), not the engine"
    )
    touched: list[str] = Field(
        default_factory=list,
        description="every workspace path the batch changed: its paths, real paths behind links, parents it "
        "created or replaced, everything under deleted directories",
    )
    execution_time: float = 0.0


class BuildResult(_Frozen):
    """The outcome of `run_build`."""

    success: bool
    build_time: float = 0.0
    output: str = ""
    error: str | None = None
    command: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    truncated: bool = False
    steps: list[str] = Field(default_factory=list)


class ContainerStats(_Frozen):
    """Resource use of one container, with `docker stats` semantics."""

    cpu_percent: float
    memory_usage_mb: float
    memory_limit_mb: float
    memory_percent: float
    network_rx_mb: float
    network_tx_mb: float
    pids: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class CreateResult(_Frozen):
    """The outcome of creating a project container (also unpacks as `ok, id, error`)."""

    success: bool
    container_id: str | None = None
    error: str | None = None
    image: str | None = None
    language: str | None = None
    creation_time: float = 0.0
    prepared: bool = Field(False, description="a prepared sandbox was claimed: workspace there, warm command run")
    warnings: list[str] = Field(default_factory=list, description="e.g. what a manifest asked that was ignored")
    framework: str | None = Field(None, description="the test framework detected for the workspace")
    image_id: str | None = Field(None, description="the image's id (content address)")
    workspace_digest: str | None = Field(None, description="sha256 of the workspace's content, timestamps excluded")

    def _as_tuple(self) -> tuple[bool, str | None, str | None]:
        return (self.success, self.container_id, self.error)

    def __iter__(self):  # type: ignore[override]
        return iter(self._as_tuple())

    def __getitem__(self, index: int) -> bool | str | None:
        return self._as_tuple()[index]

    def __len__(self) -> int:
        return 3


class CleanupResult(_Frozen):
    """What a stop / cleanup call removed."""

    success: bool
    removed_containers: list[str] = Field(default_factory=list)
    removed_images: list[str] = Field(default_factory=list)
    error: str | None = None
