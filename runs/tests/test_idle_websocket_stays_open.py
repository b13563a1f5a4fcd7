"""A run's websocket stays open while nothing happens, through the real server and the Redis channel layer.

redis-py 8 gives every connection a 5 s read timeout, which cuts channels_redis's
blocking wait for the next message: the consumer crashed and Daphne closed idle
sockets every 5-6 s (issue 14).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from channels_redis.core import RedisChannelLayer
from websockets.typing import Origin

from runs.conftest import QueuedRun
from runs.events import group_name

IDLE_S = 12.0


async def follow_idle_then_event(base_url: str, key: str, run_id: str, redis_url: str) -> dict[str, Any]:
    uri = f"{base_url.replace('http', 'ws')}/ws/runs/{run_id}/?api_key={key}"
    async with websockets.connect(uri, origin=Origin(base_url)) as socket_:
        with pytest.raises(TimeoutError):  # nothing arrives, and the socket is not closed either
            await asyncio.wait_for(socket_.recv(), IDLE_S)
        event = {"seq": 2**40, "type": "log", "data": {"line": "after the quiet"}, "at": "now"}
        await RedisChannelLayer(hosts=[redis_url]).group_send(group_name(run_id), {"type": "run.event", "event": event})
        return json.loads(await asyncio.wait_for(socket_.recv(), 10))


def test_an_idle_websocket_stays_open_and_still_gets_the_next_event(queued_run_on_daphne: QueuedRun) -> None:
    run = queued_run_on_daphne  # queued with no worker: its socket stays quiet
    event = asyncio.run(follow_idle_then_event(run.base_url, run.api_key, run.run_id, run.redis_url))
    assert event["data"] == {"line": "after the quiet"}
