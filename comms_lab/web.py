"""daphne, as `make run` and the tests start it, telling a client why its websocket closes.

Autobahn, under daphne, fails a connection by dropping TCP (`failByDrop`), so a client that sends a frame over
daphne's 1 MiB limit sees code 1006 and no reason. With `failByDrop` off it sends a close frame instead: 1009,
"received WebSocket message size ... exceeds payload limit of 1048576 octets". Frames up to 1 MiB reach the
consumer, which answers one over its own 64 KiB limit with an error frame and keeps the socket open.

Usage: python -m comms_lab.web <daphne arguments>
"""

from daphne import server
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketFactory


class ExplainingWebSocketFactory(WebSocketFactory):
    def setProtocolOptions(self, **options: object) -> None:
        super().setProtocolOptions(**options, failByDrop=False)


server.WebSocketFactory = ExplainingWebSocketFactory  # type: ignore[misc]

if __name__ == "__main__":
    CommandLineInterface.entrypoint()
