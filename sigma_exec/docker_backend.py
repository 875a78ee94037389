"""The one Docker boundary: the only module that imports the Docker SDK.

Every SDK or transport error is translated here, in `_translate`, into the
sigma-exec error tree by its type and HTTP status code: a transport failure or a 502/503/504 is
`DockerUnavailableError` (retryable), 404 `ContainerNotFoundError`, 409 `EngineConflictError`, any other
refusal (500 included: an OCI runtime error does not heal by retrying) `SandboxError` with the engine's message.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket as socketlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import docker
import docker.errors
import requests
from docker.types import DeviceRequest, DriverConfig, LogConfig, Mount, Ulimit
from docker.utils.socket import frames_iter

from sigma_exec.errors import (
    ContainerNotFoundError,
    DockerUnavailableError,
    EngineConflictError,
    ImageBuildError,
    SandboxError,
    SigmaExecError,
)
from sigma_exec.models import PathStat, RawExec
from sigma_exec.output import BoundedOutput
from sigma_exec.spec import ContainerSpec

API_TIMEOUT_S = 120  # a socket time-out for every API call: a blocked call must not hang a worker


@contextlib.contextmanager
def _translate(container_id: str | None = None) -> Iterator[None]:
    try:
        yield
    except docker.errors.NotFound as exc:
        if container_id is not None:
            raise ContainerNotFoundError(container_id) from exc
        raise SandboxError(f"docker: {exc.explanation or exc}") from exc
    except docker.errors.ImageNotFound as exc:  # pragma: no cover - subclass of NotFound
        raise SandboxError(f"image not found: {exc}") from exc
    except docker.errors.APIError as exc:
        raise _api_error(exc) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError) as exc:
        raise DockerUnavailableError(f"docker unavailable: {exc}") from exc
    except docker.errors.DockerException as exc:
        raise DockerUnavailableError(f"docker unavailable: {exc}") from exc


# The engine says it cannot serve now (a proxy in front of it, a daemon starting up or shutting down):
# worth retrying. Any other answer, 500 included (an OCI runtime error, a missing runtime), is final.
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})
GO_MODE_DIR, GO_MODE_SYMLINK = 1 << 31, 1 << 27  # os.FileMode bits in the engine's path stat (the engine is Go)
CONFLICT_STATUS = 409


def _api_error(exc: docker.errors.APIError) -> SigmaExecError:
    """The error an engine's HTTP answer means, by its status code (never by its text)."""
    explanation = exc.explanation or str(exc)
    if exc.status_code in UNAVAILABLE_STATUSES:
        return DockerUnavailableError(f"docker unavailable ({exc.status_code}): {explanation}")
    if exc.status_code == CONFLICT_STATUS:
        return EngineConflictError(f"docker refused (conflict): {explanation}")
    return SandboxError(f"docker refused ({exc.status_code}): {explanation}")


