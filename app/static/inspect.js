// The /inspect page: decode a pasted token, show its header and claims, count down to its
// expiry, find the published key that signed it and verify the signature with WebCrypto.
// Requests made: this issuer's JWKS and /keyring.json only; the token stays in the page.

import { decodeJws, findKey, verifyJws } from "./jws.js";

const $ = (id) => document.getElementById(id);
let generation = 0; // each edit starts a new inspection; late answers of older ones are dropped
let ticker = null;

function setVerdict(result, text) {
  $("verdict").dataset.result = result;
  $("verdict").textContent = text;
}

function iso(seconds) {
  return typeof seconds === "number" ? new Date(seconds * 1000).toISOString().replace(".000Z", "Z") : "-";
}

/** "4m 52s", "1h 0m", "0s": the largest non-zero unit and the next one. */
function duration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"],
                 [Math.floor(s / 60) % 60, "m"], [s % 60, "s"]];
  let first = parts.findIndex(([n]) => n > 0);
  if (first === -1) first = parts.length - 1;
  return parts.slice(first, first + 2).map(([n, unit]) => `${n}${unit}`).join(" ");
}

function showExpiry(claims) {
  const expiry = $("expiry");
  if (typeof claims.exp !== "number") {
    expiry.textContent = "no exp claim: never expires";
    expiry.dataset.remaining = "";
    return;
  }
  const remaining = claims.exp - Date.now() / 1000;
  expiry.dataset.remaining = String(Math.round(remaining));
  expiry.className = remaining > 0 ? "ok" : "bad";
  expiry.textContent = remaining > 0
    ? `expires in ${duration(remaining)} (${iso(claims.exp)})`
    : `expired ${duration(remaining)} ago (${iso(claims.exp)})`;
}

async function fetchJson(path) {
  const response = await fetch(path, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function clear() {
  clearInterval(ticker);
  for (const id of ["header", "claims"]) $(id).textContent = "";
  for (const id of ["key", "expiry", "issuer", "times"]) $(id).textContent = "-";
  $("key").className = $("expiry").className = $("issuer").className = "";
}

async function inspect() {
  const run = ++generation;
  clear();
  const token = $("token").value.trim();
  if (!token) return setVerdict("empty", "Paste a token above.");
  let decoded;
  try {
    decoded = decodeJws(token);
  } catch (err) {
    return setVerdict("malformed", `Not a JWT: ${err.message}.`);
  }
  const { header, claims } = decoded;
  $("header").textContent = JSON.stringify(header, null, 2);
  $("claims").textContent = JSON.stringify(claims, null, 2);
  $("times").textContent = `issued ${iso(claims.iat)} · not before ${iso(claims.nbf)}`;
  showExpiry(claims);
  ticker = setInterval(() => showExpiry(claims), 1000);
  setVerdict("checking", "Checking the signature against the published keys…");

  let jwks, ring;
  try {
    [jwks, ring] = await Promise.all([fetchJson(".well-known/jwks.json"), fetchJson("keyring.json")]);
  } catch (err) {
    if (run === generation) setVerdict("error", `Could not load the published keys: ${err.message}`);
    return;
  }
  if (run !== generation) return;
  const issuerMatches = claims.iss === ring.issuer;
  $("issuer").textContent = issuerMatches ? `${claims.iss} (this issuer)` : `${claims.iss} — not this issuer (${ring.issuer})`;
  $("issuer").className = issuerMatches ? "ok" : "bad";
  const jwk = findKey(jwks, header.kid);
  if (!jwk) {
    $("key").textContent = `kid ${header.kid}: not published here`;
    $("key").className = "bad";
    return setVerdict("unknown-key", "No key published by this issuer has this token's kid: it was signed elsewhere, or by a key that is no longer published.");
  }
  const state = (ring.keys.find((k) => k.kid === jwk.kid) || {}).state || "published";
  $("key").textContent = `${jwk.kid} (${jwk.alg}, ${state})`;
  $("key").dataset.kid = jwk.kid;
  let verified;
  try {
    verified = await verifyJws(decoded, jwk);
  } catch (err) {
    if (run === generation) setVerdict("error", `WebCrypto could not check it: ${err.message}`);
    return;
  }
  if (run !== generation) return;
  $("key").className = verified ? "ok" : "bad";
  setVerdict(verified ? "verified" : "invalid", verified
    ? `Signature verified with published key ${jwk.kid} (${jwk.alg}).`
    : `Signature does NOT verify with published key ${jwk.kid}: the token was altered or not signed by it.`);
}

$("token").addEventListener("input", inspect);
if ($("token").value) inspect();
