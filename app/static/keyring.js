// The /keyring page: /keyring.json drawn as one timeline row per published key
// (pending -> active -> retiring), with the planned steps hatched, and a table of the times.

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 10000;

const seconds = (text) => (text ? Date.parse(text) / 1000 : null);
const NEXT = [["activates_at", "signs from"], ["successor_activates_at", "successor signs from"],
              ["unpublish_at", "unpublished at"]];

function amount(seconds) {
  const s = Math.abs(Math.round(seconds));
  return s >= 86400 ? `${Math.round(s / 86400)}d` : s >= 3600 ? `${Math.round(s / 3600)}h`
    : s >= 60 ? `${Math.round(s / 60)}m` : `${s}s`;
}

const relative = (at, now) => (at >= now ? `in ${amount(at - now)}` : `${amount(at - now)} ago`);

/** [state, start, end, planned] spans of one key; end null = open-ended. */
function spans(key) {
  const created = seconds(key.created_at);
  const activated = seconds(key.activated_at) ?? seconds(key.activates_at);
  const retiring = seconds(key.retiring_at) ?? seconds(key.successor_activates_at);
  const out = [];
  if (created !== null) out.push(["pending", created, activated]);
  if (activated !== null) out.push(["active", activated, retiring]);
  if (retiring !== null) out.push(["retiring", retiring, seconds(key.unpublish_at)]);
  return out;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawTimeline(keys, now) {
  const timeline = $("timeline");
  timeline.replaceChildren();
  const times = keys.flatMap((k) => spans(k).flatMap(([, a, b]) => [a, b])).filter((t) => t !== null);
  const start = Math.min(now, ...times);
  const end = Math.max(now, ...times);
  const width = Math.max(end - start, 60) * 1.08;
  const pct = (t) => `${((t - start) / width) * 100}%`;
  for (const key of keys) {
    const row = el("div", "row");
    row.dataset.kid = key.kid;
    row.append(el("span", "label", `${key.kid.slice(0, 10)}… ${key.alg}`));
    const track = el("div", "track");
    for (const [state, from, to] of spans(key)) {
      const until = to ?? start + width;
      for (const [a, b, planned] of [[from, Math.min(until, now), false], [Math.max(from, now), until, true]]) {
        if (b <= a) continue;
        const bar = el("span", `bar ${state}${planned ? " planned" : ""}`);
        bar.style.left = pct(a);
        bar.style.width = `${((b - a) / width) * 100}%`;
        bar.title = `${state}: ${new Date(a * 1000).toISOString()} → ${to === null ? "open" : new Date(b * 1000).toISOString()}`;
        track.append(bar);
      }
    }
    const marker = el("span", "now");
    marker.style.left = pct(now);
    track.append(marker);
    row.append(track);
    timeline.append(row);
  }
  const stamp = (t) => new Date(Math.round(t) * 1000).toISOString().replace(".000Z", "Z");
  const axis = el("div", "row axis");
  const scale = el("div", "scale");
  scale.append(el("span", "from", stamp(start)), el("span", "to", stamp(start + width)));
  axis.append(el("span", "label"), scale);
  timeline.append(axis);
}

function drawTable(keys, now) {
  const body = document.querySelector("#keys tbody");
  body.replaceChildren();
  for (const key of keys) {
    const row = el("tr");
    row.dataset.kid = key.kid;
    row.dataset.state = key.state;
    const state = el("td");
    state.append(el("span", `badge ${key.state}`, key.state));
    const next = NEXT.find(([field]) => key[field]);
    row.append(el("td", "kid", key.kid), el("td", "", key.alg), state,
               el("td", "", key.created_at ?? "-"), el("td", "", key.activated_at ?? "-"),
               el("td", "", key.retiring_at ?? "-"),
               el("td", "next", next ? `${next[1]} ${key[next[0]]} (${relative(seconds(key[next[0]]), now)})` : "-"));
    body.append(row);
  }
}

async function refresh() {
  try {
    const response = await fetch("keyring.json", { cache: "no-cache" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const ring = await response.json();
    const now = seconds(ring.now);
    drawTimeline(ring.keys, now);
    drawTable(ring.keys, now);
    const policy = ring.rotation
      ? `new keys are published ${amount(ring.rotation.publish_lead_seconds)} before they sign; ` +
        `old keys stay published ${amount(ring.rotation.retire_after_seconds)} after they stop`
      : "a fixed key: no rotation";
    $("status").textContent = `${ring.issuer} · ${ring.keys.length} published key(s) · ${policy} · as of ${ring.now}`;
    $("status").dataset.loaded = "true";
  } catch (err) {
    $("status").textContent = `Could not load keyring.json: ${err.message}`;
    $("status").dataset.loaded = "error";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
