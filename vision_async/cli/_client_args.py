"""How every ``vision-async`` command makes its client: one resource, several, or the built-in emulator.

- ``--endpoint URL --key KEY`` (or ``VISION_ENDPOINT``/``VISION_KEY``): one resource.
- ``--endpoint A --key KA --endpoint B --key KB``: several resources, paired in order (one
  ``--key`` for several endpoints uses it for all).
- ``--resources FILE``: a TOML file of resources::

      [[resources]]
      endpoint = "https://a.cognitiveservices.azure.com"
      key_env = "VISION_KEY_A"          # or key = "..." (prefer the environment)
      rate = 20                         # requests per second for this resource (optional)

- none of these: the in-process emulator, said so on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from .. import RateLimit, Resource, VisionClient
from .._checks import is_number
from .._core.resource import ENV_ENDPOINT, ENV_KEY
from ._batch_files import UsageError

__all__ = ["EMULATOR_ENDPOINT", "UsageError", "add_client_arguments", "make_client"]

EMULATOR_ENDPOINT = "http://emulator.invalid"


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        action="append",
        help=f"resource endpoint; repeat for several resources (default: ${ENV_ENDPOINT}, else the built-in emulator)",
    )
    parser.add_argument("--key", action="append", help=f"subscription key, one per --endpoint (default: ${ENV_KEY})")
    parser.add_argument("--resources", type=Path, help="a TOML file listing several resources (see the README)")
    parser.add_argument(
        "--proxy",
        help="proxy URL (http://user:password@host:port), or 'none' (default: $HTTPS_PROXY/$HTTP_PROXY/$ALL_PROXY)",
    )
    parser.add_argument(
        "--verify",
        help="TLS trust: a CA bundle file, 'system' (the OS store, needs truststore), or 'default'",
    )


def _network_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    proxy = getattr(args, "proxy", None)
    if proxy is not None:
        options["proxy"] = None if proxy.strip().lower() in ("none", "") else proxy
    verify = getattr(args, "verify", None)
    if verify is not None and verify != "default":
        options["verify"] = verify
    return options


def _from_file(path: Path) -> list[Resource]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: {exc}") from None
    entries = data.get("resources")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{path}: expected one or more [[resources]] tables")
    resources = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("endpoint"), str):
            raise UsageError(f"{path}: resource {i} needs an endpoint")
        key = entry.get("key")
        if key is None and isinstance(entry.get("key_env"), str):
            key = os.environ.get(entry["key_env"])
            if not key:
                raise UsageError(f"{path}: resource {i}: ${entry['key_env']} is not set")
        if not isinstance(key, str) or not key:
            raise UsageError(f"{path}: resource {i} needs key or key_env")
        rate = entry.get("rate")
        if rate is not None and (not is_number(rate) or rate <= 0):
            raise UsageError(f"{path}: resource {i}: rate must be a number > 0")
        resources.append(Resource(entry["endpoint"], key, rate_limit=RateLimit(float(rate)) if rate else None))
    return resources


def _from_flags(endpoints: list[str], keys: list[str]) -> list[Resource]:
    if len(keys) == 1:
        keys = keys * len(endpoints)
    if len(keys) != len(endpoints):
        raise UsageError(f"{len(endpoints)} --endpoint but {len(keys)} --key: give one key, or one per endpoint")
    return [Resource(e, k) for e, k in zip(endpoints, keys, strict=True)]


def make_client(args: argparse.Namespace, **options: Any) -> VisionClient:
    """The command's client; ``options`` go to ``VisionClient`` (timeouts, rate limit, ...)."""
    network = _network_options(args)
    if getattr(args, "resources", None) is not None:
        return VisionClient(resources=_from_file(args.resources), **network, **options)
    endpoints = list(args.endpoint or ())
    keys = list(args.key or ())
    if not endpoints and os.environ.get(ENV_ENDPOINT):
        endpoints = [os.environ[ENV_ENDPOINT]]
    if not keys and os.environ.get(ENV_KEY):
        keys = [os.environ[ENV_KEY]]
    if len(endpoints) > 1:
        return VisionClient(resources=_from_flags(endpoints, keys), **network, **options)
    if endpoints or keys:
        if not (endpoints and keys):
            missing = "--key (or $VISION_KEY)" if endpoints else "--endpoint (or $VISION_ENDPOINT)"
            raise UsageError(f"missing {missing}")
        return VisionClient(endpoints[0], keys[0], **network, **options)
    try:
        from ..emulator import Emulator, EmulatorTransport
    except ImportError:
        raise UsageError(
            "no endpoint or key set, and the emulator is not installed: "
            "pip install 'vision-async[cli]', or set VISION_ENDPOINT and VISION_KEY"
        ) from None
    print(
        f"vision-async: no {ENV_ENDPOINT}/{ENV_KEY} set; using the built-in emulator "
        "(results are pixel-derived, not Azure's)",
        file=sys.stderr,
    )
    return VisionClient(
        EMULATOR_ENDPOINT, "emulator", transport=EmulatorTransport(Emulator()), allow_insecure_http=True, **options
    )
