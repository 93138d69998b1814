"""One TLS context for every connection pool of every client in the process.

httpx builds an `ssl.SSLContext` for each pool it creates, loading the CA bundle every time
(~40 ms each); a client opens a pool per shard plus a download transport, so that was ~0.3 s
per client. The shared context is built by httpx's own `create_ssl_context()`, so
verification is exactly httpx's default: certifi's bundle, or `SSL_CERT_FILE` /
`SSL_CERT_DIR` when set (one context per value of those, so changing them still counts).
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def shared_ssl_context() -> ssl.SSLContext:
    """The process's context for the CA settings now in the environment."""
    return _context_for(os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)


@functools.lru_cache(maxsize=4)
def _context_for(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    # The arguments are the cache key only: httpx reads the same variables itself.
    return httpx.create_ssl_context(verify=True, trust_env=True)
