"""The helpers vision_async ships for users' own tests."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import png_bytes
from vision_async import VisionClient
from vision_async.emulator import Emulator, EmulatorServer, EmulatorTransport
from vision_async.testing import FakeClock, ScriptedTransport, json_response

pytestmark = pytest.mark.anyio


async def test_fixtures_give_an_in_process_emulator(
    vision_emulator: Emulator, vision_transport: EmulatorTransport
) -> None:
    """vision_emulator and vision_transport are wired together."""
    vision_emulator.register(png_bytes(60, 60), tags=[{"name": "fixture", "confidence": 1.0}])
    async with VisionClient("https://emulator.test", "k", transport=vision_transport) as client:
        result = await client.tag(png_bytes(60, 60))
    assert result.tags[0].name == "fixture"
    assert vision_emulator.stats.received["tag"] == 1


async def test_server_fixture_serves_over_http(vision_emulator_server: EmulatorServer) -> None:
    """vision_emulator_server listens on loopback and answers the client."""
    async with VisionClient(vision_emulator_server.url, "k") as client:
        models = await client.list_models()
    assert len(models.models) == 2
    assert vision_emulator_server.emulator.stats.received["models"] == 1


async def test_scripted_transport_repeats_the_last_step_and_records() -> None:
    """Steps are answered in order, the last one repeats, and every request is recorded."""
    transport = ScriptedTransport(json_response(500, {}), json_response(200, {"ok": True}))
    async with httpx.AsyncClient(transport=transport) as raw:
        codes = [(await raw.get("https://x.test/a")).status_code for _ in range(3)]
    assert codes == [500, 200, 200]
    assert [str(r.url) for r in transport.requests] == ["https://x.test/a"] * 3


async def test_scripted_transport_strict_mode_and_callables() -> None:
    """repeat_last=False fails on an unexpected request; a step can be a function of the request."""
    transport = ScriptedTransport(lambda req: httpx.Response(200, text=req.url.path), repeat_last=False)
    async with httpx.AsyncClient(transport=transport) as raw:
        assert (await raw.get("https://x.test/echo")).text == "/echo"
        with pytest.raises(AssertionError, match="unexpected request"):
            await raw.get("https://x.test/again")


async def test_fake_clock_sleeps_instantly() -> None:
    """FakeClock.sleep records the wait and moves the clock without waiting."""
    clock = FakeClock(start=10.0)
    await clock.sleep(5.0)
    clock.advance(1.0)
    assert clock.clock() == 16.0
    assert clock.sleeps == [5.0]
