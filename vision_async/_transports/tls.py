"""``verify=``: the TLS trust a client uses, as one ``ssl.SSLContext`` (or ``True`` for the default).

- ``True`` (the default): ``$SSL_CERT_FILE``, else ``$SSL_CERT_DIR``, else certifi's bundle
  (``trust_env=False`` skips the variables);
- ``False``: no verification; refused unless every endpoint is loopback or
  ``allow_insecure_http=True``, and warned about;
- a path: a CA bundle file (PEM) or a directory of hashed certificates;
- an ``ssl.SSLContext``: used as given;
- ``"system"``: the operating system's trust store through ``truststore`` (the ``truststore`` extra).
"""

from __future__ import annotations

import os
import ssl
import warnings

from .._errors import ConfigurationError

__all__ = ["VerifyArg", "resolve_verify"]

VerifyArg = bool | str | os.PathLike[str] | ssl.SSLContext


def _system_context() -> ssl.SSLContext:
    try:
        import truststore
    except ImportError:
        raise ConfigurationError("verify='system' needs truststore: pip install 'vision-async[truststore]'") from None
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def resolve_verify(verify: object, *, trust_env: bool, insecure_allowed: bool) -> ssl.SSLContext | bool:
    """``True`` (the pool's default trust, made on first use) or the context to use."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        if trust_env:
            return True
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    if verify is False:
        if not insecure_allowed:
            raise ConfigurationError(
                "verify=False turns off certificate checks; it is allowed only for loopback endpoints "
                "or with allow_insecure_http=True"
            )
        warnings.warn("verify=False: TLS certificates are not checked", stacklevel=3)
        return False
    if verify == "system":
        return _system_context()
    if isinstance(verify, str | os.PathLike):
        where = os.fspath(verify)
        try:
            if os.path.isdir(where):
                return ssl.create_default_context(capath=where)
            return ssl.create_default_context(cafile=where)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"verify={where!r} cannot be used as trusted CAs: {exc}") from None
    raise ConfigurationError(
        f"verify= must be True, False, 'system', a CA bundle path or an ssl.SSLContext; got {verify!r}"
    )
