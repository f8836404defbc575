#!/usr/bin/env python3
"""A loopback TCP proxy that adds a fixed delay each way: what a remote
server costs.  One process, one asyncio loop, many listening ports:

    delay-proxy.py UPSTREAM DELAY_MS FIRST_PORT COUNT

listens on 127.0.0.1:FIRST_PORT .. FIRST_PORT+COUNT-1 and forwards each
connection to 127.0.0.1:UPSTREAM, or to the unix socket UPSTREAM when
it is a path.  Every chunk read is written on
DELAY_MS later, in order, so latency grows by DELAY_MS each way and
bandwidth is not throttled.  Prints "ready" once every port listens,
then for each connection closed a line

    conn PORT rtt N

with N the round trips the client waited for: the runs of chunks from
the server, consecutive chunks one way counting as one run (a pipeline
of queries is one run each way; the client's final Terminate is
answered by nothing).  (tests/bench/alert.sh)"""
import asyncio
import sys


class Turns:
    """The direction of the last chunk read, and the server's runs."""

    def __init__(self):
        self.last = None
        self.server_runs = 0

    def saw(self, direction):
        if direction != self.last and direction == "s":
            self.server_runs += 1
        self.last = direction


async def pump(reader, writer, delay, turns, direction):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            turns.saw(direction)
            queue.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((loop.time() + delay, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


async def main():
    upstream = sys.argv[1]
    delay_ms, first, count = (int(a) for a in sys.argv[2:5])
    delay = delay_ms / 1000.0

    def connect():
        if upstream.startswith("/"):
            return asyncio.open_unix_connection(upstream)
        return asyncio.open_connection("127.0.0.1", int(upstream))

    async def handle(creader, cwriter):
        port = cwriter.get_extra_info("sockname")[1]
        try:
            sreader, swriter = await connect()
        except OSError:
            cwriter.close()
            return
        turns = Turns()
        await asyncio.gather(pump(creader, swriter, delay, turns, "c"), pump(sreader, cwriter, delay, turns, "s"))
        print("conn %d rtt %d" % (port, turns.server_runs), flush=True)

    servers = [await asyncio.start_server(handle, "127.0.0.1", first + i, backlog=128) for i in range(count)]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
