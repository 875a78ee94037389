"""The one place that knows about the broker below Celery: kombu's names, nothing of its storage.

Liveness and recovery come from our own ledger (`tasks.store`, `tasks.lost`); all they ask of the
broker is how many messages wait on a queue, through kombu's public `queue_declare(passive=True)`.
The versions this is tested with are pinned in pyproject.toml (celery, kombu).
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)


def queue_length(app: Any, queue: str) -> int:
    """Messages waiting on `queue` (every priority); 0 for a queue that does not exist (yet)."""
    with app.connection_for_read() as connection:
        try:
            return int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except ChannelError:  # kombu's answer for a queue holding no message
            return 0


def patch_ack_after_disconnect() -> None:
    """Make an ack racing a lost Redis connection a recoverable connection error.

    kombu 5.x reads `channel.connection.client` while acking; after the connection was torn down it is
    None and the AttributeError kills the worker ("Unrecoverable error") during a Redis restart. As a
    ConnectionError, Celery reconnects instead; the message comes back after the visibility timeout and
    the ledger's fencing makes that late copy do nothing. Tested by tests/faults/test_redis_outage.py.
    """
    original = kombu_redis.Channel._connparams
    if getattr(original, "_sigma_patched", False):
        return

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if self.connection is None or getattr(self.connection, "client", None) is None:
            raise RedisConnectionError("broker connection closed while acknowledging; will reconnect")
        return original(self, asynchronous)

    _connparams._sigma_patched = True  # type: ignore[attr-defined]
    kombu_redis.Channel._connparams = _connparams
