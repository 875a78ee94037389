"""Reaping orphaned sandboxes: a pure selection plus a thin delete.

A container is reaped when its deadline has passed, when its keep-alive has ended
(it is no longer running), or when its pipeline is known to be dead. A container
of a live pipeline is never touched. Removing twice is harmless (404 = done).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from pydantic import BaseModel, Field

from sigma_exec import constants as c
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.egress import reap_orphan_egress
from sigma_exec.errors import SigmaExecError
from sigma_exec.images import base_image_ref, image_repo
from sigma_exec.languages import load_profiles
from sigma_exec.pool import pipeline_of
from sigma_exec.settings import Settings

GRACE_S = 60  # a container younger than this is never reaped for being "not running"


class ReapReport(BaseModel):
    node: str
    examined: int = 0
    removed: list[str] = Field(default_factory=list)
    removed_images: list[str] = Field(default_factory=list)
    removed_networks: list[str] = Field(default_factory=list)
    reasons: dict[str, str] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)


def _label_int(labels: dict[str, str], key: str) -> int | None:
    try:
        return int(labels.get(key, ""))
    except ValueError:
        return None


def reap_reason(
    container: dict[str, Any], *, now: float, live_pipelines: Collection[str], dead_pipelines: Collection[str]
) -> str | None:
    """Why this container should go, or None to keep it (pure)."""
    labels = container.get("Labels") or {}
    pipeline = pipeline_of(container)
    if pipeline and pipeline in live_pipelines:
        return None
    expires = _label_int(labels, c.LABEL_EXPIRES_AT)
    created = _label_int(labels, c.LABEL_CREATED_AT) or int(container.get("Created") or now)
    if expires is not None and now >= expires:
        return "expired"
    if expires is None:
        return "no deadline label"
    if container.get("State") not in ("running", "created", "restarting") and now - created > GRACE_S:
        return f"not running ({container.get('State')})"
    if container.get("State") == "created" and now - created > GRACE_S:
        return "created but never started"
    if pipeline and pipeline in dead_pipelines:
        return "pipeline ended"
    return None


def select_reapable(
    containers: Iterable[dict[str, Any]],
    *,
    now: float,
    live_pipelines: Collection[str] = (),
    dead_pipelines: Collection[str] = (),
) -> dict[str, str]:
    """Container id → reason, for every container that should be removed (pure)."""
    chosen = {}
    for container in containers:
        reason = reap_reason(container, now=now, live_pipelines=live_pipelines, dead_pipelines=dead_pipelines)
        if reason:
            chosen[container["Id"]] = reason
    return chosen


def reap(
    backend: DockerBackend,
    *,
    node: str,
    now: float,
    live_pipelines: Collection[str] = (),
    dead_pipelines: Collection[str] = (),
    all_nodes: bool = False,
) -> ReapReport:
    """Remove this node's reapable sandboxes; safe to run concurrently."""
    labels = {c.LABEL_MANAGED: "1"} if all_nodes else {c.LABEL_MANAGED: "1", c.LABEL_NODE: node}
    report = ReapReport(node=node)
    try:
        containers = backend.list_containers(labels)
    except SigmaExecError as exc:
        report.errors.append(str(exc))
        return report
    report.examined = len(containers)
    chosen = select_reapable(containers, now=now, live_pipelines=live_pipelines, dead_pipelines=dead_pipelines)
    for container_id, reason in chosen.items():
        try:
            if backend.remove(container_id):
                report.removed.append(container_id)
                report.reasons[container_id] = reason
        except SigmaExecError as exc:
            report.errors.append(f"{container_id[:12]}: {exc}")
    report.removed_networks = reap_orphan_egress(backend, node)
    return report


# ---- image garbage collection under a disk budget ------------------------------------------------
def select_images_to_remove(
    images: Iterable[dict[str, Any]], *, in_use: Collection[str], protected: Collection[str], budget_bytes: int
) -> list[str]:
    """Image ids to delete, oldest first, until the rest fits the budget (pure).

    Images a container uses and the current base images are never chosen.
    """
    images = list(images)
    total = sum(int(img.get("Size") or 0) for img in images)
    chosen: list[str] = []
    candidates = sorted(
        (img for img in images if img["Id"] not in in_use and not set(img.get("RepoTags") or []) & set(protected)),
        key=lambda img: int(img.get("Created") or 0),
    )
    for img in candidates:
        if total <= budget_bytes:
            break
        chosen.append(img["Id"])
        total -= int(img.get("Size") or 0)
    return chosen


def gc_images(backend: DockerBackend, *, repo_prefix: str, protected: Collection[str], budget_bytes: int) -> list[str]:
    """Delete sigma-exec images (tags under `repo_prefix`) beyond the disk budget; returns removed ids."""
    try:
        ours = [
            img
            for img in backend.all_images()
            if any(tag.startswith(repo_prefix) for tag in img.get("RepoTags") or [])
            or (img.get("Labels") or {}).get(c.LABEL_MANAGED) == "1"
        ]
        in_use = {item.get("ImageID", "") for item in backend.list_containers({})}
    except SigmaExecError:
        return []
    chosen = select_images_to_remove(ours, in_use=in_use, protected=protected, budget_bytes=budget_bytes)
    return [image_id for image_id in chosen if backend.remove_image(image_id)]


def collect_images(backend: DockerBackend, settings: Settings) -> list[str]:
    """Image GC with this node's settings: current base images are kept, the rest fits the budget."""
    protected = [base_image_ref(profile, settings) for profile in load_profiles().values()]
    return gc_images(
        backend,
        repo_prefix=image_repo(settings, ""),
        protected=protected,
        budget_bytes=settings.IMAGE_DISK_BUDGET_MB * 1024 * 1024,
    )
