"""Differential test: Signet's verifier and strictly configured PyJWT decide alike on thousands
of generated tokens, except where Signet is deliberately stricter (STRICTER, below).

Both use the JWKS of a real issuer under uvicorn. PyJWT is given, per token, the key of the
header's kid and only that key's JWK `alg`, the same issuer, audience, 30 s leeway and the
RFC 9068 claims as required: the strictest PyJWT configuration we know of.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.hashes import SHA256

from signet import signatures
from signet.algorithms import ALGORITHMS
from signet.jose import b64url_encode
from signet.keys.local import LocalSigningKey, generate_private_key
from signet.verifier import SignetError, Verifier
from tests.support.processes import start_issuer
from tests.support.verifier_tokens import AUDIENCE, make_token, open_key, segment

REQUIRED = ["iss", "exp", "aud", "sub", "iat", "jti", "client_id"]
FRESH: Any = object()  # Generator.token: "make fresh valid claims"

# Where Signet refuses what PyJWT (2.15, configured as above) accepts, on purpose:
STRICTER = {
    "typ is not at+jwt": "RFC 9068 section 4: an access token must say so (typ), "
                         "or an ID token or another JWT could be replayed as one",
    "numeric strings as times": 'PyJWT runs int() on exp/nbf/iat, so "exp": "9999999999" passes',
    "key-bearing headers": "jku/x5u/jwk/x5c are refused outright (RFC 8725 3.10), not just ignored",
    "padded segments": "base64url in JWS has no padding (RFC 7515 section 2); PyJWT allows '='",
    "non-string client_id or scope": "RFC 9068 claim types are checked, not only presence",
    "non-standard JSON": "NaN, Infinity and lone surrogates are not JSON (RFC 8259); Python's "
                         "json module accepts them",
    "oversized token": "tokens over 8 KiB are refused before any parsing",
    "b64 header": "RFC 7797 unencoded payloads are not JWT access tokens",
}


@dataclass
class Keys:
    es256: LocalSigningKey
    rs256: LocalSigningKey
    ps256: LocalSigningKey


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Keys, dict[str, jwt.PyJWK]]]:
    key_dir = tmp_path_factory.mktemp("keys")
    keys = Keys(*(asyncio.run(open_key(key_dir, alg)) for alg in ("ES256", "RS256", "PS256")))
    service, issuer = start_issuer({"SIGNET_LOCAL_KEY_DIR": str(key_dir)})
    try:
        jwks = httpx.get(issuer + "/.well-known/jwks.json").json()
        yield issuer, keys, {jwk["kid"]: jwt.PyJWK(jwk) for jwk in jwks["keys"]}
    finally:
        service.stop()


def pyjwt_accepts(token: str | bytes, issuer: str, pyjwks: dict[str, jwt.PyJWK]) -> bool:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = pyjwks.get(kid) if isinstance(kid, str) else None
        if key is None:
            return False
        jwt.decode(token, key, algorithms=[key.algorithm_name], audience=AUDIENCE, issuer=issuer,
                   leeway=30, options={"require": REQUIRED})
    except Exception:
        return False
    return True


def signet_accepts(verifier: Verifier, token: str) -> bool:
    try:
        verifier.verify_sync(token)
    except SignetError:
        return False
    return True


class Generator:
    """Token families: each label makes tokens with random variations around one property."""

    def __init__(self, issuer: str, keys: Keys, seed: int = 4) -> None:
        self.issuer, self.keys, self.rng = issuer, keys, random.Random(seed)
        self.now = int(time.time())

    def claims(self, **changes: Any) -> dict[str, Any]:
        rng, now = self.rng, self.now
        aud: Any = AUDIENCE
        if rng.random() < 0.4:
            aud = [f"api://other-{rng.randrange(9)}", AUDIENCE]
            rng.shuffle(aud)
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": f"client-{rng.randrange(10**6)}", "aud": aud,
            "client_id": f"client-{rng.randrange(99)}", "iat": now - rng.randrange(600),
            "exp": now + rng.randrange(60, 3600), "jti": f"{rng.getrandbits(64):x}",
            "scope": " ".join(rng.sample(["read", "write", "admin", "ops"], rng.randrange(1, 4)))}
        if rng.random() < 0.5:
            claims["nbf"] = claims["iat"]
        if rng.random() < 0.3:
            claims["tenant"] = {"id": rng.randrange(100), "tags": ["a", "b"][: rng.randrange(3)]}
        if rng.random() < 0.2:
            claims["exp"] += 0.5  # numbers need not be integers
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def key(self) -> LocalSigningKey:
        roll = self.rng.random()
        return self.keys.es256 if roll < 0.8 else self.keys.rs256 if roll < 0.9 else self.keys.ps256

    def header(self, key: LocalSigningKey, **changes: Any) -> dict[str, Any]:
        typ = self.rng.choice(["at+jwt", "AT+JWT", "application/at+jwt"])
        header = {"alg": key.published.alg.name, "kid": key.published.kid, "typ": typ, **changes}
        return {k: v for k, v in header.items() if v is not None}

    def token(self, claims: Any = FRESH, key: LocalSigningKey | None = None, **header: Any) -> str:
        key = key or self.key()
        return make_token(key, self.claims() if claims is FRESH else claims,
                          header=self.header(key, **header))

    # -- families: (label, count, maker) --------------------------------------------------

    def families(self) -> list[tuple[str, int, Callable[[], str | bytes]]]:
        rng, now, es = self.rng, self.now, self.keys.es256
        other_key = generate_private_key(ALGORITHMS["ES256"])
        return [
            ("valid", 1200, lambda: self.token()),
            ("expired", 150, lambda: self.token(self.claims(exp=now - rng.randrange(35, 10**5)))),
            ("expired within leeway", 80, lambda: self.token(self.claims(exp=now - rng.randrange(3, 25)))),
            ("not yet valid", 80, lambda: self.token(self.claims(nbf=now + rng.randrange(35, 10**5)))),
            ("nbf within leeway", 80, lambda: self.token(self.claims(nbf=now + rng.randrange(3, 25)))),
            ("issued in the future", 80, lambda: self.token(self.claims(iat=now + rng.randrange(35, 10**5)))),
            ("wrong audience", 120, lambda: self.token(self.claims(aud=rng.choice([
                AUDIENCE + "x", AUDIENCE[:-1], AUDIENCE.upper(), "", [f"api://{rng.random()}"], [],
                [AUDIENCE, 3], f"{AUDIENCE} {AUDIENCE}"])))),
            ("wrong issuer", 120, lambda: self.token(self.claims(iss=rng.choice([
                self.issuer + "/", self.issuer[:-1], "https://evil.example", self.issuer.upper(),
                [self.issuer], 7])))),
            ("missing claim", 140, lambda: self.token(self.claims(**{rng.choice(REQUIRED): None}))),
            ("null claim", 50, lambda: self.token({**self.claims(), rng.choice(REQUIRED): None})),
            ("wrong claim types", 80, lambda: self.token(self.claims(**rng.choice([
                {"sub": 5}, {"jti": 5}, {"iss": None, "sub": []}, {"exp": True}, {"aud": {"x": 1}}])))),
            ("payload not an object", 40,
             lambda: self.token(rng.choice([[], "x", 1, None, [self.claims()]]))),
            ("tampered payload", 120, self.tampered_payload),
            ("tampered signature", 120, self.tampered_signature),
            ("garbled character", 200, self.garbled),
            ("alg none or HMAC", 60, lambda: make_token(None, self.claims(), header=self.header(
                es, alg=rng.choice(["none", "None", "HS256", "HS512", "NONE"])), signature=rng.choice(
                [b"", b"\x00" * 32]))),
            ("alg not the key's", 60, self.alg_mismatch),
            ("unknown kid", 60, lambda: self.token(kid=f"kid-{rng.getrandbits(32)}")),
            ("no kid", 20, lambda: self.token(kid=None)),
            ("another key's signature", 40, lambda: make_token(
                None, self.claims(), header=self.header(es), private_key=other_key, alg=ALGORITHMS["ES256"])),
            ("DER or zero ECDSA signature", 40, self.bad_ecdsa),
            ("unknown crit", 30,
             lambda: self.token(crit=[rng.choice(["exp", "x-ext", "kid"])], **{"x-ext": 1})),
            ("duplicate claim names", 30, self.duplicates),
            # Signet stricter:
            ("typ is not at+jwt", 80, lambda: self.token(typ=rng.choice(["JWT", None, "at+jwt2", "jwt"]))),
            ("numeric strings as times", 80, lambda: self.token(self.claims(**{
                rng.choice(["exp", "nbf", "iat"]): str(now + rng.choice([0, 10]))}))),
            ("key-bearing headers", 60, lambda: self.token(**{
                rng.choice(["jku", "x5u", "jwk", "x5c"]): rng.choice(
                    ["https://evil.example/keys", ["MIIB"], {"kty": "EC"}])})),
            ("padded segments", 60, self.padded),
            ("non-string client_id or scope", 60, lambda: self.token(self.claims(
                **rng.choice([{"client_id": 12}, {"scope": ["read"]}, {"client_id": ["x"]}, {"scope": 1}])))),
            ("non-standard JSON", 60, self.non_standard_json),
            ("oversized token", 20, lambda: self.token(self.claims(pad="x" * rng.randrange(6500, 9000)))),
            ("b64 header", 20, lambda: self.token(b64=True, crit=["b64"])),
        ]

    def tampered_payload(self) -> str:
        header, _, sig = self.token().split(".")
        return f"{header}.{segment(self.claims())}.{sig}"

    def tampered_signature(self) -> str:
        head, sig = self.token().rsplit(".", 1)
        raw = bytearray(jwt.utils.base64url_decode(sig))
        raw[self.rng.randrange(len(raw))] ^= 1 << self.rng.randrange(8)
        return f"{head}.{b64url_encode(bytes(raw))}"

    def garbled(self) -> str:
        token = list(self.token())
        position = self.rng.randrange(len(token))
        while token[position] == ".":
            position = self.rng.randrange(len(token))
        token[position] = self.rng.choice([c for c in "AbZ09-_" if c != token[position]])
        return "".join(token)

    def alg_mismatch(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return self.token(key=self.keys.es256, alg=rng.choice(["ES384", "RS256", "PS256"]))
        rs = self.keys.rs256  # an RS256-bound RSA key signing PS256
        data = f"{segment(self.header(rs, alg='PS256'))}.{segment(self.claims())}".encode()
        sig = rs.private_key.sign(data, padding.PSS(padding.MGF1(SHA256()), 32), SHA256())  # type: ignore[call-arg]
        return f"{data.decode()}.{b64url_encode(sig)}"

    def bad_ecdsa(self) -> str:
        es = self.keys.es256
        data = f"{segment(self.header(es))}.{segment(self.claims())}".encode()
        der = es.private_key.sign(data, ec.ECDSA(SHA256()))  # type: ignore[call-arg]
        return f"{data.decode()}.{b64url_encode(self.rng.choice([der, bytes(64)]))}"

    def duplicates(self) -> str:
        """A wrong aud first, the right one last: the last wins in both parsers (valid)."""
        body = '{"aud": "api://other", ' + json.dumps(self.claims(aud=AUDIENCE))[1:]
        return self.token(body.encode())

    def padded(self) -> str:
        """Padding that is part of the signed input, so only the decoding rule differs."""
        key = self.keys.es256
        for _ in range(20):
            payload = segment(self.claims())
            if len(payload) % 4:
                data = f"{segment(self.header(key))}.{payload}{'=' * (-len(payload) % 4)}"
                signature = signatures.sign(key.published.alg, key.private_key, data.encode())
                return f"{data}.{b64url_encode(signature)}"
        raise AssertionError("no payload needing padding")

    def non_standard_json(self) -> str:
        body = json.dumps(self.claims())[:-1] + ', "x": ' + self.rng.choice(
            ["NaN", "Infinity", '"\\ud800"', "-Infinity"]) + "}"
        return self.token(body.encode())


def test_signet_and_pyjwt_agree_except_where_signet_is_stricter(setup: Any) -> None:
    issuer, keys, pyjwks = setup
    verifier = Verifier(issuer, AUDIENCE)  # keys by OpenID discovery from the real issuer
    generator = Generator(issuer, keys)
    outcomes: Counter[tuple[str, bool, bool]] = Counter()
    disagreements: list[tuple[str, str]] = []
    try:
        for label, count, make in generator.families():
            for _ in range(count):
                token = make()
                text = token.decode() if isinstance(token, bytes) else token
                signet, pyjwt = signet_accepts(verifier, text), pyjwt_accepts(text, issuer, pyjwks)
                outcomes[(label, signet, pyjwt)] += 1
                expected = (False, True) if label in STRICTER else None
                if (expected is None and signet != pyjwt) or (expected and (signet, pyjwt) != expected):
                    disagreements.append((label, text[:120]))
    finally:
        verifier.close()
    total = sum(outcomes.values())
    assert total >= 3000
    assert not disagreements, (len(disagreements), disagreements[:5])
    accepted = {label for (label, signet, _), n in outcomes.items() if signet}
    assert accepted == {"valid", "expired within leeway", "nbf within leeway", "duplicate claim names"}
    labels = {label for label, _, _ in outcomes}
    assert set(STRICTER) <= labels  # every listed difference was exercised
