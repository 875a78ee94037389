"""The Celery application of sigma-exec: `celery -A tasks worker|beat|flower`.

The only package of the project that imports Celery. See `tasks.stages` for the pipeline,
`tasks.reaping` for reaping, `tasks.client` for submit/follow/status.
"""

from __future__ import annotations

from tasks import control, reaping, stages  # noqa: F401  (registers the tasks and control commands)
from tasks.app import app
from tasks.client import follow, status, submit_proposal

__all__ = ["app", "follow", "status", "submit_proposal"]
