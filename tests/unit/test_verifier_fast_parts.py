"""The verifier's one-pass token split (`fast_parts`) never accepts what the step-by-step
path (`split` + strict `decode_segment`) refuses, and yields the same bytes when it answers.
It may decline (None: the verifier then goes step by step) only when the header segment
holds a character base64url refuses, which the header parse refuses anyway."""

from __future__ import annotations

import random

from signet.verifier.errors import MalformedToken
from signet.verifier.token import decode_segment, fast_parts, split
from tests.support.verifier_tokens import mutate

TOKEN = ("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ."
         "eyJpc3MiOiJodHRwczovL2kiLCJleHAiOjF9."
         "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_QA")


def step_by_step(token: str) -> tuple[bytes, bytes, bytes, bytes] | None:
    try:
        signed, header, payload, signature = split(token)
        return signed, header, decode_segment(payload, "payload"), decode_segment(signature, "signature")
    except MalformedToken:
        return None


def mutations(token: str, count: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "AQgwEIMUYcko048_-+/=.é \x00ab"
    out = [token, token + "A", token + "AA", token[:-1], token[:-2], token + ".", "." + token,
           token.replace(".", "..", 1), "", "..", "a.b.c", "a.b", "Zg.Zg.Zg", "Zh.Zh.Zh"]
    out += [mutate(token, rng, alphabet, 3, 0.5, 0.75) for _ in range(count)]
    return out


def test_fast_parts_agrees_with_the_step_by_step_path() -> None:
    accepted = 0
    for token in mutations(TOKEN, 5000):
        fast, slow = fast_parts(token), step_by_step(token)
        if fast is not None:
            assert fast == slow, token
        else:  # declined: refused step by step too, or a header segment the header parse refuses
            assert slow is None or any(c in token.split(".")[0] for c in "+/="), token
        accepted += fast is not None
    assert accepted > 100  # the sample is not all refusals
