"""A second Docker engine on this machine, made and torn down by the tests: a node with its own state.

`dockerd` with its own data root, exec root, pid file and socket (and so its own managed containerd),
its own bridge interface and no iptables rules (sandboxes have no network anyway), images copied from
the main engine with `docker save | docker load`. Not `--bridge=none`: a dockerd started so deletes the
interface `docker0`, which belongs to the machine's own engine. `kill()` ends it as a lost machine would: the sandboxes'
processes, the shims, containerd and dockerd all SIGKILLed, nothing cleaned up; `start()` brings the
same node back with what it had on disk.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_helpers import wait_until

START_S = 60


@dataclass
class Engine:
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = self.root / "dockerd.log"

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def exec_root(self) -> Path:
        return self.root / "exec"

    def docker(self, *args: str, timeout: float = 120, check: bool = True, **kw: object) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "-H", self.host, *args], capture_output=True, timeout=timeout, check=check, **kw
        )

    def answers(self) -> bool:
        try:
            return self.docker("info", "--format", "{{.ID}}", timeout=10, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    @property
    def bridge(self) -> str:
        return "sigmab" + str(abs(hash(self.root)) % 10_000)

    def _make_bridge(self) -> None:
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True, check=False).returncode == 0:
            return
        for argv in (
            ["ip", "link", "add", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", "172.31.254.1/24", "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ):
            subprocess.run(argv, capture_output=True, check=True)

    def start(self) -> None:
        self._make_bridge()
        argv = [
            "dockerd",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.exec_root}",
            f"--pidfile={self.root / 'docker.pid'}",
            f"--host={self.host}",
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--ip6tables=false",
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.answers, START_S, interval_s=0.5, what=f"the engine at {self.socket}")

    def load_images(self, refs: list[str]) -> None:
        """Copy images from the main engine (no registry here): docker save | docker load."""
        for ref in refs:
            present = self.docker("image", "inspect", ref, check=False).returncode == 0
            if present:
                continue
            save = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE)
            assert save.stdout is not None
            self.docker("load", stdin=save.stdout, timeout=300)
            assert save.wait(timeout=60) == 0

    def container_pids(self) -> list[int]:
        ids = self.docker("ps", "-q", check=False).stdout.decode().split()
        if not ids:
            return []
        found = self.docker("inspect", "--format", "{{.State.Pid}}", *ids, check=False).stdout.decode().split()
        return [int(pid) for pid in found if pid.isdigit() and int(pid) > 0]

    def kill(self) -> None:
        """Lose the node whole: every process of this engine SIGKILLed at once, no shutdown of any kind."""
        pids = self.container_pids()
        pids += _pids_with_arg(str(self.exec_root))  # the managed containerd and its shims
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        """Tear down: remove every container, stop the engine, unmount and delete its state."""
        if self.proc is not None and self.answers():
            ids = self.docker("ps", "-aq", check=False).stdout.decode().split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        for pid in _pids_with_arg(str(self.exec_root)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        for mount in reversed(_mounts_under(self.root)):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)


def _pids_with_arg(fragment: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if fragment.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root)
    lines = Path("/proc/self/mounts").read_text().splitlines()
    return sorted({line.split()[1] for line in lines if line.split()[1].startswith(prefix)})
