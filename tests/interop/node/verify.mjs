// Verify Signet tokens with the two Node.js libraries people reach for, as they document them.
//
// Reads {"cases": [{label, alg, token, issuer, audience, jwks_uri}]} on stdin and prints
// {"<library>": {"<label>": {"ok": true, "sub": ...} | {"ok": false, "error", "code", "message"}}}
// on stdout. Each library fetches the JWKS itself, over HTTP, from the running issuer.
// Tokens are never printed: only the outcome and the library's error class.

import { createRemoteJWKSet, jwtVerify } from "jose";
import { JwtVerifier } from "aws-jwt-verify";
import { SimpleJwksCache } from "aws-jwt-verify/jwk";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function failure(err) {
  return { ok: false, error: err?.constructor?.name ?? "Error", code: err?.code ?? null,
           message: String(err?.message ?? err) };
}

// One remote JWKS per URI, as an application would keep it.
const joseSets = new Map();
async function verifyWithJose(c) {
  if (!joseSets.has(c.jwks_uri)) joseSets.set(c.jwks_uri, createRemoteJWKSet(new URL(c.jwks_uri)));
  const { payload, protectedHeader } = await jwtVerify(c.token, joseSets.get(c.jwks_uri), {
    issuer: c.issuer, audience: c.audience, typ: "at+jwt", algorithms: [c.alg],
  });
  return { ok: true, sub: payload.sub, alg: protectedHeader.alg };
}

// aws-jwt-verify's own fetcher speaks only HTTPS (node:https), and the test issuers listen on
// plain HTTP on loopback. Its documented extension point, a JWKS cache with a custom fetcher,
// swaps only the transport: parsing the JWKS, kid lookup, alg and key checks and the
// signature verification all stay the library's.
const httpFetcher = {
  async fetch(uri) {
    const response = await fetch(uri);
    if (response.status !== 200) throw new Error(`JWKS fetch: HTTP ${response.status}`);
    return response.arrayBuffer();
  },
};
const awsVerifiers = new Map();
async function verifyWithAwsJwtVerify(c) {
  const key = `${c.issuer} ${c.audience}`;
  if (!awsVerifiers.has(key)) {
    awsVerifiers.set(key, JwtVerifier.create(
      {
        issuer: c.issuer, audience: c.audience, jwksUri: c.jwks_uri,
        // The library has no typ option; this hook is where it lets callers add header checks.
        customJwtCheck: ({ header }) => {
          if (header.typ !== "at+jwt") throw new Error(`typ is ${header.typ}, expected at+jwt`);
        },
      },
      { jwksCache: new SimpleJwksCache({ fetcher: httpFetcher }) },
    ));
  }
  const payload = await awsVerifiers.get(key).verify(c.token);
  return { ok: true, sub: payload.sub, alg: c.alg };
}

const LIBRARIES = { "jose": verifyWithJose, "aws-jwt-verify": verifyWithAwsJwtVerify };

const { cases } = await readStdin();
const results = {};
for (const [name, verify] of Object.entries(LIBRARIES)) {
  results[name] = {};
  for (const c of cases) {
    try {
      results[name][c.label] = await verify(c);
    } catch (err) {
      results[name][c.label] = failure(err);
    }
  }
}
process.stdout.write(JSON.stringify(results));
