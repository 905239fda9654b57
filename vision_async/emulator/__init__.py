"""A local emulator of the Azure AI Vision Image Analysis APIs, v3.2 and 4.0 (the ``emulator`` extra).

Three ways to use it:

- in process, as an httpx transport: ``VisionClient(url, key, transport=EmulatorTransport(emulator))``;
- over HTTP on 127.0.0.1: ``with EmulatorServer(emulator) as server: ...`` or
  ``vision-async emulator --port 5000``;
- from pytest: the ``vision_emulator``, ``vision_transport`` and ``vision_emulator_server``
  fixtures of :mod:`vision_async.testing`.
"""

from ._emulator import DroppedConnection, Emulator
from ._faults import FaultConfig, Stats
from ._server import EmulatorServer, serve
from ._transport import EmulatorTransport

__all__ = ["DroppedConnection", "Emulator", "EmulatorServer", "EmulatorTransport", "FaultConfig", "Stats", "serve"]
