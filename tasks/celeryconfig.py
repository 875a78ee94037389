"""The Celery settings, computed when Celery first reads its configuration (never at `import tasks`).

`tasks.app` points Celery at this module by name (`config_from_object("tasks.celeryconfig")`), which
Celery imports lazily; the values come from `tasks.config.celery_config` over this process's settings.
"""

from __future__ import annotations

from tasks import runtime
from tasks.config import celery_config

globals().update(celery_config(runtime.settings(), runtime.queue_settings()))
