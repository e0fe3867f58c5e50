"""bench/events.py's baseline: the barest relay on the same channel layer, routed only when COMMS_LAB_BENCH=1.

It joins one group and forwards each frame sent to it, nothing else (no access check, no log, no catch-up), so
the time an event takes from `group_send` to a browser through it is what Channels and Redis cost by themselves.
"""

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

GROUP = "bench.relay"


class BareRelay(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def run_events(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"events": message["events"]}, separators=(",", ":")))
