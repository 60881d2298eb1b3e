"""A TCP proxy in front of the collector's OTLP port that can stop forwarding: the "black-holed
endpoint" fault of bench/soak.py.

    python bench/soak/blackhole.py LISTEN_PORT TARGET_PORT

SIGUSR1 black-holes it: bytes from clients are read and thrown away and nothing comes back, on open
connections and new ones alike (a firewall DROP rule, not a refused connection), so exporters wait
for their timeouts. SIGUSR2 forwards again and closes every connection that lived through the hole
(their streams lost bytes, as after a real partition the peers' TCP would eventually give up);
clients reconnect. Runs as its own process so the relay costs the soak's bot no time under its GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys


class Relay:
    """The proxy's state: whether it forwards, and the connections that saw the hole."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.black_holed = False
        self.open: set[asyncio.StreamWriter] = set()
        self.tainted: set[asyncio.StreamWriter] = set()

    def hole(self) -> None:
        self.black_holed = True
        self.tainted |= self.open

    def heal(self) -> None:
        self.black_holed = False
        for writer in self.tainted:
            with contextlib.suppress(OSError, RuntimeError):
                writer.transport.abort()
        self.tainted.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, RuntimeError):
            while data := await reader.read(65536):
                if self.black_holed or writer is None:
                    continue  # swallowed
                writer.write(data)
                await writer.drain()
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open.add(writer)
        try:
            if self.black_holed:
                self.tainted.add(writer)
                await self._pipe(reader, None)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                writer.close()
                return
            self.open.add(up_writer)
            try:
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
            finally:
                self.open.discard(up_writer)
                self.tainted.discard(up_writer)
        finally:
            self.open.discard(writer)
            self.tainted.discard(writer)


async def main(listen_port: int, target_port: int) -> None:
    relay = Relay(target_port)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, relay.hole)
    loop.add_signal_handler(signal.SIGUSR2, relay.heal)
    server = await asyncio.start_server(relay.serve, "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
