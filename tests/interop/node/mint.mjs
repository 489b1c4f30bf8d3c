// Mint RFC 9068 access tokens with Node.js `jose`, one key per algorithm, so that Signet's
// verifier can be tested as a drop-in verifier for issuers that are not Signet.
//
// Reads {"issuer", "audience", "algs": [...]} on stdin; prints {"jwks": {"keys": [...]},
// "tokens": {"<alg>": "<compact JWS>"}} on stdout. Private keys never leave this process.

import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { issuer, audience, algs } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const keys = [];
const tokens = {};
for (const alg of algs) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  keys.push({ ...jwk, kid, alg, use: "sig" });
  tokens[alg] = await new SignJWT({ client_id: "node-client", scope: "read" })
    .setProtectedHeader({ alg, kid, typ: "at+jwt" })
    .setIssuer(issuer).setAudience(audience).setSubject("node-client")
    .setIssuedAt().setNotBefore("0s").setExpirationTime("5m").setJti(crypto.randomUUID())
    .sign(privateKey);
}
process.stdout.write(JSON.stringify({ jwks: { keys }, tokens }));
