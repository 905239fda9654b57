"""client.batch: one outcome per input, lazy pulls, ordering, errors, cancellation, no leftovers."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import fixture_body, png_bytes
from vision_async import (
    InternalServerError,
    InvalidInputError,
    RetryPolicy,
    VisionClient,
    VisionError,
)
from vision_async.batch import Batch, BatchItem
from vision_async.emulator import Emulator, EmulatorServer, EmulatorTransport
from vision_async.testing import FakeClock, ScriptedTransport, json_response

pytestmark = pytest.mark.anyio


def images(n: int) -> list[tuple[str, bytes]]:
    """n distinct images, keyed by name; image i is (60 + i) pixels wide."""
    return [(f"img-{i}", png_bytes(60 + i, 60)) for i in range(n)]


def emulator_client(emulator: Emulator, clock: FakeClock, **options: Any) -> VisionClient:
    """A client on the in-process emulator, emulator and client sharing one fake clock."""
    options.setdefault("retry", RetryPolicy(max_attempts=6, total_timeout=None))
    options.setdefault("breaker", None)
    return VisionClient(
        "https://emulator.test",
        "any-key",
        transport=EmulatorTransport(emulator),
        clock=clock.clock,
        sleep=clock.sleep,
        **options,
    )


class FakeClient:
    """The least a batch needs of a client: ``_check_open``, and ``_bind`` to one coroutine function."""

    def _check_open(self) -> None:
        pass

    def __init__(self, op: Callable[[Any], Awaitable[Any]]) -> None:
        self.op = op
        self.bound: list[tuple[str, dict[str, Any]]] = []

    def _bind(self, operation: str, options: dict[str, Any]) -> Callable[[Any], Awaitable[Any]]:
        self.bound.append((operation, options))
        return self.op


def fake(op: Callable[[Any], Awaitable[Any]]) -> Any:
    return FakeClient(op)


async def echo(image: Any) -> Any:
    await anyio.lowlevel.checkpoint()
    return image


# -- exactly one outcome per input -------------------------------------------------------------


async def test_every_input_gets_one_outcome_under_random_500s_and_a_server_rate_limit() -> None:
    """60 images, 10% random 500s and a 20/s server limit: 60 outcomes, one per index, each success right."""
    clock = FakeClock()
    emulator = Emulator(clock=clock.clock, sleep=clock.sleep, seed=7)
    emulator.set_faults("*", p500=0.1, rate_limit=20.0)
    inputs = images(60)
    client = emulator_client(emulator, clock)
    async with client, client.batch(inputs, "analyze", concurrency=8, features=["Tags"]) as outcomes:
        items = [item async for item in outcomes]
    assert len(items) == 60
    assert sorted(item.index for item in items) == list(range(60))
    assert sorted(item.key for item in items) == sorted(key for key, _ in inputs)
    answered = emulator.stats.snapshot()["answered"]
    assert answered.get("analyze 500", 0) > 0 and answered.get("analyze 429", 0) > 0  # the faults did happen
    for item in items:
        if item.ok:
            assert item.error is None and item.result.metadata.width == 60 + item.index
            assert item.key == f"img-{item.index}"
        else:
            assert item.result is None and isinstance(item.error, VisionError)


async def test_served_emulator_with_500s_every_success_is_the_right_image() -> None:
    """Over loopback with 10% 500s: exactly N outcomes, and each result describes its own input."""
    emulator = Emulator(seed=3)
    emulator.set_faults("*", p500=0.1)
    retry = RetryPolicy(max_attempts=5, initial_backoff=0.0, max_backoff=0.0)
    with EmulatorServer(emulator) as server:
        client = VisionClient(server.url, "any", retry=retry, breaker=None)
        async with client, client.batch(images(40), "tag", concurrency=16) as outcomes:
            items = [item async for item in outcomes]
    assert sorted(item.index for item in items) == list(range(40))
    assert emulator.stats.snapshot()["answered"].get("tag 500", 0) > 0
    for item in items:
        assert item.ok, item
        assert item.result.metadata.width == 60 + item.index


async def test_a_bad_image_is_its_items_error_and_the_rest_succeed() -> None:
    """Local validation of one image becomes that item's InvalidInputError; nothing sent for it."""
    emulator = Emulator()
    inputs = [("good", png_bytes(80, 80)), ("empty", b""), ("text", b"not an image"), ("small", png_bytes(10, 10))]
    async with emulator_client(emulator, FakeClock()) as client, client.batch(inputs, "tag") as outcomes:
        by_key = {item.key: item async for item in outcomes}
    assert by_key["good"].ok
    for key in ("empty", "text", "small"):
        assert isinstance(by_key[key].error, InvalidInputError) and by_key[key].result is None
    assert emulator.stats.total() == 1


