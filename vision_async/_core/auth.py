"""Authentication: a subscription key header, or a bearer token from an async credential."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any, Protocol

import anyio

from .._errors import ConfigurationError, CredentialError

__all__ = ["COGNITIVE_SERVICES_SCOPE", "Auth", "KeyAuth", "TokenAuth", "TokenCredential"]

#: The scope Azure AI services tokens are requested for.
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
#: Seconds before expiry at which a token is refreshed.
TOKEN_REFRESH_MARGIN = 300.0

KEY_HEADER = "Ocp-Apim-Subscription-Key"


class TokenCredential(Protocol):
    """The azure-identity protocol: ``await credential.get_token(*scopes)`` returns an object
    with ``token`` (str) and ``expires_on`` (POSIX seconds)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


class Auth(Protocol):
    async def header(self) -> tuple[str, str]: ...


class KeyAuth:
    """Sends the subscription key in ``Ocp-Apim-Subscription-Key``. Its repr hides the key."""

    __slots__ = ("_header",)

    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ConfigurationError("the subscription key must be a non-empty string")
        if any(c in key for c in "\r\n"):
            raise ConfigurationError("the subscription key must not contain line breaks")
        self._header = (KEY_HEADER, key.strip())

    async def header(self) -> tuple[str, str]:
        return self._header

    def __repr__(self) -> str:
        return "KeyAuth(key=***)"


class TokenAuth:
    """Sends ``Authorization: Bearer <token>``, refreshing the token before it expires.

    Concurrent requests share one refresh; the token is never logged or shown in a repr.
    """

    def __init__(
        self,
        credential: TokenCredential,
        *,
        scope: str = COGNITIVE_SERVICES_SCOPE,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not callable(getattr(credential, "get_token", None)):
            raise ConfigurationError("credential must have a get_token(*scopes) method (azure-identity protocol)")
        self._credential = credential
        self._scope = scope
        self._now = wall_clock
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock: anyio.Lock | None = None

    def _fresh(self) -> bool:
        return self._token is not None and self._now() < self._expires_on - TOKEN_REFRESH_MARGIN

    async def header(self) -> tuple[str, str]:
        if not self._fresh():
            if self._lock is None:
                self._lock = anyio.Lock()
            async with self._lock:
                if not self._fresh():
                    await self._refresh()
        return ("Authorization", f"Bearer {self._token}")

    async def _refresh(self) -> None:
        name = type(self._credential).__name__
        try:
            result = self._credential.get_token(self._scope)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            raise CredentialError(f"{name}.get_token() failed: {type(exc).__name__}") from exc
        token = getattr(result, "token", None)
        expires_on = getattr(result, "expires_on", None)
        if not isinstance(token, str) or not token or not isinstance(expires_on, int | float):
            raise CredentialError(f"{name}.get_token() must return an object with token (str) and expires_on")
        self._token = token
        self._expires_on = float(expires_on)

    def __repr__(self) -> str:
        return f"TokenAuth(credential={type(self._credential).__name__}, token=***)"
