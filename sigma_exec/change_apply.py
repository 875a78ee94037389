"""Applying a change batch to a sandbox: under its lock, with its project's read-only paths, timed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sigma_exec import constants as c
from sigma_exec.changes import Change
from sigma_exec.models import ChangeResult
from sigma_exec.sandbox_unit import SandboxUnit
from sigma_exec.workspace_ops import apply_change_batch


class ChangeApplier(SandboxUnit):
    """Hands a batch to `workspace_ops.apply_change_batch`; an unknown sandbox or an engine failure raises."""

    def apply(self, container_id: str, changes: Sequence[Change | dict[str, Any]]) -> ChangeResult:
        """All of the batch or none of it; `execution_time` counts from the call."""
        started = time.monotonic()
        self._lookup.labels(container_id)
        with self._lock(container_id):
            read_only = self._lookup.policy_of(container_id).paths.read_only
            result = apply_change_batch(
                self._engine(), container_id, changes, self.settings, c.SANDBOX_USER, read_only=read_only
            )
        return result.model_copy(update={"execution_time": round(time.monotonic() - started, 3)})
