// Foreign identity providers for Signet's verifier tests: node `jose` makes each provider's
// signing key and signs the token shapes the Python side describes (headers and claims as
// each provider documents them). Signet's own code takes no part in minting.
//
// Reads {"issuers": [{"issuer", "alg", "kid", "key_has_alg", "tokens": [{"header", "claims"}]}]}
// on stdin; prints {"<issuer>": {"jwk": {...public JWK...}, "tokens": ["<compact JWS>", ...],
// "forged": "<a token of the first shape signed by another key under the same kid>"}}.

import { SignJWT, exportJWK, generateKeyPair } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { issuers } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

async function sign(privateKey, alg, kid, header, claims) {
  return new SignJWT(claims).setProtectedHeader({ ...header, alg, kid }).sign(privateKey);
}

const out = {};
for (const spec of issuers) {
  const { issuer, alg, kid, key_has_alg: keyHasAlg, tokens } = spec;
  const { publicKey, privateKey } = await generateKeyPair(alg, { modulusLength: 2048, extractable: true });
  const other = await generateKeyPair(alg, { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(publicKey)), kid, use: "sig" };
  if (keyHasAlg) jwk.alg = alg;
  const signed = [];
  for (const { header, claims } of tokens) signed.push(await sign(privateKey, alg, kid, header, claims));
  const forged = await sign(other.privateKey, alg, kid, tokens[0].header, tokens[0].claims);
  out[issuer] = { jwk, tokens: signed, forged };
}
process.stdout.write(JSON.stringify(out));
