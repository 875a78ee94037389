"""The project's own test results before a change: records, their cache key, and where they are kept.

A baseline is keyed by what decides its result: the workspace's content (never its timestamps), the
image, the language and framework, and the test command (the caller's, or the framework's definition).
A second proposal on the same base reuses it; `RedisBaselineCache` shares it between nodes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sigma_exec.models import CaseOutcome, TestResult
from sigma_exec.reruns import statuses

log = logging.getLogger(__name__)

KEY_VERSION = 1
MEMORY_ENTRIES = 256
REDIS_PREFIX = "sigma:baseline:"
COUNT_FIELDS = {"tests_passed", "tests_failed", "tests_skipped", "tests_errored", "coverage_percent"}


class BaselineRecord(BaseModel):
    """One baseline run: its counts, each case's status, and the cases a re-run found flaky."""

    model_config = ConfigDict(frozen=True)

    key: str
    framework: str | None = None
    success: bool = False
    tests_passed: int | None = None
    tests_failed: int | None = None
    tests_skipped: int | None = None
    tests_errored: int | None = None
    coverage_percent: float | None = None
    statuses: dict[str, CaseOutcome] = Field(default_factory=dict)
    flaky: list[str] = Field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    execution_time: float = 0.0
    created_at: str = ""

    @classmethod
    def from_result(cls, key: str, result: TestResult) -> BaselineRecord:
        return cls(
            key=key,
            framework=result.framework,
            success=result.success,
            **result.model_dump(include=COUNT_FIELDS),
            statuses=statuses(result.cases),
            flaky=list(result.flaky),
            error=(result.error or "")[:2000] or None,
            timed_out=result.timed_out,
            execution_time=result.execution_time,
            created_at=datetime.now(UTC).isoformat(),
        )

    @property
    def usable(self) -> bool:
        """Whether the run named its cases (a time-out or a run without a report gives nothing to compare)."""
        return not self.timed_out and bool(self.statuses)

    def summary(self, *, cached: bool) -> BaselineSummary:
        return BaselineSummary(
            **self.model_dump(include=COUNT_FIELDS),
            flaky=len(self.flaky),
            cached=cached,
            error=self.error if not self.usable else None,
            execution_time=self.execution_time,
        )


class BaselineSummary(BaseModel):
    """What an outcome says of its baseline: counts, coverage, and whether the cache supplied it."""

    tests_passed: int | None = None
    tests_failed: int | None = None
    tests_skipped: int | None = None
    tests_errored: int | None = None
    coverage_percent: float | None = None
    flaky: int = 0
    cached: bool = False
    error: str | None = Field(None, description="why the baseline gives nothing to compare, when it does not")
    execution_time: float = 0.0


def baseline_key(
    *,
    workspace_digest: str,
    image_id: str,
    language: str,
    framework: str,
    framework_definition: str,
    test_command: str | None,
    rerun: bool,
) -> str:
    """The cache key of a baseline run (pure)."""
    material = {
        "v": KEY_VERSION,
        "workspace": workspace_digest,
        "image": image_id,
        "language": language,
        "framework": framework,
        "definition": framework_definition,
        "command": test_command or "",
        "rerun": rerun,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class BaselineCache(Protocol):
    def get(self, key: str) -> BaselineRecord | None: ...

    def put(self, record: BaselineRecord, ttl_s: int) -> None: ...


class MemoryBaselineCache:
    """This process's baselines (the in-process pipeline's default), most recent MEMORY_ENTRIES."""

    def __init__(self, entries: int = MEMORY_ENTRIES) -> None:
        self._entries = entries
        self._records: OrderedDict[str, BaselineRecord] = OrderedDict()
        self._guard = threading.Lock()

    def get(self, key: str) -> BaselineRecord | None:
        with self._guard:
            record = self._records.get(key)
            if record is not None:
                self._records.move_to_end(key)
            return record

    def put(self, record: BaselineRecord, ttl_s: int) -> None:
        with self._guard:
            self._records[record.key] = record
            self._records.move_to_end(record.key)
            while len(self._records) > self._entries:
                self._records.popitem(last=False)


class RedisClient(Protocol):
    def get(self, name: str) -> bytes | str | None: ...

    def set(self, name: str, value: str, ex: int | None = None) -> object: ...


class RedisBaselineCache:
    """Baselines shared by every node through Redis; an unreachable Redis is a miss, never an error."""

    def __init__(self, client: RedisClient, prefix: str = REDIS_PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    def get(self, key: str) -> BaselineRecord | None:
        try:
            raw = self._client.get(self._prefix + key)
        except Exception as exc:  # redis errors, connection loss: run the baseline instead
            log.warning("baseline cache unavailable: %s", exc)
            return None
        if raw is None:
            return None
        try:
            record = BaselineRecord.model_validate_json(raw)
        except ValidationError:
            return None
        return record if record.key == key else None

    def put(self, record: BaselineRecord, ttl_s: int) -> None:
        try:
            self._client.set(self._prefix + record.key, record.model_dump_json(), ex=max(1, ttl_s))
        except Exception as exc:
            log.warning("baseline not cached: %s", exc)
