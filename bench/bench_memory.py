"""Verifier memory: RSS growth after verifying 1,000,000 distinct tokens (target < 64 MB).

    python -m bench.bench_memory [--tokens 1000000] [--control 20000]

Each run is a fresh subprocess (`--child`), so nothing else lives in the measured heap. The
baseline RSS is read after the verifier has verified its first tokens (imports, key
objects and code paths in place); growth is RSS after the last token minus that.

Why part of it is stubbed, and why that is still honest: every distinct valid token needs a
signature of its own (the signature covers header and payload, and strict base64url gives
a token exactly one spelling), and one ES256 sign + verify costs about 150 us here, so a
million real ones would take minutes. The memory the verifier keeps per token lives in its
bounded caches (verified tokens, header segments) and in allocator fragmentation, never in
the signature check, which is a stateless call into OpenSSL. So:
- the 1M run goes through the whole `verify_sync` path with distinct token strings, claims,
  jti and random 64-byte signatures, but the key's signature check is replaced by one that
  accepts (the only stub; it is named in the table);
- a control pair verifies the same number of distinct tokens (`--control`) twice, once with
  real ES256 signatures and the real check and once stubbed: their RSS growth should match,
  which shows the stub hides no memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

from bench.report import Figure

LIMIT_MB = 64.0
WARM = 2000  # tokens verified before the baseline RSS is read


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _tokens(count: int, real: bool) -> Iterator[tuple[str, str]]:
    """The JWKS first (as `(jwks, "")`), then `("", token)` for each distinct token, minted
    lazily so that tokens not yet verified never pile up in the measured heap."""
    from bench.bench_verifier import AUDIENCE, ISSUER
    from signet.algorithms import ALGORITHMS
    from signet.jose import b64url_encode, compact, signing_input
    from signet.jwk import public_key_to_jwk
    from signet.keys.local import generate_private_key
    from signet.signatures import sign

    alg = ALGORITHMS["ES256"]
    key = generate_private_key(alg)
    jwk = public_key_to_jwk(key.public_key(), alg)
    yield json.dumps({"keys": [jwk]}), ""
    header = {"alg": "ES256", "kid": jwk["kid"], "typ": "at+jwt"}
    now = int(time.time())
    for i in range(count):
        claims = {"iss": ISSUER, "sub": f"client-{i % 1000}", "client_id": f"client-{i % 1000}",
                  "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 3600,
                  "jti": f"mem-{i:010d}", "scope": "read"}
        data = signing_input(header, claims)
        if real:
            yield "", compact(data, sign(alg, key, data))
        else:
            yield "", f"{data.decode()}.{b64url_encode(os.urandom(64))}"


def child(count: int, real: bool) -> dict[str, float]:
    from bench.bench_verifier import AUDIENCE, ISSUER
    from signet.verifier import Verifier

    tokens = _tokens(count, real)
    jwks, _ = next(tokens)
    verifier = Verifier(ISSUER, AUDIENCE, jwks_url=ISSUER + "/jwks", algorithms=["ES256"])
    verifier.load_jwks(ISSUER, jwks)
    if not real:  # the stub: accept any signature (see the module docstring)
        state = verifier._issuers[ISSUER]
        state.keys = {kid: dataclasses.replace(key, check=lambda data, signature: True)
                      for kid, key in state.keys.items()}
    verify = verifier.verify_sync
    before = 0.0
    start = time.perf_counter()
    for i, (_, token) in enumerate(tokens):
        verify(token)
        if i + 1 == min(WARM, count // 2):
            gc.collect()
            before = rss_mb()
    gc.collect()
    return {"tokens": count, "rss_before_mb": before, "rss_after_mb": rss_mb(),
            "growth_mb": rss_mb() - before, "seconds": time.perf_counter() - start,
            "token_cache_size": verifier.settings.token_cache_size}


def measure(count: int, real: bool) -> dict[str, float]:
    mode = "real" if real else "stub"
    out = subprocess.run([sys.executable, "-m", "bench.bench_memory", "--child", mode,
                          "--tokens", str(count)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def run(tokens: int = 1_000_000, control: int = 20_000) -> list[Figure]:
    big = measure(tokens, real=False)
    real, stub = measure(control, real=True), measure(control, real=False)
    return [
        Figure(f"verifier RSS growth after {tokens:,} distinct tokens", "MB",
               [big["growth_mb"]], [LIMIT_MB], "budget", 1.0,
               f"signature check stubbed (see bench/bench_memory.py); token cache"
               f" {big['token_cache_size']:,} entries; RSS {big['rss_before_mb']:.1f} ->"
               f" {big['rss_after_mb']:.1f} MB in {big['seconds']:.0f} s", at_most=True,
               extra=big),
        Figure(f"control: RSS growth after {control:,} distinct ES256 tokens, real signatures",
               "MB", [real["growth_mb"]], [stub["growth_mb"]], "same tokens, check stubbed",
               None, "informational: the stub must not hide memory, so the two should be close",
               extra={"real": real, "stub": stub}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--control", type=int, default=20_000)
    parser.add_argument("--child", choices=("real", "stub"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.tokens, args.child == "real")))
        return
    from bench.report import markdown_table

    figures = run(args.tokens, args.control)
    print(markdown_table(figures))
    for f in figures:
        print(f"- {f.name}: {f.notes}")


if __name__ == "__main__":
    main()
