"""One Azure resource a client sends to: its endpoint, its credentials and its own quota."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING

from .._errors import ConfigurationError
from .._transports.proxy import FROM_ENV
from .auth import Auth, KeyAuth, TokenAuth, TokenCredential
from .endpoint import root_url

if TYPE_CHECKING:
    from .._resilience.rate_limit import RateLimit

__all__ = ["ENV_ENDPOINT", "ENV_KEY", "Resource", "chosen_resources"]

ENV_ENDPOINT = "VISION_ENDPOINT"
ENV_KEY = "VISION_KEY"


@dataclass(frozen=True, slots=True)
class Resource:
    """An Azure AI Vision resource: ``endpoint`` with ``key`` or ``credential``, and its ``rate_limit``.

    Give several to ``VisionClient(resources=[...])``: each has its own rate limit, cool-down,
    adaptive rate and circuit breaker, and each call goes to the one that can take it soonest.
    ``rate_limit`` ``None`` means the client's ``rate_limit``. The key never shows in a repr.
    """

    endpoint: str
    key: str | None = field(default=None, repr=False)
    _: KW_ONLY
    credential: TokenCredential | None = field(default=None, repr=False)
    rate_limit: RateLimit | None = None
    #: This resource's proxy URL, ``None`` for none, or left out: the client's ``proxy=``.
    proxy: str | object | None = field(default=FROM_ENV, repr=False)

    def root(self, *, allow_insecure_http: bool) -> str:
        if not isinstance(self.endpoint, str) or not self.endpoint.strip():
            raise ConfigurationError(f"a Resource needs an endpoint URL, got {self.endpoint!r}")
        return root_url(self.endpoint, allow_insecure_http=allow_insecure_http)

    def auth(self) -> Auth:
        if self.credential is not None:
            _key_or_credential(self.key, f"{self.endpoint}: ")
            return TokenAuth(self.credential)
        if not self.key:
            raise ConfigurationError(f"{self.endpoint}: no key: pass key= (or credential=)")
        return KeyAuth(self.key)

    @classmethod
    def from_arguments(cls, endpoint: str | None, key: str | None, credential: TokenCredential | None) -> Resource:
        """The one resource of ``VisionClient(endpoint, key)``, with the environment's defaults."""
        endpoint = endpoint if endpoint is not None else os.environ.get(ENV_ENDPOINT)
        if not endpoint:
            raise ConfigurationError(f"no endpoint: pass endpoint= or set the {ENV_ENDPOINT} environment variable")
        if credential is not None:
            _key_or_credential(key, "")
            return cls(endpoint, credential=credential)
        key = key if key is not None else os.environ.get(ENV_KEY)
        if not key:
            raise ConfigurationError(f"no key: pass key= (or credential=), or set the {ENV_KEY} environment variable")
        return cls(endpoint, key)


def _key_or_credential(key: str | None, where: str) -> None:
    """A credential replaces the key: ConfigurationError when both are given."""
    if key is not None:
        raise ConfigurationError(f"{where}pass either key= or credential=, not both")


def chosen_resources(
    endpoint: str | None,
    key: str | None,
    credential: TokenCredential | None,
    resources: Sequence[Resource] | None,
) -> list[Resource]:
    """The resources a client is given: ``resources=``, or the one of ``endpoint``/``key``/``credential``
    (with the environment's defaults); either, not both."""
    if resources is None:
        return [Resource.from_arguments(endpoint, key, credential)]
    if endpoint is not None or key is not None or credential is not None:
        raise ConfigurationError("pass either endpoint/key/credential or resources=, not both")
    chosen = list(resources)
    if not chosen or not all(isinstance(r, Resource) for r in chosen):
        raise ConfigurationError("resources= must be a non-empty list of Resource")
    return chosen
