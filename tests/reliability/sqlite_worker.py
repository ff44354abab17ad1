"""One worker process of the SQLite soak: the test app on ``DB``, served on 127.0.0.1:``PORT``.

Run as ``python -m tests.reliability.sqlite_worker DB PORT BUSY_TIMEOUT STORE_TIMEOUT``.
Several of these serve the same file at once, as ``uvicorn --workers N`` would.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from connectstore_sqlite import SQLiteStore
from tests.reliability.app import make_app, make_engine


async def main(db: str, port: int, busy_timeout: float, store_timeout: float) -> None:
    async with SQLiteStore(db, timeout=busy_timeout, sweep_interval=None) as store:
        app = make_app(make_engine(store, store_timeout=store_timeout))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_keep_alive=30
        )
        await uvicorn.Server(config).serve()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