async def test_service_errors_are_items_with_their_class_and_request_id(
    make_client: Callable[..., VisionClient],
) -> None:
    """A 500 that outlasts the retries (and, with no patience, is not run again) is the item's
    InternalServerError, with its request id."""
    transport = ScriptedTransport(json_response(500, {"error": {"code": "InternalServerError", "message": "boom"}}))
    client = make_client(transport, retry=RetryPolicy(max_attempts=2))
    async with client, client.batch([png_bytes(80, 80)], "tag", patience=0) as outcomes:
        (item,) = [item async for item in outcomes]
    assert isinstance(item.error, InternalServerError) and item.error.request_id == "req-test"
    assert not item.ok and item.index == 0 and item.key is None


async def test_attempts_count_the_requests_sent_for_each_item(make_client: Callable[..., VisionClient]) -> None:
    """attempts is 1 + the item's retries (and 1 for a first-time success), with no hook to install."""
    ok = json_response(200, fixture_body("tag_image"))
    transport = ScriptedTransport(json_response(503), json_response(503), ok)
    async with make_client(transport) as client:
        async with client.batch([png_bytes(80, 80)], "tag", concurrency=1) as outcomes:
            first = [item async for item in outcomes]
        async with client.batch([png_bytes(80, 80)], "tag", concurrency=1) as outcomes:
            second = [item async for item in outcomes]
    assert first[0].ok and first[0].attempts == 3
    assert second[0].ok and second[0].attempts == 1


# -- inputs ------------------------------------------------------------------------------------


async def test_inputs_are_pulled_lazily_from_an_endless_generator() -> None:
    """An endless input is pulled at most `concurrency` ahead of what was consumed."""
    pulled = 0

    def endless() -> Iterator[tuple[int, bytes]]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield i, b"x"

    async with Batch(fake(echo), endless(), "tag", concurrency=4, options={}) as outcomes:
        consumed = 0
        async for _ in outcomes:
            consumed += 1
            assert pulled <= consumed + 4
            if consumed == 25:
                break
    assert 25 <= pulled <= 29


async def test_async_iterables_are_pulled_lazily_too() -> None:
    """An async generator is pulled the same way, and a consumer that stops reading stops the pulls."""
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in itertools.count():
            pulled += 1
            yield b"x"

    async with Batch(fake(echo), endless(), "tag", concurrency=3, options={}) as outcomes:
        await outcomes.__anext__()
        for _ in range(20):  # a slow consumer: nothing more is pulled while it does not read
            await anyio.lowlevel.checkpoint()
        assert pulled <= 1 + 3
        assert outcomes.submitted == pulled and outcomes.yielded == 1


async def test_keys_come_from_pairs_urls_and_paths(tmp_path: Path) -> None:
    """(key, image) pairs give their key; a URL or a path is its own key; bytes have none."""
    path = tmp_path / "a.png"
    inputs = [("k", b"1"), "https://example.test/x.png", path, b"raw"]
    async with Batch(fake(echo), inputs, "tag", ordered=True, options={}) as outcomes:
        items = [item async for item in outcomes]
    assert [item.key for item in items] == ["k", "https://example.test/x.png", os.fspath(path), None]
    assert [item.result for item in items] == [b"1", "https://example.test/x.png", path, b"raw"]
    assert all(item.attempts == 1 and item.elapsed >= 0 for item in items)


async def test_an_empty_input_yields_nothing() -> None:
    """No inputs, no outcomes, and the block ends."""
    async with Batch(fake(echo), [], "tag", options={}) as outcomes:
        assert [item async for item in outcomes] == []
        assert outcomes.exhausted and outcomes.submitted == 0


# -- ordering ----------------------------------------------------------------------------------


def reverse_completion(n: int) -> Callable[[int], Awaitable[int]]:
    """An operation under which input i finishes only after input i + 1 (the last finishes first)."""
    done = [anyio.Event() for _ in range(n + 1)]
    done[n].set()

    async def op(i: int) -> int:
        await done[i + 1].wait()
        done[i].set()
        return i

    return op


async def test_completion_order_by_default() -> None:
    """Without ordered=True, outcomes come as they complete."""
    async with Batch(fake(reverse_completion(6)), range(6), "tag", concurrency=6, options={}) as outcomes:
        assert [item.index async for item in outcomes] == [5, 4, 3, 2, 1, 0]


