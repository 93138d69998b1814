"""The client's connection pools share one TLS context (issue 15 section 3: eight contexts
cost ~0.3 s per client), and that context verifies exactly as httpx's default does."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import httpx

from pipelines.soracom.tls import shared_ssl_context

from .conftest import make_client, run


def _pool_context(transport: object) -> ssl.SSLContext:
    """The context an httpx transport's connection pool hands to its TLS connections."""
    return transport._pool._ssl_context  # type: ignore[attr-defined]


def test_every_pool_of_every_client_shares_one_context(sandbox, creds):
    async def scenario() -> list[ssl.SSLContext]:
        contexts = []
        for _ in range(2):
            async with make_client(sandbox, creds, max_concurrency=32) as c:
                assert len(c._shards) > 1, "one shard only: nothing to share"
                contexts += [_pool_context(shard._transport) for shard in c._shards]
                contexts.append(_pool_context(c._download_pool()))
        return contexts

    contexts = run(scenario())
    assert {id(ctx) for ctx in contexts} == {id(shared_ssl_context())}


def test_the_shared_context_verifies_like_httpx_default(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ours, default = shared_ssl_context(), httpx.create_ssl_context()
    assert ours.verify_mode == default.verify_mode == ssl.CERT_REQUIRED
    assert ours.check_hostname and default.check_hostname
    assert ours.minimum_version == default.minimum_version
    assert ours.options == default.options
    assert ours.get_ca_certs() == default.get_ca_certs()


def test_ssl_cert_file_still_chooses_the_trusted_cas(monkeypatch, tmp_path: Path):
    bundle = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    one_ca = tmp_path / "one-ca.pem"
    one_ca.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----") : bundle.index(end) + len(end)])
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    everyone = shared_ssl_context()
    monkeypatch.setenv("SSL_CERT_FILE", str(one_ca))
    only_one = shared_ssl_context()
    assert only_one is not everyone
    assert len(only_one.get_ca_certs()) == 1 < len(everyone.get_ca_certs())
    assert only_one.verify_mode == ssl.CERT_REQUIRED and only_one.check_hostname
