"""Live progress over a websocket: the stored history first, then every new event as it happens."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from django.db.models import QuerySet

from runs.api.apikeys import apikey_lookup
from runs.events import group_name, history
from runs.models import Run
from runs.selectors import runs_visible_to, runs_visible_to_user

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
POLL_S = 0.25


class RunProgressConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.run_id = str(self.scope["url_route"]["kwargs"]["run_id"])
        self.last_seq = 0
        self.poller: asyncio.Task[None] | None = None
        visible = await database_sync_to_async(self._visible_runs)()
        if visible is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(visible.filter(pk=self.run_id).exists)():
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # Join the group before reading the history, so nothing falls in between;
        # duplicates are dropped by sequence number.
        await self.channel_layer.group_add(group_name(self.run_id), self.channel_name)
        await self.accept()
        for event in await database_sync_to_async(history)(self.run_id):
            await self._forward(event)
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            self.poller = asyncio.create_task(self._poll_stored_events())

    async def _poll_stored_events(self) -> None:
        """Embedded mode: the in-memory layer is not thread-safe, so a push from the executor's thread
        can wait unseen until this event loop wakes for another reason. Reading the stored events
        keeps the page live; duplicates are dropped by sequence number."""
        while True:
            await asyncio.sleep(POLL_S)
            for event in await database_sync_to_async(history)(self.run_id, self.last_seq):
                await self._forward(event)

    def _visible_runs(self) -> QuerySet[Run] | None:
        """Runs this client may watch: by API key (header or ?api_key=), else a logged-in session."""
        key = _presented_key(self.scope)
        if key:
            record = apikey_lookup(key)
            return runs_visible_to(record) if record else None
        user = self.scope.get("user")
        return runs_visible_to_user(user) if user is not None and user.is_authenticated else None

    async def disconnect(self, code: int) -> None:
        if self.poller is not None:
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.poller
        await self.channel_layer.group_discard(group_name(self.run_id), self.channel_name)

    async def run_event(self, message: dict[str, Any]) -> None:
        await self._forward(message["event"])

    async def _forward(self, event: dict[str, Any]) -> None:
        if event["seq"] <= self.last_seq:
            return
        self.last_seq = event["seq"]
        await self.send_json(event)


class NoSuchSocket(AsyncJsonWebsocketConsumer):
    """Websocket paths with no route are refused like the HTTP 404 they are."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_NOT_FOUND)


def _presented_key(scope: Mapping[str, Any]) -> str | None:
    headers = dict(scope.get("headers") or [])
    if key := headers.get(b"x-api-key"):
        return key.decode("latin-1")
    values = parse_qs(scope.get("query_string", b"").decode()).get("api_key")
    return values[0] if values else None