async def test_ordered_yields_in_input_order() -> None:
    """ordered=True yields in input order, whatever the completion order."""
    async with Batch(fake(reverse_completion(6)), range(6), "tag", concurrency=6, ordered=True, options={}) as out:
        assert [item.result async for item in out] == [0, 1, 2, 3, 4, 5]


async def test_ordered_buffering_is_bounded_behind_a_slow_head() -> None:
    """With the first input stuck, ordered mode pulls no more than `concurrency` inputs."""
    release = anyio.Event()
    pulled = 0

    def endless() -> Iterator[int]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield i

    async def op(i: int) -> int:
        if i == 0:
            await release.wait()
        return i

    async with Batch(fake(op), endless(), "tag", concurrency=5, ordered=True, options={}) as outcomes:
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        assert pulled == 5
        release.set()
        got = [(await outcomes.__anext__()).result for _ in range(12)]
    assert got == list(range(12))


# -- errors and cancellation ---------------------------------------------------------------------


async def test_a_foreign_exception_propagates_as_itself() -> None:
    """An exception that is not a VisionError leaves the block as itself, not in an ExceptionGroup."""

    async def op(i: int) -> int:
        if i == 3:
            raise KeyError("bug")
        await anyio.sleep(0.001)
        return i

    with pytest.raises(KeyError, match="bug"):
        async with Batch(fake(op), range(100), "tag", concurrency=4, options={}) as outcomes:
            async for _ in outcomes:
                pass


async def test_an_exception_from_the_inputs_propagates() -> None:
    """An input iterator that fails ends the batch with its exception."""

    def broken() -> Iterator[bytes]:
        yield b"x"
        raise OSError("manifest unreadable")

    with pytest.raises(OSError, match="manifest unreadable"):
        async with Batch(fake(echo), broken(), "tag", options={}) as outcomes:
            async for _ in outcomes:
                pass


async def test_an_exception_in_the_block_propagates_as_itself_and_stops_the_work() -> None:
    """The consumer's own exception leaves the block unchanged; the calls in flight are cancelled."""
    started = 0
    cancelled = 0

    async def op(i: int) -> int:
        nonlocal started, cancelled
        started += 1
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled += 1
            raise
        return i

    with pytest.raises(ValueError, match="mine"):
        async with Batch(fake(op), range(10), "tag", concurrency=4, options={}):
            for _ in range(10):
                await anyio.lowlevel.checkpoint()
            raise ValueError("mine")
    assert started == 4 and cancelled == 4


async def test_outer_cancellation_propagates_and_cancels_the_calls() -> None:
    """A cancel scope around the batch cancels it: the scope catches it, no call survives."""
    started = cancelled = 0

    async def op(i: int) -> int:
        nonlocal started, cancelled
        started += 1
        try:
            await anyio.sleep_forever()
        finally:
            cancelled += 1
        return i

    with anyio.CancelScope() as scope:
        async with Batch(fake(op), range(10), "tag", concurrency=3, options={}) as outcomes:
            while started < 3:
                await anyio.lowlevel.checkpoint()
            scope.cancel()
            async for _ in outcomes:
                pytest.fail("no outcome expected")
    assert scope.cancelled_caught and cancelled == 3


