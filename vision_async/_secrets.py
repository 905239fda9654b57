"""Secrets that do not show themselves, and a redactor for text a server sends back.

:class:`Secret` wraps the subscription key or a bearer token. Its ``repr``, ``str`` and
``format`` are ``***``, so a traceback rendered with its frames' locals (Sentry, ``rich``,
``traceback.TracebackException(capture_locals=True)``, APM agents), a log line or a debugger
never shows the value; only :meth:`Secret.reveal` does, at the moment a header is written to the
wire. It refuses to be pickled or copied into another form.

:class:`Redactor` replaces the client's own secrets in text the server supplied (an error
message, an HTML page from a gateway that reflects request headers, a request id) before that
text enters an exception, a log line or an event. It matches each secret case-insensitively, in
its URL-encoded and JSON-escaped forms, and inside base64 at every alignment; when nothing
matches, it costs one regular-expression search. An ``Authorization`` value (``Bearer <token>``)
is searched for whole and without its scheme, as a foreign exception may quote the token alone.
A piece of a secret cut by an excerpt (at the start or the end of the text, at least 8 characters
long) is replaced too, so that quoting the first 60 bytes of a body cannot show half a token.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn
from urllib.parse import quote, quote_plus

__all__ = ["MIN_REDACTED_LENGTH", "REDACTED", "Redactor", "Secret"]

#: What a secret is replaced with.
REDACTED = "***"
#: Secrets shorter than this are not searched for in text (they would match ordinary words);
#: real subscription keys are 32 characters and tokens are hundreds.
MIN_REDACTED_LENGTH = 6
#: Base64 forms are searched only for secrets at least this long (shorter cores are not unique).
_MIN_BASE64_LENGTH = 12
#: The shortest piece of a secret, cut at the start or end of a text, that is replaced.
MIN_PARTIAL_LENGTH = 8


class Secret:
    """A string that shows itself only through :meth:`reveal`."""

    __slots__ = ("_value",)

    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The value itself: call this only where it is written to the wire."""
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # rarely needed; its import pulls in OpenSSL's hash module

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("a Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("a Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


def _base64_cores(value: bytes) -> list[str]:
    """The parts of ``value``'s base64 encoding that do not depend on the bytes around it,
    for each of the three alignments it can have inside a longer encoded text."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value).decode("ascii").rstrip("=")
        # characters mixing the padding bytes before, or the unknown bytes after, are dropped
        start = -(-offset * 4 // 3)
        end = (offset + len(value)) * 4 // 3
        core = encoded[start:end]
        if len(core) >= 8:
            cores.append(core)
            cores.append(core.replace("+", "-").replace("/", "_"))  # the URL-safe alphabet
    return cores


def _forms(secret: str) -> set[str]:
    """Every form in which ``secret`` may come back in a server's text."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret), json.dumps(secret)[1:-1]}
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    if len(secret) >= _MIN_BASE64_LENGTH:
        forms.update(_base64_cores(secret.encode("utf-8")))
    return {f for f in forms if len(f) >= MIN_REDACTED_LENGTH}


SecretSource = Callable[[], Iterable[str | Secret]]


class Redactor:
    """Replaces the client's secrets in server-supplied text with ``***``.

    ``sources`` are functions returning the secrets in force now (for example ``auth.secrets``,
    whose answer changes when a token is refreshed) or plain iterables of fixed secrets. The
    search pattern is rebuilt only when the set of secrets changes. A ``Redactor`` is a plain
    ``Callable[[str], str]``.
    """

    __slots__ = ("_all", "_fixed", "_forms", "_key", "_pattern", "_sources")

    def __init__(self, *sources: SecretSource | Iterable[str | Secret]) -> None:
        self._sources: list[SecretSource] = []
        fixed: list[str] = []
        for source in sources:
            if callable(source):
                self._sources.append(source)
            else:
                fixed.extend(_plain(s) for s in source)
        self._fixed = tuple(fixed)
        self._key: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._all: tuple[str, ...] = ()  # every form, lower-case: a fast check before the regex
        self._forms: tuple[str, ...] = ()  # lower-case, for the pieces cut at the edges

    def _current(self) -> re.Pattern[str] | None:
        secrets = set(self._fixed)
        for source in self._sources:
            secrets.update(_plain(s) for s in source())
        key = frozenset(part for s in secrets for part in _with_credentials(s) if len(part) >= MIN_REDACTED_LENGTH)
        if key != self._key:
            forms = set().union(*(_forms(s) for s in key)) if key else set()
            # longest first, so that a form containing another is replaced whole
            alternatives = sorted(forms, key=lambda f: (-len(f), f))
            self._pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE) if forms else None
            self._all = tuple(f.lower() for f in alternatives)
            self._forms = tuple(f for f in self._all if len(f) > MIN_PARTIAL_LENGTH)
            self._key = key
        return self._pattern

    def __call__(self, text: str) -> str:
        """``text`` with every occurrence of a secret replaced by ``***``."""
        if not text:
            return text
        pattern = self._current()
        if pattern is None:
            return text
        lower = text.lower()  # str.find per form is much faster than one case-insensitive regex
        if any(form in lower for form in self._all):
            text = pattern.sub(REDACTED, text)
        return _cut_edges(text, self._forms)

    redact = __call__

    def __repr__(self) -> str:
        return f"Redactor({len(self._key)} secrets)"


def _cut_edges(text: str, forms: tuple[str, ...]) -> str:
    """``text`` with a piece of a secret form replaced where it is cut by the text's start or end
    (or the whole text, when it is a piece from inside a secret)."""
    if len(text) < MIN_PARTIAL_LENGTH or not forms:
        return text
    longest = max(len(f) for f in forms)
    head_text = text[: longest - 1].lower()
    tail_text = text[-(longest - 1) :].lower()
    if len(text) < longest and any(head_text in form for form in forms):
        return REDACTED
    start, end = 0, len(text)
    for form in forms:
        # the end of the text is the start of the form: "... it starts 'Bearer eyJ0eXAiOiJK"
        window = tail_text[max(0, len(tail_text) - len(form) + 1) :]
        i = window.find(form[:MIN_PARTIAL_LENGTH])
        while i != -1:
            if form.startswith(window[i:]):
                end = min(end, len(text) - len(window) + i)
                break
            i = window.find(form[:MIN_PARTIAL_LENGTH], i + 1)
        # the start of the text is the end of the form: "J9.c2lnbmF0dXJl ..."
        head = head_text[: len(form) - 1]
        j = form.find(head[:MIN_PARTIAL_LENGTH])
        while j != -1:
            piece = len(form) - j
            if head[:piece] == form[j:]:
                start = max(start, piece)
                break
            j = form.find(head[:MIN_PARTIAL_LENGTH], j + 1)
    if start == 0 and end == len(text):
        return text
    if start >= end:
        return REDACTED
    return (REDACTED if start else "") + text[start:end] + (REDACTED if end < len(text) else "")


def _with_credentials(secret: str) -> tuple[str, ...]:
    """``secret`` and, when it is an ``Authorization`` value (``Bearer <token>``, ``Basic <...>``),
    the credentials after the scheme too: a foreign exception may quote the token alone."""
    scheme, _, credentials = secret.partition(" ")
    credentials = credentials.strip()
    if credentials and scheme.lower() in _AUTH_SCHEMES:
        return (secret, credentials)
    return (secret,)


_AUTH_SCHEMES = frozenset({"bearer", "basic", "digest"})


def _plain(secret: str | Secret) -> str:
    return secret.reveal() if isinstance(secret, Secret) else secret
