"""The local PEM backend: first-start key generation, file safety, clear configuration errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.jwk import thumbprint
from signet.keys.base import KeyConfigurationError
from signet.keys.local import LocalKeyBackend


async def test_empty_directory_gets_one_private_0600_key(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    backend = LocalKeyBackend(key_dir, ALGORITHMS["ES256"])
    await backend.open()
    files = list(key_dir.glob("*.pem"))
    assert len(files) == 1 and files[0].name.startswith("ES256-")
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    kid = backend.signing_key().published.kid

    again = LocalKeyBackend(key_dir, ALGORITHMS["ES256"])
    await again.open()
    assert again.signing_key().published.kid == kid, "a restart must reuse the key"
    assert len(list(key_dir.glob("*.pem"))) == 1


async def test_new_algorithm_adds_a_key_and_keeps_publishing_the_old(tmp_path: Path) -> None:
    await LocalKeyBackend(tmp_path, ALGORITHMS["ES256"]).open()
    backend = LocalKeyBackend(tmp_path, ALGORITHMS["PS256"])
    await backend.open()
    assert backend.signing_key().published.alg.name == "PS256"
    assert sorted(k.alg.name for k in backend.published_keys()) == ["ES256", "PS256"]


async def test_signatures_verify_with_published_key(tmp_path: Path) -> None:
    backend = LocalKeyBackend(tmp_path, ALGORITHMS["ES384"])
    await backend.open()
    key = backend.signing_key()
    sig = await key.sign(b"a.b")
    assert signatures.verify(key.published.alg, key.published.public_key, b"a.b", sig)


async def test_group_readable_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    await LocalKeyBackend(tmp_path, ALGORITHMS["ES256"]).open()
    pem = next(tmp_path.glob("*.pem"))
    pem.chmod(0o644)
    with pytest.raises(KeyConfigurationError, match=r"SIGNET_LOCAL_KEY_DIR: .*chmod 600"):
        await LocalKeyBackend(tmp_path, ALGORITHMS["ES256"]).open()


def _write(path: Path, key: object) -> None:
    path.write_bytes(key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o600)


async def test_operator_supplied_keys_are_used(tmp_path: Path) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    _write(tmp_path / "my-key.pem", ec_key)
    backend = LocalKeyBackend(tmp_path, ALGORITHMS["ES256"])
    await backend.open()
    assert backend.signing_key().published.public_key.public_numbers() == (
        ec_key.public_key().public_numbers())


async def test_rsa_key_without_alg_in_name_is_ambiguous_for_ec_config(tmp_path: Path) -> None:
    _write(tmp_path / "prod.pem", rsa.generate_private_key(65537, 2048))
    with pytest.raises(KeyConfigurationError, match="RS256-prod.pem"):
        await LocalKeyBackend(tmp_path, ALGORITHMS["ES256"]).open()


async def test_key_that_does_not_fit_its_named_alg_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "ES384-x.pem", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyConfigurationError, match="does not fit ES384"):
        await LocalKeyBackend(tmp_path, ALGORITHMS["ES256"]).open()


@pytest.mark.parametrize(("configured", "name", "expected"), [
    ("EdDSA", "imported.pem", "EdDSA"), ("Ed25519", "imported.pem", "Ed25519"),
    ("ES256", "imported.pem", "EdDSA"), ("EdDSA", "Ed25519-imported.pem", "Ed25519")])
async def test_operator_supplied_ed25519_keys_sign_under_the_name_they_are_given(
        tmp_path: Path, configured: str, name: str, expected: str) -> None:
    """An Ed25519 PEM says its curve; EdDSA or Ed25519 comes from the file name, else from
    SIGNET_SIGNING_ALG when that is one of the two, else EdDSA (RFC 8037's name)."""
    key = ed25519.Ed25519PrivateKey.generate()
    _write(tmp_path / name, key)
    backend = LocalKeyBackend(tmp_path, ALGORITHMS[configured])
    await backend.open()
    kid = thumbprint(key.public_key())
    (published,) = [k for k in backend.published_keys() if k.kid == kid]
    assert published.alg.name == expected and published.jwk["crv"] == "Ed25519"
    if configured == expected:
        signing = backend.signing_key()
        signature = await signing.sign(b"data")
        assert signing.published.kid == published.kid and published.check(b"data", signature)


async def test_an_ed448_key_file_is_refused_by_name(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed448

    _write(tmp_path / "EdDSA-448.pem", ed448.Ed448PrivateKey.generate())
    with pytest.raises(KeyConfigurationError, match="only RSA, EC and Ed25519 keys"):
        await LocalKeyBackend(tmp_path, ALGORITHMS["EdDSA"]).open()


async def test_garbage_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "ES256-bad.pem").write_text("not a key")
    os.chmod(tmp_path / "ES256-bad.pem", 0o600)
    with pytest.raises(KeyConfigurationError, match="ES256-bad.pem is not an unencrypted PKCS#8"):
        await LocalKeyBackend(tmp_path, ALGORITHMS["ES256"]).open()


async def test_uncreatable_directory_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(KeyConfigurationError, match="SIGNET_LOCAL_KEY_DIR: cannot create"):
        await LocalKeyBackend(blocker / "keys", ALGORITHMS["ES256"]).open()
