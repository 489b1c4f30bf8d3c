// Decode a compact JWS and verify it against a JWK with WebCrypto: no library, and the
// token never leaves the browser. Shared by the /inspect page and the interop tests, which
// load it from another origin to check that the JWKS works cross-origin.

// JWS alg -> WebCrypto parameters (RFC 7518 section 3). ECDSA signatures in JWS are raw
// R||S, exactly what WebCrypto's ECDSA verify takes; RSA-PSS salt = hash length. EdDSA
// (RFC 8037, Ed25519 keys only) and its fully specified name Ed25519 (RFC 9864) are
// WebCrypto's Ed25519: the 64-byte signature over the signing input, no pre-hash.
const ALGORITHMS = {
  RS256: { key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, sign: { name: "RSASSA-PKCS1-v1_5" } },
  RS384: { key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-384" }, sign: { name: "RSASSA-PKCS1-v1_5" } },
  RS512: { key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" }, sign: { name: "RSASSA-PKCS1-v1_5" } },
  PS256: { key: { name: "RSA-PSS", hash: "SHA-256" }, sign: { name: "RSA-PSS", saltLength: 32 } },
  PS384: { key: { name: "RSA-PSS", hash: "SHA-384" }, sign: { name: "RSA-PSS", saltLength: 48 } },
  PS512: { key: { name: "RSA-PSS", hash: "SHA-512" }, sign: { name: "RSA-PSS", saltLength: 64 } },
  ES256: { key: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  ES384: { key: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } },
  ES512: { key: { name: "ECDSA", namedCurve: "P-521" }, sign: { name: "ECDSA", hash: "SHA-512" } },
  EdDSA: { key: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  Ed25519: { key: { name: "Ed25519" }, sign: { name: "Ed25519" } },
};

export const SUPPORTED_ALGORITHMS = Object.keys(ALGORITHMS);

export class JwsFormatError extends Error {}

/** Strict base64url (RFC 7515 section 2: no padding, no other alphabet) to bytes. */
export function base64urlDecode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new JwsFormatError("not base64url");
  }
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function decodeJson(part, what) {
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(base64urlDecode(part)));
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error();
    return value;
  } catch {
    throw new JwsFormatError(`the ${what} is not a base64url JSON object`);
  }
}

/** Split a compact JWS into its decoded parts; throws JwsFormatError when it is not one. */
export function decodeJws(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3) throw new JwsFormatError("a JWT has three dot-separated parts");
  return {
    header: decodeJson(parts[0], "header"),
    claims: decodeJson(parts[1], "payload"),
    signingInput: new TextEncoder().encode(`${parts[0]}.${parts[1]}`),
    signature: base64urlDecode(parts[2]),
  };
}

/** The key of `jwks` named by the token's kid, or null. */
export function findKey(jwks, kid) {
  return (jwks.keys || []).find((key) => key.kid === kid) || null;
}

/** Import a published JWK as WebCrypto would from any JWKS: as served, `alg` included. */
export async function importJwk(jwk) {
  const params = ALGORITHMS[jwk.alg];
  if (!params) throw new JwsFormatError(`unsupported alg ${jwk.alg}`);
  return crypto.subtle.importKey("jwk", jwk, params.key, false, ["verify"]);
}

/** True when `decoded` (from decodeJws) is signed by `jwk`; the header must name the key's alg. */
export async function verifyJws(decoded, jwk) {
  if (decoded.header.alg !== jwk.alg) return false;
  const key = await importJwk(jwk);
  return crypto.subtle.verify(ALGORITHMS[jwk.alg].sign, key, decoded.signature, decoded.signingInput);
}