class DockerBackend:
    """Thin primitives over one Docker engine."""

    def __init__(self, base_url: str | None = None, timeout_s: int = API_TIMEOUT_S) -> None:
        with _translate():
            if base_url:
                self.client = docker.DockerClient(base_url=base_url, timeout=timeout_s)
            else:
                self.client = docker.from_env(timeout=timeout_s)
        self.api = self.client.api
        # A local engine shares this host's cgroup and /proc files (fast stats).
        self.is_local = str(self.api.base_url).startswith("http+docker://localhost") and not base_url

    # ---- engine -------------------------------------------------------------------------------
    def ping(self) -> bool:
        with _translate():
            return bool(self.api.ping())

    def info(self) -> dict[str, Any]:
        with _translate():
            return dict(self.api.info())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    # ---- containers ---------------------------------------------------------------------------
    def create_container(self, spec: ContainerSpec) -> str:
        mounts = [
            Mount(v.target, None, type="volume", driver_config=DriverConfig("local", v.driver_options))
            for v in spec.volumes
        ]
        kwargs: dict[str, Any] = {
            "name": spec.name,
            "command": spec.command,
            "user": spec.user,
            "labels": spec.labels,
            "environment": spec.environment,
            "working_dir": spec.working_dir,
            "init": spec.init,
            "read_only": spec.read_only,
            "privileged": spec.privileged,
            "cap_drop": spec.cap_drop,
            "cap_add": spec.cap_add,
            "security_opt": spec.security_opt,
            "nano_cpus": spec.nano_cpus,
            "mem_limit": spec.mem_limit,
            "memswap_limit": spec.memswap_limit,
            "pids_limit": spec.pids_limit,
            "ulimits": [Ulimit(name=k, soft=v, hard=v) for k, v in spec.ulimits.items()],
            "tmpfs": spec.tmpfs,
            "mounts": mounts,
            "network_mode": spec.network_mode,
            "log_config": LogConfig(type="none"),
            "detach": True,
        }
        if spec.runtime:
            kwargs["runtime"] = spec.runtime
        if spec.device_requests:
            kwargs["device_requests"] = [
                DeviceRequest(
                    driver=str(r.get("Driver", "")),
                    count=int(r["Count"]) if "Count" in r else 0,  # type: ignore[call-overload]
                    device_ids=list(r.get("DeviceIDs") or []),  # type: ignore[call-overload]
                    capabilities=r.get("Capabilities"),
                )
                for r in spec.device_requests
            ]
        with _translate():
            return str(self.client.containers.create(spec.image, **kwargs).id)

    def start(self, container_id: str) -> None:
        with _translate(container_id):
            self.api.start(container_id)

    def inspect(self, container_id: str) -> dict[str, Any]:
        with _translate(container_id):
            return dict(self.api.inspect_container(container_id))

    def remove(self, container_id: str) -> bool:
        """Force-remove a container and its anonymous volumes; False if it was already gone."""
        try:
            with _translate(container_id):
                self.api.remove_container(container_id, force=True, v=True)
        except (ContainerNotFoundError, EngineConflictError):  # gone, or its removal is already under way
            return False
        return True

    def rename(self, container_id: str, name: str) -> None:
        with _translate(container_id):
            self.api.rename(container_id, name)

    def container_names(self, labels: Mapping[str, str]) -> dict[str, str]:
        """Container id → name (without the leading slash) for containers carrying `labels`."""
        return {item["Id"]: (item.get("Names") or ["/"])[0].lstrip("/") for item in self.list_containers(labels)}

    def remove_where_named(self, name: str) -> None:
        """Remove a container by name if it exists (cleanup after a half-finished create)."""
        with contextlib.suppress(SandboxError, ContainerNotFoundError):
            self.remove(name)

    def stop(self, container_id: str) -> None:
        with _translate(container_id):
            self.api.kill(container_id)

    def list_containers(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every container (running or not) carrying all of `labels`."""
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]} if labels else None
        with _translate():
            return list(self.api.containers(all=True, filters=filters))

    def create_network(
        self, name: str, labels: Mapping[str, str], internal: bool, options: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """A user-defined bridge network; returns its id, subnet and gateway."""
        with _translate():
            net_id = self.api.create_network(
                name, driver="bridge", internal=internal, labels=dict(labels), options=dict(options or {})
            )["Id"]
            config = (self.api.inspect_network(net_id).get("IPAM") or {}).get("Config") or [{}]
        return {"id": net_id, "subnet": config[0].get("Subnet", ""), "gateway": config[0].get("Gateway", "")}

    def connect(self, network: str, container_id: str, aliases: list[str]) -> None:
        with _translate(container_id):
            self.api.connect_container_to_network(container_id, network, aliases=aliases)

    def remove_network(self, network: str) -> bool:
        try:
            with _translate():
                self.api.remove_network(network)
        except SandboxError:
            return False
        return True

    def list_networks(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        with _translate():
            return list(self.api.networks(filters={"label": [f"{k}={v}" for k, v in labels.items()]}))

    def put_archive(self, container_id: str, path: str, data: bytes) -> None:
        with _translate(container_id):
            if not self.api.put_archive(container_id, path, data):
                raise SandboxError(f"docker refused the archive for {path}")

    def stat_path(self, container_id: str, path: str) -> PathStat | None:
        """What is at `path` in the container, or None when nothing is (or the container is gone: the write that
        follows says so). The engine resolves the parent directories within the container's root and reports the
        last component itself (a link is a link). A HEAD of the archive endpoint: nothing is copied."""
        url = f"{self.api.base_url}/v{self.api.api_version}/containers/{quote(container_id, safe='')}/archive"
        with _translate(container_id):
            response = self.api.head(url, params={"path": path}, timeout=self.api.timeout)
        if response.status_code == 404:
            return None
        header = response.headers.get("X-Docker-Container-Path-Stat", "")
        try:
            if response.status_code != 200:
                raise ValueError(f"status {response.status_code}")
            mode = int(json.loads(base64.b64decode(header, validate=True))["mode"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SandboxError(f"docker gave no stat of {path!r} ({exc})") from exc
        return PathStat(is_dir=bool(mode & GO_MODE_DIR), is_link=bool(mode & GO_MODE_SYMLINK))

    def stats(self, container_id: str) -> dict[str, Any]:
        with _translate(container_id):
            return dict(self.api.stats(container_id, stream=False, one_shot=True))

    # ---- exec ---------------------------------------------------------------------------------
    def exec_bounded(
        self,
        container_id: str,
        argv: Sequence[str],
        *,
        user: str,
        environment: Mapping[str, str] | None = None,
        workdir: str | None = None,
        cap_bytes: int,
        deadline_s: float,
        on_deadline: Sequence[str] | None = None,
        keep_lines: Callable[[str], bool] | None = None,
        side_cap: int = 0,
    ) -> RawExec:
        """Run argv, keep at most `cap_bytes` of output, and stop waiting at `deadline_s`.

        At the deadline `on_deadline` (a kill script) is exec'd as the same user from
        outside the command's process tree; if the stream still does not end, it is closed.
        Lines `keep_lines` chooses are kept even when the cap cuts them (see `BoundedOutput`).
        With `side_cap`, stderr is a side channel: not output, its last `side_cap` bytes come back raw.
        """
        started = time.monotonic()
        with _translate(container_id):
            exec_id = self.api.exec_create(
                container_id, list(argv), user=user, environment=dict(environment or {}), workdir=workdir
            )["Id"]
            sock = self.api.exec_start(exec_id, socket=True)
        out = BoundedOutput(cap_bytes, keep_lines)
        side = _Tail(side_cap) if side_cap > 0 else None
        reader = threading.Thread(target=_pump, args=(sock, out, side), daemon=True)
        reader.start()
        reader.join(deadline_s)
        hit = reader.is_alive()
        if hit:
            self._end_stuck_exec(container_id, user, on_deadline, reader, sock)
        with _translate(container_id):
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        return RawExec(
            exit_code=code,
            output=out.text(),
            output_bytes=out.total,
            truncated=out.truncated,
            elapsed_s=time.monotonic() - started,
            deadline_hit=hit,
            side=side.value() if side is not None else b"",
        )

    def _end_stuck_exec(
        self, container_id: str, user: str, killer: Sequence[str] | None, reader: threading.Thread, sock: Any
    ) -> None:
        if killer:
            with contextlib.suppress(Exception):
                kid = self.api.exec_create(container_id, list(killer), user=user)["Id"]
                self.api.exec_start(kid)
            reader.join(5)
        if reader.is_alive():
            _close_socket(sock)
            reader.join(5)

    def exec_capture(
        self,
        container_id: str,
        argv: Sequence[str],
        *,
        user: str,
        cap_bytes: int,
        deadline_s: float = 60,
        environment: Mapping[str, str] | None = None,
    ) -> tuple[int | None, bytes]:
        """Run a helper and return its raw stdout bytes (capped), e.g. a tar stream."""
        with _translate(container_id):
            exec_id = self.api.exec_create(
                container_id, list(argv), user=user, stderr=False, environment=dict(environment or {})
            )["Id"]
            sock = self.api.exec_start(exec_id, socket=True)
        chunks = bytearray()
        holder: list[bool] = []

        def collect() -> None:
            with contextlib.suppress(Exception):
                for stream, data in frames_iter(sock, tty=False):
                    if stream == 1 and len(chunks) < cap_bytes:
                        chunks.extend(data[: cap_bytes - len(chunks)])
            holder.append(True)

        thread = threading.Thread(target=collect, daemon=True)
        thread.start()
        thread.join(deadline_s)
        if thread.is_alive():
            _close_socket(sock)
            thread.join(5)
        with _translate(container_id):
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        return code, bytes(chunks)

    # ---- images -------------------------------------------------------------------------------
    def image_id(self, ref: str) -> str | None:
        try:
            with _translate():
                return str(self.api.inspect_image(ref)["Id"])
        except SandboxError:
            return None

    def import_image(self, tar_path: str, repository: str, tag: str, changes: list[str]) -> None:
        with _translate():
            self.api.import_image_from_file(tar_path, repository=repository, tag=tag, changes=changes)

    def build_image(
        self,
        context_tar: bytes,
        tag: str,
        labels: Mapping[str, str],
        timeout_s: int,
        network: str = "none",
        dockerfile: str | None = None,
        buildargs: Mapping[str, str] | None = None,
    ) -> str:
        """Build from an in-memory tar context; return the log tail; raise ImageBuildError on failure."""
        import io

        log = BoundedOutput(64 * 1024)
        started = time.monotonic()
        with _translate():
            for chunk in self.api.build(
                fileobj=io.BytesIO(context_tar),
                custom_context=True,
                tag=tag,
                labels=dict(labels),
                rm=True,
                forcerm=True,
                network_mode=network,
                dockerfile=dockerfile,
                buildargs=dict(buildargs or {}),
                pull=False,
                decode=True,
                timeout=timeout_s,
            ):
                if "error" in chunk:
                    raise ImageBuildError(f"image build of {tag} failed: {chunk['error']}", log.text())
                log.write(str(chunk.get("stream", "")).encode())
                if time.monotonic() - started > timeout_s:  # closing the stream cancels the build
                    raise ImageBuildError(f"image build of {tag} took longer than {timeout_s}s", log.text())
        return log.text()

    def pull(self, ref: str, timeout_s: int = 600) -> str | None:
        """Pull `ref`; None on success, else the reason (registry down, unknown image …)."""
        repository, _, tag = ref.rpartition(":")
        try:
            with _translate():
                for chunk in self.api.pull(repository, tag=tag, stream=True, decode=True):
                    if "error" in chunk:
                        return str(chunk["error"])
        except (SandboxError, DockerUnavailableError) as exc:
            return str(exc)
        return None if self.image_id(ref) else f"{ref} not present after pull"

    def push(self, ref: str) -> str | None:
        """Push `ref`; None on success, else the reason."""
        repository, _, tag = ref.rpartition(":")
        try:
            with _translate():
                for chunk in self.api.push(repository, tag=tag, stream=True, decode=True):
                    if "error" in chunk:
                        return str(chunk["error"])
        except (SandboxError, DockerUnavailableError) as exc:
            return str(exc)
        return None

    def commit(self, container_id: str, repository: str, tag: str, changes: Sequence[str]) -> str:
        """Commit a (stopped or running) container's filesystem as an image; volumes are not included."""
        with _translate(container_id):
            return str(self.api.commit(container_id, repository=repository, tag=tag, changes=list(changes))["Id"])

    def image_labels(self, ref: str) -> dict[str, str] | None:
        """The image's labels, or None when there is no such image (one inspect answers both)."""
        try:
            with _translate():
                return dict(self.api.inspect_image(ref).get("Config", {}).get("Labels") or {})
        except SandboxError:
            return None

    def tag_image(self, ref: str, repository: str, tag: str) -> None:
        with _translate():
            self.api.tag(ref, repository, tag)

    def remove_image(self, ref: str) -> bool:
        try:
            with _translate():
                self.api.remove_image(ref, force=True)
        except SandboxError:
            return False
        return True

    def all_images(self) -> list[dict[str, Any]]:
        with _translate():
            return list(self.api.images())

    def list_images(self, labels: Mapping[str, str], dangling: bool | None = None) -> list[dict[str, Any]]:
        filters: dict[str, Any] = {"label": [f"{k}={v}" for k, v in labels.items()]}
        if dangling is not None:
            filters["dangling"] = dangling
        with _translate():
            return list(self.api.images(filters=filters))


class _Tail:
    """The last `cap` bytes written."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._buf = bytearray()

    def write(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) > 2 * self.cap:  # trimmed now and then: amortised, memory stays under 2 * cap
            del self._buf[: len(self._buf) - self.cap]

    def value(self) -> bytes:
        return bytes(self._buf[-self.cap :])


STDERR = 2


def _pump(sock: Any, out: BoundedOutput, side: _Tail | None = None) -> None:
    with contextlib.suppress(Exception):
        for stream, data in frames_iter(sock, tty=False):
            if side is not None and stream == STDERR:
                side.write(data)
            else:
                out.write(data)


def _close_socket(sock: Any) -> None:
    raw = getattr(sock, "_sock", sock)
    with contextlib.suppress(Exception):
        raw.shutdown(socketlib.SHUT_RDWR)
    with contextlib.suppress(Exception):
        sock.close()
