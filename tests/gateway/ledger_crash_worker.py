"""A process that writes ledger records as a gateway would and prints `acked <request id>` once each
record is durable (what dispatch waits for before the client's last bytes). test_ledger_crash.py
SIGKILLs it mid-run.

usage: ledger_crash_worker.py DB_PATH [REDIS_URL PREFIX]
"""

from __future__ import annotations

import asyncio
import sys

from accounting_fixtures import make_outcome

from gateway.ledger import LedgerStream, LedgerWriter, SqliteLedger
from gateway.redis_connection import connect_redis

CLIENTS = 16


async def client(writer: LedgerWriter, number: int) -> None:
    for i in range(1_000_000):
        request_id = f"req_{number}_{i}"
        if i % 3 == 0:  # a failed first attempt, then the fallback that answered
            writer.on_outcome(make_outcome(request_id, attempt=1, backend="fireworks", ok=False))
        writer.on_outcome(make_outcome(request_id, attempt=2 if i % 3 == 0 else 1))
        if await writer.commit():
            sys.stdout.write(f"acked {request_id}\n")
            sys.stdout.flush()


async def drainer(writer: LedgerWriter) -> None:
    while True:
        await writer.drain()
        await asyncio.sleep(0.005)


async def main(db_path: str, redis_url: str | None, prefix: str | None) -> None:
    stream = None
    if redis_url:
        stream = LedgerStream(connect_redis(redis_url), key=f"{prefix}ledger", consumer="worker")
    writer = LedgerWriter(SqliteLedger(db_path), stream=stream, flush_interval_s=0.01)
    writer.start()
    tasks = [client(writer, n) for n in range(CLIENTS)]
    if stream is not None:
        tasks.append(drainer(writer))
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], *(sys.argv[2:4] or [None, None])))
