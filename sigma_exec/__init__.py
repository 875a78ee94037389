"""sigma-exec: safe, isolated code execution for autonomous coding agents."""

from __future__ import annotations

from sigma_exec.executor import DockerExecutor
from sigma_exec.models import (
    BuildResult,
    ChangeResult,
    CleanupResult,
    ContainerStats,
    CreateResult,
    ExecutionResult,
    TestCase,
    TestResult,
)
from sigma_exec.settings import Settings

__all__ = [
    "BuildResult",
    "ChangeResult",
    "CleanupResult",
    "ContainerStats",
    "CreateResult",
    "DockerExecutor",
    "ExecutionResult",
    "Settings",
    "TestCase",
    "TestResult",
]
__version__ = "0.1.0"
