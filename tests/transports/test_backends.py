"""The one module that tells asyncio from trio answers right under each backend."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from vision_async import _backends

pytestmark = pytest.mark.anyio


async def test_the_running_backend_is_told_apart(anyio_backend: str) -> None:
    loop = _backends.current_loop()
    on_asyncio = anyio_backend == "asyncio"
    assert _backends.is_asyncio(loop) is on_asyncio
    assert _backends.trio_running() is (not on_asyncio)
    assert (_backends.asyncio_loop() is not None) is on_asyncio
    if on_asyncio:
        assert loop is asyncio.get_running_loop()
    else:
        import trio

        assert loop is trio.lowlevel.current_trio_token()


async def test_current_loop_is_the_same_object_within_one_loop(anyio_backend: str) -> None:
    """The pool compares identities: one loop must give one object, from any task."""
    seen: list[object] = []

    async def record() -> None:
        seen.append(_backends.current_loop())

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(record)
    assert all(item is seen[0] for item in seen)


async def test_a_call_cancel_scope_cancels_under_either_backend(anyio_backend: str) -> None:
    with _backends.call_cancel_scope() as scope:
        scope.cancel()
        await anyio.sleep(1)
    assert scope.cancelled_caught


def test_outside_any_loop_nothing_is_running() -> None:
    assert _backends.asyncio_loop() is None
    assert _backends.trio_running() is False
    assert not _backends.is_asyncio(object())
