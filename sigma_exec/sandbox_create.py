"""Creating sandboxes: a project's (its image, policy, limits, GPUs, network, workspace copied in) and a blank
one for a single command. A create that fails part-way leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sigma_exec import constants as c
from sigma_exec.archive import content_digest, workspace_tar
from sigma_exec.docker_backend import DockerBackend
from sigma_exec.egress import (
    BRIDGE_NETWORK,
    LABEL_EGRESS_FOR,
    close_egress_of,
    effective_allowlist,
    ensure_bridge,
    open_egress,
)
from sigma_exec.errors import InvalidRequestError, SigmaExecError
from sigma_exec.gpu import GpuRequest, device_requests, node_gpu_count, parse_gpu_request
from sigma_exec.images import ensure_base_image, ensure_project_image
from sigma_exec.languages import list_workspace_files, resolve_language, select_framework
from sigma_exec.models import CreateResult
from sigma_exec.output import sanitize_text
from sigma_exec.policy import NetworkMode, ProjectPolicy, effective_settings
from sigma_exec.pool import lease_name
from sigma_exec.prepared import Warmup, prepared_key
from sigma_exec.sandbox_unit import SandboxUnit
from sigma_exec.settings import NetworkPolicy
from sigma_exec.spec import ContainerSpec, build_container_spec

log = logging.getLogger(__name__)


class SandboxCreator(SandboxUnit):
    """Starts sandboxes (from the warm pool when it has one ready) and registers them."""

    def create(
        self,
        project_id: Any,
        workspace: str | Path,
        language: str,
        *,
        pipeline_id: str | None = None,
        network: str | None = None,
        progress: Callable[[str], None] | None = None,
        gpus: int | str | list[str] | None = None,
    ) -> CreateResult:
        """A project's sandbox with its workspace copied in; a failure is `success=False` naming the cause."""
        started = time.monotonic()
        try:
            profile = resolve_language(language)
            root = Path(str(workspace)).expanduser()
            if not root.is_dir():
                return CreateResult(
                    success=False, error=f"workspace {str(workspace)!r} does not exist or is not a directory"
                )
            rules = self._lookup.policy_for(project_id)
            limits = effective_settings(self.settings, rules)
            policy = NetworkPolicy.NONE if rules.network.mode else (NetworkPolicy(network) if network else None)
            gpu_request = parse_gpu_request(gpus)
            if gpu_request is not None:
                self._require_gpus(gpu_request)
            payload = workspace_tar(
                root, uid=c.SANDBOX_UID, gid=c.SANDBOX_GID, max_bytes=self.settings.MAX_WORKSPACE_MB * 1024 * 1024
            )
            framework = select_framework(profile, list_workspace_files(root))
            engine = self._engine()
            image, warnings = ensure_project_image(engine, profile, self.settings, root, project_id, progress)
            image_id, digest = engine.image_id(image), content_digest(payload)
            spec = build_container_spec(
                limits,
                image=image,
                project_id=project_id,
                language=profile.name,
                env={},
                pipeline_id=pipeline_id,
                network=policy,
            )
            spec = spec.model_copy(
                update={
                    "labels": {**spec.labels, c.LABEL_FRAMEWORK: framework.name},
                    "device_requests": device_requests(gpu_request),
                }
            )
            if spec.network_mode == BRIDGE_NETWORK:
                ensure_bridge(engine, self.settings.node)
            if rules.network.mode == NetworkMode.ALLOWLIST:
                container_id, prepared = self._start_behind_proxy(engine, spec, payload, rules), False
            else:
                warmup = Warmup(
                    command=framework.warm_command,
                    timeout_s=self.settings.TEST_TIMEOUT,
                    resident=framework.resident_command,
                    resident_env=framework.fixed_test_env(),
                )
                container_id, prepared = self._start_with_workspace(
                    engine, spec, payload, image_id=image_id, digest=digest, warmup=warmup
                )
        except ValueError as exc:
            return CreateResult(success=False, error=f"invalid network policy {network!r}: {exc}")
        except SigmaExecError as exc:
            return CreateResult(success=False, error=str(exc))
        for warning in warnings:
            log.warning("project %s: %s", project_id, warning)
        return CreateResult(
            success=True,
            container_id=container_id,
            image=image,
            image_id=image_id,
            framework=framework.name,
            workspace_digest=digest,
            language=profile.name,
            prepared=prepared,
            creation_time=round(time.monotonic() - started, 3),
            warnings=[sanitize_text(w)[:1000] for w in warnings[:50]],
        )

    @contextlib.contextmanager
    def blank_sandbox(self, language: str) -> Iterator[str]:
        """A fresh sandbox of `language` with an empty workspace, discarded when the block ends.

        With a warm pool it is already running and is removed in the background afterwards.
        """
        profile = resolve_language(language)
        engine = self._engine()
        image = ensure_base_image(engine, profile, self.settings)
        spec = build_container_spec(self.settings, image=image, project_id="", language=profile.name, env={})
        pool = self._pool()
        container_id = pool.acquire(spec, None) if pool else None
        if container_id is None:
            container_id = engine.create_container(spec)
            engine.start(container_id)
        self._registry.remember((container_id,), spec.labels)
        try:
            yield container_id
        finally:
            pool = self._pool()
            if pool is not None:
                pool.discard_later(container_id)
            else:
                engine.remove(container_id)
            self._registry.forget(container_id)

    def _start_behind_proxy(
        self, engine: DockerBackend, spec: ContainerSpec, payload: bytes, rules: ProjectPolicy
    ) -> str:
        """A sandbox on an internal network whose only way out is the allow-list proxy."""
        allow = effective_allowlist(rules.network.allow, self.settings.EGRESS_ALLOWLIST)
        if not allow:
            raise InvalidRequestError(
                f"the policy allows {rules.network.allow}, but none of it is within EGRESS_ALLOWLIST "
                f"{self.settings.EGRESS_ALLOWLIST}; a policy can only narrow what the operator allows"
            )
        proxy_image = ensure_base_image(engine, resolve_language("python"), self.settings)
        egress = open_egress(engine, self.settings, sandbox=spec.model_copy(update={"image": proxy_image}), allow=allow)
        boxed = spec.model_copy(
            update={"network_mode": egress.network, "environment": {**spec.environment, **egress.environment()}}
        )
        try:
            container_id = engine.create_container(boxed)
            self._registry.remember((container_id,), boxed.labels)
            engine.start(container_id)
            engine.put_archive(container_id, c.WORKSPACE_DIR, payload)
        except BaseException:
            close_egress_of(engine, {LABEL_EGRESS_FOR: boxed.name})
            engine.remove_where_named(boxed.name)
            raise
        return container_id

    def _start_with_workspace(
        self, engine: DockerBackend, spec: ContainerSpec, payload: bytes, *, image_id: str, digest: str, warmup: Warmup
    ) -> tuple[str, bool]:
        """The sandbox's id, and whether it was prepared beforehand (workspace delivered, warm command run).

        A project's sandbox is labelled for it from the start (a stage in another process reads its project,
        hence its policy, from the labels), so it is either a prepared one or created now; a blank pooled
        container, labelled for no project, serves only snippets.
        """
        pool = self._pool()
        prepared = pool.prepared if pool is not None else None
        key = prepared_key(spec, image_id, digest)
        name = lease_name(spec.labels[c.LABEL_PROJECT], spec.labels.get(c.LABEL_PIPELINE) or None)
        container_id = prepared.claim(key, name, self.settings.TEST_TIMEOUT) if prepared is not None else None
        delivered = container_id is not None
        try:
            if container_id is None:
                container_id = engine.create_container(spec)
                engine.start(container_id)
            if not delivered:
                engine.put_archive(container_id, c.WORKSPACE_DIR, payload)
        except BaseException:
            if container_id is not None:
                engine.remove(container_id)  # a partial create leaves nothing behind
            raise
        self._registry.remember((container_id,), spec.labels)
        if prepared is not None:  # the next proposal on this workspace finds its sandbox ready
            prepared.want(key, spec, payload, warmup=warmup, replaces=container_id)
        return container_id, delivered

    def _require_gpus(self, request: GpuRequest) -> None:
        offered = node_gpu_count(self._engine().info(), self.settings.NODE_GPUS)
        if offered == 0:
            raise InvalidRequestError(
                f"{request.describe()} requested, but node {self.settings.node!r} has no GPU "
                "(Docker lists no nvidia runtime and NODE_GPUS is not set); route GPU proposals to GPU workers"
            )
        if offered > 0 and (request.count or len(request.device_ids)) > offered:
            raise InvalidRequestError(f"{request.describe()} requested, but node {self.settings.node!r} has {offered}")
