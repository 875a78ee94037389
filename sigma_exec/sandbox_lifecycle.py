"""The end of sandboxes: their state, stopping or releasing one, removing a project's, a pipeline's or all of them
(with their egress proxies and dangling images). Removal is best-effort: it logs, and reports what it removed.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from sigma_exec import constants as c
from sigma_exec.egress import LABEL_EGRESS_FOR, close_egress_of
from sigma_exec.errors import ContainerNotFoundError, SigmaExecError
from sigma_exec.models import CleanupResult
from sigma_exec.policy import NetworkMode
from sigma_exec.pool import ROLE_POOL, lease_prefix, leased_pipeline, pipeline_of
from sigma_exec.sandbox_unit import SandboxUnit

log = logging.getLogger(__name__)
SandboxState = Literal["running", "stopped", "gone"]


class SandboxLifecycle(SandboxUnit):
    """Asks after and removes sigma-exec sandboxes, forgetting what the registry held of them."""

    def state(self, container_id: str) -> SandboxState | None:
        """`running`, `stopped` or `gone`; None when the engine does not answer."""
        try:
            running = (self._engine().inspect(container_id).get("State") or {}).get("Running")
        except ContainerNotFoundError:
            return "gone"
        except SigmaExecError:
            return None
        return "running" if running else "stopped"

    def stop(self, container_id: str) -> bool:
        """Kill and remove one container (and its egress proxy); True if it was removed, False on any failure."""
        try:
            labels = self._lookup.labels(container_id)
            engine = self._engine()
            behind_proxy = (
                self._lookup.policy_for(labels.get(c.LABEL_PROJECT, "")).network.mode == NetworkMode.ALLOWLIST
            )
            name = engine.inspect(container_id)["Name"].lstrip("/") if behind_proxy else None
            removed = engine.remove(container_id)
            if name:
                close_egress_of(engine, {LABEL_EGRESS_FOR: name})
        except SigmaExecError as exc:
            log.info("stop_container %s: %s", container_id, exc)
            return False
        self._registry.forget(container_id)
        self._replaced(container_id)
        return removed

    def release(self, container_id: str) -> bool:
        """Removal in the background (pool thread); without a pool this is `stop`."""
        pool = self._pool()
        if pool is None:
            return self.stop(container_id)
        try:
            self._lookup.labels(container_id)
        except SigmaExecError:
            return False
        pool.discard_later(container_id)
        self._registry.forget(container_id)
        self._replaced(container_id)
        return True

    def _replaced(self, container_id: str) -> None:
        """A project's next sandbox may be prepared now that this one no longer runs."""
        pool = self._pool()
        if pool is not None and pool.prepared is not None:
            pool.prepared.released(container_id)

    def cleanup_project(self, project_id: Any) -> CleanupResult:
        """Every container of one project (its leased pool containers too), its dangling images and egress."""
        project = str(project_id)
        labels = {c.LABEL_MANAGED: "1", c.LABEL_PROJECT: project}
        result = self.remove_where(labels, leased_to=lease_prefix(project))
        try:
            engine = self._engine()
        except SigmaExecError:
            return result  # no engine: nothing more to tear down
        try:
            close_egress_of(engine, {c.LABEL_PROJECT: project})
        except SigmaExecError as exc:
            log.warning("egress teardown of project %s: %s", project, exc)
        return result

    def remove_all(self) -> CleanupResult:
        """Every container sigma-exec manages on this engine."""
        return self.remove_where({c.LABEL_MANAGED: "1"})

    def remove_pipeline(self, pipeline_id: str) -> CleanupResult:
        """What a pipeline left on this node."""
        node = self.settings.node
        return self.remove_where(
            {c.LABEL_MANAGED: "1", c.LABEL_PIPELINE: pipeline_id, c.LABEL_NODE: node}, leased_for=pipeline_id
        )

    def remove_where(
        self, labels: dict[str, str], leased_to: str | None = None, leased_for: str | None = None
    ) -> CleanupResult:
        """Containers carrying `labels`, pooled ones whose name starts with `leased_to` or that are leased to the
        pipeline `leased_for` (on this node), then dangling images."""
        try:
            engine = self._engine()
            removed = []
            targets = [item["Id"] for item in engine.list_containers(labels)]
            if leased_to is not None or leased_for is not None:
                pool_labels = {c.LABEL_MANAGED: "1", c.LABEL_ROLE: ROLE_POOL}
                if leased_for is not None:
                    pool_labels[c.LABEL_NODE] = self.settings.node
                pooled = engine.container_names(pool_labels)
                targets += [
                    cid
                    for cid, name in pooled.items()
                    if (leased_to is not None and name.startswith(leased_to))
                    or (leased_for is not None and leased_pipeline(name) == leased_for)
                ]
            for container_id in targets:
                if engine.remove(container_id):
                    removed.append(container_id)
                self._registry.forget(container_id)
            images = [img["Id"] for img in engine.list_images(labels, dangling=True) if engine.remove_image(img["Id"])]
        except SigmaExecError as exc:
            return CleanupResult(success=False, error=str(exc))
        return CleanupResult(success=True, removed_containers=removed, removed_images=images)

    def pipelines(self, node: str) -> set[str]:
        """Pipeline ids of the sandboxes `node` holds on this engine."""
        labels = {c.LABEL_MANAGED: "1", c.LABEL_NODE: node}
        return {pipeline_of(x) for x in self._engine().list_containers(labels)} - {""}
