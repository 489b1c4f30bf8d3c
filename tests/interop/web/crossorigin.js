// A relying party's page on another origin than the issuer: it fetches each issuer's JWKS
// with CORS and verifies tokens with WebCrypto through the same jws.js the issuer's
// /inspect page uses (copied next to this file by the test).

import { decodeJws, findKey, importJwk, verifyJws } from "./jws.js";

document.getElementById("origin").textContent = location.origin;

async function verifyCase(c) {
  const response = await fetch(c.jwks_uri, { mode: "cors", cache: "no-store" });
  if (!response.ok) return { ok: false, error: `JWKS: HTTP ${response.status}` };
  const jwks = await response.json();
  const decoded = decodeJws(c.token);
  const jwk = findKey(jwks, decoded.header.kid);
  if (!jwk) return { ok: false, error: `kid ${decoded.header.kid} not in the JWKS` };
  return { ok: await verifyJws(decoded, jwk), kid: jwk.kid };
}

function render(label, outcome, from) {
  const row = document.createElement("tr");
  const cells = [label, String(outcome.ok), outcome.error ?? outcome.kid, from];
  for (const text of cells) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  row.children[1].className = String(outcome.ok);
  document.getElementById("results").append(row);
}

/** label -> {ok, kid} or {ok: false, error}; errors (CORS, import) are reported, not thrown. */
window.verifyAcrossOrigins = async (cases) => {
  const results = {};
  for (const c of cases) {
    try {
      results[c.label] = await verifyCase(c);
    } catch (err) {
      results[c.label] = { ok: false, error: `${err.name}: ${err.message}` };
    }
    render(c.label, results[c.label], new URL(c.jwks_uri).origin);
  }
  return results;
};

/** What a cross-origin fetch of `url` gives: "readable", or the error the browser raised. */
window.fetchCrossOrigin = async (url) => {
  let outcome;
  try {
    await (await fetch(url, { mode: "cors", cache: "no-store" })).text();
    outcome = "readable";
  } catch (err) {
    outcome = `${err.name}: ${err.message}`;
  }
  document.getElementById("nocors").textContent = `${url} -> ${outcome}`;
  return outcome;
};

/** Import the first published JWK with "=" appended to `field` (padded base64, which JWK forbids):
 * proves the browser checks the JWK encoding, so a format regression would fail the test. */
window.importChanged = async (jwksUri, field) => {
  const jwks = await (await fetch(jwksUri, { mode: "cors" })).json();
  const jwk = { ...jwks.keys[0], [field]: `${jwks.keys[0][field]}=` };
  try {
    await importJwk(jwk);
    return "imported";
  } catch (err) {
    return `${err.name}: ${err.message}`;
  }
};