def established_to(port: int) -> int:
    """Client sockets of this machine in ESTABLISHED state towards 127.0.0.1:port (Linux /proc)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            count += 1
    return count


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="counts sockets through /proc/net/tcp")
async def test_leaving_early_leaves_no_task_and_no_connection() -> None:
    """Break out with 8 requests hanging at the server: their sockets close, no task remains."""
    emulator = Emulator()
    emulator.set_faults("*", p_hang=1.0)
    with EmulatorServer(emulator) as server:
        async with VisionClient(server.url, "any", breaker=None) as client:
            tasks_before = len(anyio.get_running_tasks())
            with anyio.fail_after(10):
                async with client.batch(images(50), "tag", concurrency=8) as outcomes:
                    while emulator.stats.total() < 8 or established_to(server.port) < 8:  # noqa: ASYNC110
                        await anyio.sleep(0.005)
                    assert outcomes.submitted == 8 and outcomes.yielded == 0
            assert established_to(server.port) == 0  # cancelled mid-request: closed, not pooled
            assert len(anyio.get_running_tasks()) == tasks_before
            assert emulator.stats.total() == 8  # nothing sent after the block


async def test_a_closed_client_raises_at_once() -> None:
    """Entering a batch on a closed client raises ClientClosedError before pulling anything."""
    client = VisionClient("https://x.test", "k", transport=EmulatorTransport(Emulator()))
    await client.aclose()
    pulled = []
    batch = client.batch((pulled.append(i) or b"x" for i in range(3)), "tag")
    with pytest.raises(VisionError, match="closed"):
        async with batch:
            pass
    assert pulled == []


# -- validation before anything is sent ------------------------------------------------------------


async def test_operation_and_option_names_are_checked_at_once() -> None:
    """An unknown operation or option name is an InvalidInputError when the batch is made."""
    client = VisionClient("https://x.test", "k", transport=EmulatorTransport(Emulator()))
    async with client:
        with pytest.raises(InvalidInputError, match="unknown batch operation 'nope'"):
            client.batch([], "nope")
        with pytest.raises(InvalidInputError, match="langage"):
            client.batch([], "tag", langage="en")
        with pytest.raises(InvalidInputError, match="image="):
            client.batch([], "tag", image=b"x")


async def test_option_values_are_validated_once_before_anything_is_sent() -> None:
    """A bad option value fails the batch on entry, without pulling an input or sending a request."""
    emulator = Emulator()
    pulled = []
    async with VisionClient("https://x.test", "k", transport=EmulatorTransport(emulator)) as client:
        for operation, options in (
            ("tag", {"language": "xx"}),
            ("analyze", {"features": ["Nope"]}),
            ("generate_thumbnail", {"width": 0, "height": 10}),
            ("analyze_by_domain", {"model": "no such/model"}),
        ):
            inputs = (pulled.append(i) or png_bytes() for i in range(3))
            with pytest.raises(InvalidInputError):  # from client.batch(...) itself, or at the latest on entry
                async with client.batch(inputs, operation, **options):
                    pass
    assert pulled == [] and emulator.stats.total() == 0


async def test_options_reach_every_call() -> None:
    """The options are passed to the operation for every input (analyze_by_domain takes model=)."""
    emulator = Emulator()
    async with VisionClient("https://x.test", "k", transport=EmulatorTransport(emulator)) as client:
        batch = client.batch([png_bytes(80, 80)] * 3, "analyze_by_domain", model="landmarks")
        async with batch as outcomes:
            items = [item async for item in outcomes]
        thumbs = client.batch([png_bytes(80, 80)], "generate_thumbnail", width=20, height=10)
        async with thumbs as outcomes:
            (thumb,) = [item async for item in outcomes]
    assert all(item.ok and "landmarks" in item.result.result for item in items)
    assert thumb.ok and isinstance(thumb.result, bytes)


@pytest.mark.parametrize(
    ("inputs", "options", "match"),
    [
        ("https://example.test/x.png", {}, "iterable of images"),
        (b"bytes", {}, "iterable of images"),
        (42, {}, "iterable"),
        ([], {"concurrency": 0}, "concurrency"),
        ([], {"ordered": "yes"}, "ordered"),
    ],
)
async def test_bad_batch_arguments_are_refused(inputs: Any, options: dict[str, Any], match: str) -> None:
    """A single image instead of an iterable, a bad concurrency or ordered flag: InvalidInputError."""
    with pytest.raises(InvalidInputError, match=match):
        Batch(fake(echo), inputs, "tag", options={}, **options)


async def test_a_batch_runs_once() -> None:
    """Entering the same batch twice is refused."""
    batch = Batch(fake(echo), [b"x"], "tag", options={})
    async with batch as outcomes:
        assert len([item async for item in outcomes]) == 1
    with pytest.raises(InvalidInputError, match="runs once"):
        async with batch:
            pass


async def test_the_client_bind_is_used_when_present() -> None:
    """With client._bind, the batch binds through it once, with the operation and its options."""
    client = FakeClient(echo)
    async with Batch(client, [b"a", b"b"], "describe", options={"max_candidates": 2}) as outcomes:
        assert len([item async for item in outcomes]) == 2
    assert client.bound == [("describe", {"max_candidates": 2})]


def test_batch_item_repr_hides_results() -> None:
    """BatchItem's repr names the outcome, never the result body."""
    item = BatchItem(index=1, key="k", result={"secret": "body"}, error=None, attempts=1, elapsed=0.5)
    assert item.ok and "secret" not in repr(item) and "ok" in repr(item)
    failed = BatchItem(index=2, key=None, result=None, error=InvalidInputError("x"), attempts=1, elapsed=0.0)
    assert not failed.ok and "InvalidInputError" in repr(failed)
