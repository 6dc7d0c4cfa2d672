"""Running a coroutine to its end from a synchronous test, whatever else this thread holds.

asyncio.run and asgiref's async_to_sync both refuse to start when the thread already has an event loop set, which
Playwright's synchronous API leaves on the main thread once a browser test has run in the same process. A thread of
its own with a loop of its own does not care. Only for coroutines that touch no database: a thread of its own has a
connection of its own, outside the test's transaction.
"""

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_on_own_loop(function: Callable[..., Awaitable[T]], *args: Any) -> T:
    async def main() -> T:
        return await function(*args)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()
