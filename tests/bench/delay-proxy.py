#!/usr/bin/env python3
"""A loopback TCP proxy that adds a fixed delay each way: what a remote
server costs.  One process, one asyncio loop, many listening ports:

    delay-proxy.py UPSTREAM_PORT DELAY_MS FIRST_PORT COUNT

listens on 127.0.0.1:FIRST_PORT .. FIRST_PORT+COUNT-1 and forwards each
connection to 127.0.0.1:UPSTREAM_PORT.  Every chunk read is written on
DELAY_MS later, in order, so latency grows by DELAY_MS each way and
bandwidth is not throttled.  Prints "ready" once every port listens.
(tests/bench/alert.sh)"""
import asyncio
import sys


async def pump(reader, writer, delay):
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
            queue.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((loop.time() + delay, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


async def main():
    upstream, delay_ms, first, count = (int(a) for a in sys.argv[1:5])
    delay = delay_ms / 1000.0

    async def handle(creader, cwriter):
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pump(creader, swriter, delay), pump(sreader, cwriter, delay))

    servers = [await asyncio.start_server(handle, "127.0.0.1", first + i, backlog=128) for i in range(count)]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
