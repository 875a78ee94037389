"""Procfile and docker-compose.yml describe the pipeline's processes and nothing else."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from pipeline_helpers import REPO

PROCESSES = {"worker", "beat", "flower"}


def test_the_procfile_runs_worker_beat_and_flower_of_the_tasks_app() -> None:
    lines = [line for line in (REPO / "Procfile").read_text().splitlines() if line.strip()]
    entries = dict(line.split(":", 1) for line in lines)
    assert set(entries) == PROCESSES
    for name, command in entries.items():
        assert command.split()[:4] == ["celery", "-A", "tasks", name]


def test_docker_compose_accepts_the_file_and_lists_redis_and_the_three_processes() -> None:
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.skip("docker-compose is not installed (apt-get install -y docker-compose)")
    argv = [compose, "-f", str(REPO / "docker-compose.yml"), "config"]
    valid = subprocess.run([*argv, "-q"], capture_output=True, text=True, timeout=60, check=False)
    assert valid.returncode == 0, valid.stderr
    listed = subprocess.run([*argv, "--services"], capture_output=True, text=True, timeout=60, check=True)
    assert set(listed.stdout.split()) == {"redis", *PROCESSES}


def test_compose_runs_the_tasks_app_against_its_redis() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    services: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert set(services) == {"redis", *PROCESSES}
    for name in PROCESSES:
        command = services[name]["command"]
        command = command if isinstance(command, list) else command.split()
        assert command[:4] == ["celery", "-A", "tasks", name]
        assert services[name]["environment"]["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert any("docker.sock" in str(v) for v in services["worker"]["volumes"])
    assert "noeviction" in " ".join(services["redis"]["command"])
