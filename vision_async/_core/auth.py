"""Authentication: a subscription key header, or a bearer token from an async credential."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any, Protocol

import anyio

from .._errors import ConfigurationError, CredentialError
from .._secrets import Secret

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
    """What the pipeline needs from an authentication scheme.

    ``secret_header()`` is the header to send, its value kept in a :class:`Secret` until the
    transport writes it; ``secrets()`` the values a :class:`~vision_async._secrets.Redactor`
    must scrub from server-supplied text.
    """

    async def secret_header(self) -> tuple[str, Secret]: ...

    def ready_header(self) -> tuple[str, Secret] | None:
        """The header when it is at hand without I/O (None: await :meth:`secret_header`)."""
        ...

    def secrets(self) -> tuple[str, ...]: ...


def _check_key(key: Secret) -> None:
    # No local variable holds the value: this frame is on the traceback of what it raises.
    if not key.reveal().strip():
        raise ConfigurationError("the subscription key must be a non-empty string")
    if any(c in key.reveal() for c in "\r\n"):
        raise ConfigurationError("the subscription key must not contain line breaks")


class KeyAuth:
    """Sends the subscription key in ``Ocp-Apim-Subscription-Key``. Its repr hides the key.

    The key lives only inside a :class:`Secret`, from the first line of ``__init__`` on, so no
    frame of a traceback (even a ConfigurationError raised here) holds it in a plain local.
    """

    __slots__ = ("_header", "_secret")

    def __init__(self, key: str | Secret) -> None:
        if not isinstance(key, str | Secret):
            raise ConfigurationError("the subscription key must be a non-empty string")
        secret = key if isinstance(key, Secret) else Secret(key)
        del key
        _check_key(secret)
        stripped = secret.reveal().strip()
        self._secret = secret if stripped == secret.reveal() else Secret(stripped)
        del stripped
        self._header = (KEY_HEADER, self._secret)

    async def secret_header(self) -> tuple[str, Secret]:
        return self._header

    def ready_header(self) -> tuple[str, Secret] | None:
        return self._header

    def secrets(self) -> tuple[str, ...]:
        return (self._secret.reveal(),)

    def __repr__(self) -> str:
        return "KeyAuth(key=***)"


#: Tokens remembered after a refresh, for redaction: a late answer may echo an older token.
_REMEMBERED_TOKENS = 4


class TokenAuth:
    """Sends ``Authorization: Bearer <token>``, refreshing the token before it expires.

    Concurrent requests share one refresh; the token is never logged or shown in a repr, and is
    held only inside :class:`Secret` objects.
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
        self._token: Secret | None = None
        self._bearer: Secret | None = None
        self._previous: tuple[Secret, ...] = ()
        self._expires_on = 0.0
        self._lock: anyio.Lock | None = None

    def _fresh(self) -> bool:
        return self._bearer is not None and self._now() < self._expires_on - TOKEN_REFRESH_MARGIN

    async def secret_header(self) -> tuple[str, Secret]:
        if not self._fresh():
            if self._lock is None:
                self._lock = anyio.Lock()
            async with self._lock:
                if not self._fresh():
                    await self._refresh()
        assert self._bearer is not None
        return ("Authorization", self._bearer)

    def ready_header(self) -> tuple[str, Secret] | None:
        return ("Authorization", self._bearer) if self._bearer is not None and self._fresh() else None

    def secrets(self) -> tuple[str, ...]:
        current = (self._token,) if self._token is not None else ()
        return tuple(s.reveal() for s in (*current, *self._previous))

    async def _refresh(self) -> None:
        name = type(self._credential).__name__
        try:
            token, expires_on = _unpack(await _get_token(self._credential, self._scope))
        except Exception as exc:
            raise CredentialError(f"{name}.get_token() failed: {type(exc).__name__}") from exc
        if token is None or expires_on is None:
            raise CredentialError(f"{name}.get_token() must return an object with token (str) and expires_on")
        if self._token is not None and self._token != token:
            self._previous = (self._token, *self._previous)[:_REMEMBERED_TOKENS]
        self._token = token
        self._bearer = Secret(f"Bearer {token.reveal()}")
        self._expires_on = expires_on

    def __repr__(self) -> str:
        return f"TokenAuth(credential={type(self._credential).__name__}, token=***)"


async def _get_token(credential: TokenCredential, scope: str) -> Any:
    result = credential.get_token(scope)
    if inspect.isawaitable(result):
        result = await result
    return result


def _unpack(result: Any) -> tuple[Secret | None, float | None]:
    """The token (as a Secret) and its expiry, or ``None`` for what is unusable. It never
    raises, so that no frame holding the credential's answer (whose repr may show the token)
    ends up on a traceback."""
    expires_on = getattr(result, "expires_on", None)
    expiry: float | None = None
    if isinstance(expires_on, int | float) and not isinstance(expires_on, bool):
        try:
            expiry = float(expires_on)
        except OverflowError:
            expiry = None
    token = getattr(result, "token", None)
    if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
        return None, expiry
    return Secret(token), expiry
