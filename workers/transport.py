"""The broker transport: kombu's Redis transport, made safe across a broker restart.

Messages are acknowledged on the connection they came by. When the broker goes away under a
running worker, that connection's channel is closed and Celery opens a new one; kombu 5.7 then
fails in two places with an ``AttributeError`` (not a connection error, so nothing catches it)
and Celery exits — a broker restart stopped the worker:

* at close it puts the messages the channel holds unacknowledged back in their queues itself
  (``'NoneType' object has no attribute 'hostname'``: the restore needs the connection that is gone);
* a task that ends after the reconnection acknowledges (or rejects) its message on the closed
  channel (``'NoneType' object has no attribute 'client'``).

Here neither happens: a closed channel restores nothing and acknowledges nothing. Its messages are
still in the broker's unacked set, and the visibility timeout returns them within
``delivery.REDELIVERY_BOUND_SECONDS`` (docs/operations/running-agents.md); their tasks
are idempotent, so one that had run is redone harmlessly. Selected by ``broker_transport``
(``workers/app.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis

log = logging.getLogger(__name__)


class Channel(redis.Channel):
    do_restore = False

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        if self.closed:
            log.warning("message %s not acknowledged: its connection closed; the broker delivers it again", delivery_tag)
            return
        super().basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        if self.closed:
            log.warning("message %s not rejected: its connection closed; the broker delivers it again", delivery_tag)
            return
        super().basic_reject(delivery_tag, requeue=requeue)


class Transport(redis.Transport):
    Channel = Channel
