"""Celery configuration derived from `sigma_exec.settings.Settings` plus the queue's own knobs (pure).

Time limits nest so that nothing runs twice and nothing is cut short:

    longest stage + KILL_GRACE_SECONDS <= soft time limit < hard time limit
        < hard time limit + retry back-off cap < visibility timeout

The longest stage is the test stage with the build after it (AUTO_BUILD: the build runs in the test stage's
exec when the tests pass), TEST_TIMEOUT + BUILD_TIMEOUT, or the build stage alone, BUILD_TIMEOUT.
`check_time_limits` states every violated rule; a worker refuses to start on any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sigma_exec.admission import node_capacity
from sigma_exec.settings import Settings

PROPOSALS_QUEUE: Final = "proposals"
GPU_PROPOSALS_QUEUE: Final = "proposals.gpu"  # consumed only by workers whose node offers GPUs
NODE_QUEUE_PREFIX: Final = "node."
STAGE_OVERHEAD_S: Final = 120  # create/apply/report reading on top of the longest exec
HARD_AFTER_SOFT_S: Final = 60  # time for the soft-limit handler to clean up
VISIBILITY_MARGIN_S: Final = 300


class QueueSettings(BaseSettings):
    """Knobs of the Celery pipeline that `Settings` does not carry (read from the environment)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    CELERY_SOFT_TIME_LIMIT: int | None = Field(None, ge=1, description="seconds; default derived from timeouts")
    CELERY_TIME_LIMIT: int | None = Field(None, ge=1, description="hard limit, seconds; default soft + 60")
    CELERY_VISIBILITY_TIMEOUT: int | None = Field(None, ge=1, description="seconds; default hard + back-off + 300")
    CELERY_MAX_DELIVERIES: int = Field(3, ge=1, description="a stage started this often and lost gives up")
    CELERY_MAX_RETRIES: int = Field(5, ge=0, description="retries of a stage on RetryableError")
    CELERY_RETRY_BACKOFF_MAX: int = Field(60, ge=1, description="cap on one retry's back-off, seconds")
    OUTCOME_TTL_SECONDS: int = Field(7 * 24 * 3600, ge=60, description="how long outcomes stay queryable")
    NODE_HEARTBEAT_SECONDS: int = Field(30, ge=1, description="a worker refreshes its node entry this often")
    NODE_FORGET_SECONDS: int = Field(24 * 3600, ge=60, description="a node silent this long gets no reap tasks")
    LOST_PIPELINE_GRACE_SECONDS: int = Field(60, ge=1, description="a pending proposal is checked after this")
    LOST_PIPELINE_CONFIRM_SECONDS: int = Field(30, ge=0, description="found nowhere twice this far apart: lost")
    LOST_PIPELINE_RERUNS: int = Field(1, ge=0, description="a lost pipeline is sent again this often, then error")
    METRICS_PORT: int = Field(0, ge=0, le=65535, description="a worker serves /metrics here (0: off)")
    METRICS_ADDRESS: str = Field("127.0.0.1", description="the address /metrics listens on")
    DRAIN_GRACE_SECONDS: int = Field(
        90, ge=0, description="on TERM a worker finishes the pipelines placed on its node this long (0: Celery's own)"
    )
    NODE_LOST_SECONDS: int | None = Field(
        None, ge=1, description="a node silent this long is lost: its queued stages re-run elsewhere (3 heartbeats + 5)"
    )


