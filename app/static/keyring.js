// The /keyring page: /keyring.json drawn as one timeline row per published key
// (pending -> active -> retiring), with the planned steps hatched, twice: zoomed on
// now ± 2 days and over the full span; and a table of the times.

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 10000;

const seconds = (text) => (text ? Date.parse(text) / 1000 : null);
const NEXT_WORDS = { activates: "signs from", successor_activates: "successor signs from",
                     unpublished: "unpublished at" };

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

const ZOOM_SECONDS = 2 * 86400; // the zoomed band: now ± 2 days

/** One band of the timeline: a row per key, its spans clipped to [start, end]. */
function drawBand(keys, now, start, end, title, band) {
  const section = el("div", "band");
  section.dataset.band = band;
  section.append(el("div", "band-title", title));
  const width = end - start;
  const clip = (t) => Math.min(Math.max(t, start), end);
  const pct = (t) => `${((clip(t) - start) / width) * 100}%`;
  for (const key of keys) {
    const row = el("div", "row");
    row.dataset.kid = key.kid;
    const label = el("span", "label", `${key.kid.slice(0, 10)}… ${key.alg}`);
    label.title = key.kid;
    row.append(label);
    const track = el("div", "track");
    for (const [state, from, to] of spans(key)) {
      const until = to ?? end;
      for (const [a, b, planned] of [[from, Math.min(until, now), false], [Math.max(from, now), until, true]]) {
        if (clip(b) <= clip(a)) continue;
        const bar = el("span", `bar ${state}${planned ? " planned" : ""}`);
        bar.style.left = pct(a);
        bar.style.width = `${((clip(b) - clip(a)) / width) * 100}%`;
        bar.title = `${state}: ${new Date(a * 1000).toISOString()} → ${to === null ? "open" : new Date(b * 1000).toISOString()}`;
        track.append(bar);
      }
    }
    const marker = el("span", "now");
    marker.style.left = pct(now);
    track.append(marker);
    row.append(track);
    section.append(row);
  }
  const stamp = (t) => new Date(Math.round(t) * 1000).toISOString().replace(".000Z", "Z");
  const axis = el("div", "row axis");
  const scale = el("div", "scale");
  scale.append(el("span", "from", stamp(start)), el("span", "to", stamp(end)));
  axis.append(el("span", "label"), scale);
  section.append(axis);
  return section;
}

/** Two bands: "now ± 2 days", where a one-hour publish lead is wide enough to see, above
 * the full span of every key's life (30-day periods); one band when the span is short. */
function drawTimeline(keys, now) {
  const times = keys.flatMap((k) => spans(k).flatMap(([, a, b]) => [a, b])).filter((t) => t !== null);
  const start = Math.min(now, ...times);
  const end = start + Math.max(Math.max(now, ...times) - start, 60) * 1.08;
  const full = drawBand(keys, now, start, end, "full span", "full");
  // Zoom only where it shows more than the full span does (30-day periods, not a 2-hour ring).
  $("timeline").replaceChildren(...(end - start > 2 * ZOOM_SECONDS
    ? [drawBand(keys, now, now - ZOOM_SECONDS, now + ZOOM_SECONDS, "now ± 2 days", "zoom"), full]
    : [full]));
}

const COLUMNS = [...document.querySelectorAll("#keys thead th")].map((th) => th.textContent);

function drawTable(keys, now) {
  const body = document.querySelector("#keys tbody");
  body.replaceChildren();
  for (const key of keys) {
    const row = el("tr");
    row.dataset.kid = key.kid;
    row.dataset.state = key.state;
    const state = el("td");
    state.append(el("span", `badge ${key.state}`, key.state));
    const next = key.next;
    const kid = el("td", "kid", key.kid);
    kid.title = key.kid;
    const cells = [kid, el("td", "", key.alg), state,
                   el("td", "time", key.created_at ?? "-"), el("td", "time", key.activated_at ?? "-"),
                   el("td", "time", key.retiring_at ?? "-"),
                   el("td", "next", next ? `${NEXT_WORDS[next.event]} ${next.at} (${relative(seconds(next.at), now)})` : "-")];
    // Each cell names its column: on a phone the table is drawn as one card per key.
    cells.forEach((cell, i) => { cell.dataset.label = COLUMNS[i]; });
    row.append(...cells);
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