@dataclass(frozen=True)
class TimeLimits:
    soft_s: int
    hard_s: int
    visibility_s: int
    lease_s: int  # a pipeline's liveness key outlives one stage plus its redelivery

    @property
    def restore_interval_s(self) -> int:
        """How often a worker looks for messages abandoned by a dead worker."""
        return max(1, min(10, self.visibility_s // 4))


def proposal_queue(gpus: object) -> str:
    """Where a proposal's create stage goes: GPU proposals only reach GPU workers."""
    return GPU_PROPOSALS_QUEUE if gpus not in (None, 0, "", []) else PROPOSALS_QUEUE


def node_queue(node: str) -> str:
    """The queue only the workers of `node` consume (stages after create, reaping)."""
    return f"{NODE_QUEUE_PREFIX}{node}"


def longest_stage_s(settings: Settings) -> int:
    """The longest a stage's step may take: the tests with the build after them, or a build alone."""
    tests = settings.TEST_TIMEOUT + (settings.BUILD_TIMEOUT if settings.AUTO_BUILD else 0)
    return max(tests, settings.BUILD_TIMEOUT) + settings.KILL_GRACE_SECONDS


def time_limits(settings: Settings, queue: QueueSettings) -> TimeLimits:
    longest = longest_stage_s(settings)
    soft = queue.CELERY_SOFT_TIME_LIMIT or longest + STAGE_OVERHEAD_S
    hard = queue.CELERY_TIME_LIMIT or soft + HARD_AFTER_SOFT_S
    visibility = queue.CELERY_VISIBILITY_TIMEOUT or hard + queue.CELERY_RETRY_BACKOFF_MAX + VISIBILITY_MARGIN_S
    return TimeLimits(soft_s=soft, hard_s=hard, visibility_s=visibility, lease_s=visibility + hard)


def check_time_limits(settings: Settings, queue: QueueSettings) -> list[str]:
    """Every rule the configured limits break; empty when they nest correctly."""
    limits = time_limits(settings, queue)
    longest = longest_stage_s(settings)
    problems = []
    if limits.soft_s < longest:
        problems.append(
            f"CELERY_SOFT_TIME_LIMIT={limits.soft_s}s is shorter than the longest stage "
            f"(TEST_TIMEOUT + BUILD_TIMEOUT, the tests with the build after them, + KILL_GRACE_SECONDS = {longest}s)"
        )
    if limits.hard_s <= limits.soft_s:
        problems.append(f"CELERY_TIME_LIMIT={limits.hard_s}s must exceed CELERY_SOFT_TIME_LIMIT={limits.soft_s}s")
    if limits.visibility_s <= limits.hard_s + queue.CELERY_RETRY_BACKOFF_MAX:
        problems.append(
            f"CELERY_VISIBILITY_TIMEOUT={limits.visibility_s}s must exceed CELERY_TIME_LIMIT + "
            f"CELERY_RETRY_BACKOFF_MAX = {limits.hard_s + queue.CELERY_RETRY_BACKOFF_MAX}s, "
            "else a running stage is delivered twice"
        )
    return problems


def celery_config(settings: Settings, queue: QueueSettings) -> dict[str, Any]:
    """The Celery settings of the pipeline (lower-case names, Celery 5 style)."""
    limits = time_limits(settings, queue)
    transport = {
        "visibility_timeout": limits.visibility_s,
        "unacked_restore_interval": limits.restore_interval_s,
        "unacked_restore_throttle": 1,
    }
    return {
        "broker_url": settings.CELERY_BROKER_URL,
        "result_backend": settings.CELERY_RESULT_BACKEND,
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": limits.visibility_s},
        "visibility_timeout": limits.visibility_s,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a worker outlives a Redis restart
        # Publishing the next stage (or a retry) rides out a Redis restart instead of dropping the chain.
        "task_publish_retry": True,
        "task_publish_retry_policy": {"max_retries": 30, "interval_start": 0, "interval_step": 1, "interval_max": 5},
        "result_backend_always_retry": True,
        "result_backend_max_retries": 30,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "result_expires": queue.OUTCOME_TTL_SECONDS,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": limits.soft_s,
        "task_time_limit": limits.hard_s,
        "task_track_started": True,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "task_default_queue": PROPOSALS_QUEUE,
        "task_create_missing_queues": True,
        "worker_max_tasks_per_child": 200,
        # Parallel pipelines: as many as the node's CPU/memory budget admits (celery -c overrides).
        "worker_concurrency": node_capacity(settings),
        "worker_hijack_root_logger": True,
        # Beat keeps no state on disk: its one entry is a periodic reap (a restart waits one interval, and
        # every worker reaps its node at start), so two beats (one too many, by accident) never share
        # a schedule file (the default shelve, dbm.dumb here, is not safe for two writers).
        "beat_scheduler": "celery.beat:Scheduler",
        "beat_schedule": {
            "reap-every-node": {
                "task": "sigma.reap_all_nodes",
                "schedule": float(settings.REAPER_INTERVAL_SECONDS),
                "options": {"queue": PROPOSALS_QUEUE, "expires": float(settings.REAPER_INTERVAL_SECONDS)},
            }
        },
    }
