/* moodwire's analyst page: overview, topic view, drill-down, export, alerts.
 *
 * Plain browser JavaScript, no build step. Everything it draws comes from the API with the
 * Bearer key the analyst typed (kept in sessionStorage for this browser session only).
 * Mention text is untrusted: it only ever reaches the page through textContent, and the page
 * is served with Content-Security-Policy: default-src 'self' (no inline script or style).
 * Charts: uPlot (static/vendor/uplot), sparklines: small SVG polylines.
 */
(() => {
  "use strict";

  const ROOT = new URL("../", document.currentScript.src); // the app's root, under any route prefix
  const KEY_STORE = "moodwire-api-key";
  const POLL_MS = 60000;
  const HOUR_MS = 3600 * 1000;
  const DAY_MS = 24 * HOUR_MS;
  // A bucket with fewer mentions than this is pooled with the next ones before its mix is drawn.
  const MIN_MIX = 20;
  const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const EMOTION_COLOURS = {
    anger: "#c0392b", disgust: "#8e44ad", fear: "#34495e", joy: "#f1c40f",
    neutral: "#95a5a6", sadness: "#2980b9", surprise: "#27ae60",
  };
  const PALETTE = ["#e67e22", "#16a085", "#d35400", "#2c3e50", "#7f8c8d", "#9b59b6", "#1abc9c"];

  const $ = (id) => document.getElementById(id);
  const state = { sort: { key: "volume_24h", dir: -1 }, overview: null, topic: null, drill: null, authRequired: false };

  /** An element with attributes and children; strings become text nodes, never HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class AuthError extends Error {}
  class ApiError extends Error {}

  async function api(path, params) {
    const url = new URL(path, ROOT);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const key = sessionStorage.getItem(KEY_STORE);
    const headers = key ? { Authorization: `Bearer ${key}` } : {};
    const response = await fetch(url, { headers });
    if (response.status === 401) throw new AuthError(key ? "wrong" : "missing");
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (await response.json()).error.message || message;
      } catch (_) { /* not the JSON error shape */ }
      throw new ApiError(message);
    }
    return response;
  }
  const getJSON = async (path, params) => (await api(path, params)).json();

  // -- formatting ------------------------------------------------------------------------------
  const number = new Intl.NumberFormat();
  const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
  const fmtTime = (iso) => timeFormat.format(new Date(iso));
  const fmtSigned = (value, digits = 2) => (value === null || value === undefined ? "–" : (value > 0 ? "+" : "") + value.toFixed(digits));
  const fmtChange = (value) => (value === null || value === undefined ? "–" : `${value > 0 ? "+" : ""}${Math.round(value * 100)} %`);

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function setStatus(text) {
    $("status").textContent = text;
  }

  // -- the key -----------------------------------------------------------------------------------
  function askForKey(reason) {
    $("key-message").textContent = reason === "wrong"
      ? "The API key was not accepted (401). Enter the key this moodwire was started with (MOODWIRE_API_KEY)."
      : "This moodwire needs an API key (MOODWIRE_API_KEY). Enter it to see the data.";
    if (reason === "wrong") sessionStorage.removeItem(KEY_STORE);
    $("key-panel").hidden = false;
    for (const id of ["overview-view", "topic-view", "alerts-view"]) $(id).hidden = true;
    $("key-input").focus();
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("key-input").value.trim());
    $("key-input").value = "";
    $("key-panel").hidden = true;
    route();
  });
  $("change-key").addEventListener("click", () => askForKey("change"));

  // -- routing -----------------------------------------------------------------------------------
  /** ``#/topic/{key}?bucket=...``: query values are percent-decoded only, so a ``+`` in an
   *  ISO time (``+00:00``) stays a plus. */
  function parseHash() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const mark = hash.indexOf("?");
    const path = mark < 0 ? hash : hash.slice(0, mark);
    const params = {};
    for (const part of (mark < 0 ? "" : hash.slice(mark + 1)).split("&")) {
      if (!part) continue;
      const eq = part.indexOf("=");
      params[decodeURIComponent(eq < 0 ? part : part.slice(0, eq))] = eq < 0 ? "" : decodeURIComponent(part.slice(eq + 1));
    }
    return { path, params };
  }

  function topicHash(key, params) {
    const query = Object.entries(params).filter(([, v]) => v).map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%3A/g, ":").replace(/%2B/g, "+")}`);
    return `#/topic/${encodeURIComponent(key)}${query.length ? "?" + query.join("&") : ""}`;
  }

  function activate(view) {
    for (const id of ["overview-view", "topic-view", "alerts-view"]) $(id).hidden = id !== `${view}-view`;
    for (const link of document.querySelectorAll("[data-nav]")) link.classList.toggle("active", link.dataset.nav === view);
  }

  async function route() {
    const { path, params } = parseHash();
    showError("");
    try {
      if (path.startsWith("/topic/")) {
        activate("topic");
        await showTopic(decodeURIComponent(path.slice("/topic/".length)), params);
      } else if (path === "/alerts") {
        activate("alerts");
        await showAlerts();
      } else {
        activate("overview");
        await showOverview();
      }
      setStatus(`Updated ${clockFormat.format(new Date())}`);
    } catch (error) {
      handle(error);
    }
  }

  function handle(error) {
    if (error instanceof AuthError) askForKey(error.message);
    else if (error instanceof ApiError) showError(error.message);
    else showError(`Could not reach moodwire: ${error.message}`);
  }

  // -- overview ----------------------------------------------------------------------------------
  function sparkline(values, running) {
    const width = 170, height = 28;
    const all = values.concat(running.map((r) => r.count));
    const top = Math.max(1, ...all);
    const step = width / Math.max(1, all.length - 1);
    const point = (value, i) => `${(i * step).toFixed(1)},${(height - 2 - (value / top) * (height - 4)).toFixed(1)}`;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `hourly mentions, peak ${top}`);
    const line = (points, dashed) => {
      const node = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      node.setAttribute("points", points.join(" "));
      node.setAttribute("fill", "none");
      node.setAttribute("stroke", "#1f4e79");
      node.setAttribute("stroke-width", "1.2");
      if (dashed) node.setAttribute("stroke-dasharray", "3 2");
      svg.append(node);
    };
    line(values.map(point), false);
    if (running.length) {
      const start = values.length - 1;
      line(all.slice(start).map((v, i) => point(v, start + i)), true); // the running hour, partial
    }
    return svg;
  }

  function sortValue(row, key) {
    if (key === "spike") return row.spike ? row.spike.severity : -1;
    if (key === "emotion_above_baseline") return row.emotion_above_baseline ? row.emotion_above_baseline.label : -Infinity;
    const value = row[key];
    return value === null || value === undefined ? -Infinity : value;
  }

  /** The overview's emotion cell: the emotion most above its own usual share, by how much. */
  function emotionAbove(move) {
    if (!move) return "–";
    const points = Math.round(100 * (move.share - move.baseline_share));
    return el("span", { title: `${Math.round(100 * move.share)} % of the last 24 h against ${Math.round(100 * move.baseline_share)} % in the week before` },
      `${move.label} +${points} pts`);
  }

  function renderOverview() {
    const data = state.overview;
    const rows = [...data.topics];
    const { key, dir } = state.sort;
    rows.sort((a, b) => {
      const x = sortValue(a, key), y = sortValue(b, key);
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.key < b.key ? -1 : 1;
    });
    for (const th of document.querySelectorAll("#overview-table th[data-sort]")) {
      th.setAttribute("aria-sort", th.dataset.sort === key ? (dir > 0 ? "ascending" : "descending") : "none");
    }
    const anyMentions = rows.some((r) => r.volume_7d > 0 || r.running.length);
    const empty = $("overview-empty");
    empty.replaceChildren();
    if (!rows.length || !anyMentions) {
      empty.append(
        el("p", {}, rows.length ? "No mentions yet." : "No topics yet."),
        el("p", {}, "Send some with ", el("code", {}, 'POST v1/classify {"items": [{"text": "..."}], "persist": true}'),
          ", or load stored history with ", el("code", {}, "moodwire backfill FILE"), "; topics come from configs/topics.yaml."),
      );
    }
    empty.hidden = rows.length > 0 && anyMentions;
    $("overview-table").hidden = !rows.length;
    $("overview-table").querySelector("tbody").replaceChildren(...rows.map((row) => el("tr", { "data-topic": row.key },
      el("td", {}, el("a", { href: topicHash(row.key, {}) }, row.key)),
      el("td", { className: "num", "data-field": "volume_24h" }, number.format(row.volume_24h)),
      el("td", { className: "num", "data-field": "volume_7d" }, number.format(row.volume_7d)),
      el("td", {}, sparkline(row.sparkline, row.running)),
      el("td", { className: "num" }, fmtSigned(row.net_sentiment)),
      el("td", { "data-field": "emotion_above_baseline" }, emotionAbove(row.emotion_above_baseline)),
      el("td", { className: `num ${row.change > 0.5 ? "up" : row.change < -0.5 ? "down" : ""}`, title: row.expected_24h === null ? "no baseline yet" : `expected ${row.expected_24h}` }, fmtChange(row.change)),
      el("td", {}, row.spike
        ? el("a", { href: topicHash(row.key, { bucket: row.spike.bucket_start }), title: `${row.spike.count} spike(s); highest: ${row.spike.kind} at ${fmtTime(row.spike.bucket_start)}` },
          el("span", { className: `badge ${row.spike.severity < 5 ? "low" : ""}` }, row.spike.severity), ` ${row.spike.kind}`)
        : "–"),
    )));
  }

  async function showOverview() {
    state.overview = await getJSON("v1/overview");
    renderOverview();
  }

  for (const th of document.querySelectorAll("#overview-table th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.sort;
      state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : (key === "key" || key === "emotion_above_baseline" ? 1 : -1) };
      if (state.overview) renderOverview();
    });
  }

  // -- topic view --------------------------------------------------------------------------------
  const seconds = (iso) => new Date(iso).getTime() / 1000;

  function chartWidth() {
    return Math.max(320, $("topic-view").clientWidth - 12);
  }

  function volumeChart(timeline, onPick) {
    const b = timeline.buckets;
    const xs = b.map((x) => seconds(x.start));
    const complete = b.map((x) => (x.complete ? x.count : null));
    const lastComplete = complete.map((v) => v !== null).lastIndexOf(true);
    const running = b.map((x, i) => (!x.complete || (i === lastComplete && lastComplete < b.length - 1) ? x.count : null));
    const spikeStarts = timeline.spikes.map((s) => seconds(s.bucket_start));
    const ends = xs.slice(1).concat([seconds(timeline.until)]);
    const spiked = b.map((x, i) => (spikeStarts.some((t) => t >= xs[i] && t < ends[i]) ? x.count : null));
    const data = [xs, b.map((x) => x.expected_low), b.map((x) => x.expected_high), b.map((x) => x.expected), complete, running, spiked];
    const options = {
      width: chartWidth(),
      height: 240,
      scales: { x: { time: true } },
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      series: [
        {},
        { label: "expected low", stroke: "rgba(0,0,0,0)", points: { show: false } },
        { label: "expected high", stroke: "rgba(0,0,0,0)", points: { show: false } },
        { label: "expected", stroke: "#7f8c8d", dash: [6, 4], width: 1.5, points: { show: false } },
        { label: "mentions", stroke: "#1f4e79", width: 2, points: { show: false } },
        { label: "running (partial)", stroke: "#1f4e79", dash: [4, 4], width: 2, points: { show: false } },
        { label: "spike", stroke: "#c0392b", fill: "#c0392b", paths: () => null, points: { show: true, size: 11, fill: "#c0392b", stroke: "#c0392b" } },
      ],
      bands: [{ series: [2, 1], fill: "rgba(127,140,141,0.22)" }],
      axes: [{}, { label: "mentions" }],
      hooks: { ready: [(u) => u.over.addEventListener("click", () => { if (u.cursor.idx !== null && u.cursor.idx !== undefined) onPick(u.cursor.idx); })] },
    };
    return new uPlot(options, data, $("volume-chart"));
  }

  function colourOf(label, i) {
    return EMOTION_COLOURS[label] || PALETTE[i % PALETTE.length];
  }

  /** Buckets pooled until each group holds at least MIN_MIX mentions: a share of 3 mentions
   *  swings from 0 to 100 % and says nothing. Each bucket gets its group's pooled share (the
   *  groups' estimates weighted by their counts) and standard error; a trailing group still
   *  under MIN_MIX gets null (drawn grey as "too few mentions"). */
  function pooledShares(buckets, field) {
    const out = new Array(buckets.length).fill(null);
    let group = [];
    let total = 0;
    const flush = () => {
      const labels = [...new Set(group.flatMap((i) => Object.keys(buckets[i][field] || {})))];
      const share = {}, se = {};
      for (const label of labels) {
        let sum = 0, variance = 0;
        for (const i of group) {
          const x = buckets[i];
          sum += x.count * ((x[field] || {})[label] || 0);
          const e = ((x[`${field}_se`] || {})[label]);
          variance += (x.count * (e === undefined || e === null ? 0.5 : e)) ** 2;
        }
        share[label] = sum / total;
        se[label] = Math.sqrt(variance) / total;
      }
      for (const i of group) out[i] = { share, se, mentions: total, pooled: group.length };
    };
    buckets.forEach((x, i) => {
      if (!x.count) return;
      group.push(i);
      total += x.count;
      if (total >= MIN_MIX) { flush(); group = []; total = 0; }
    });
    return out;
  }

  const fmtShare = (share, se) => `${Math.round(100 * share)} %${se === undefined ? "" : ` ± ${Math.max(1, Math.round(196 * se))}`}`;

  function emotionChart(timeline, onPick) {
    const b = timeline.buckets;
    const pooled = pooledShares(b, "emotion_share");
    const labels = [...new Set(b.flatMap((x) => Object.keys(x.emotion_share || {})))].sort();
    const xs = b.map((x) => seconds(x.start));
    const running = new Array(b.length).fill(0);
    const stacked = labels.map((label) => b.map((x, i) => {
      if (!pooled[i]) return null;
      running[i] += pooled[i].share[label] || 0;
      return running[i];
    }));
    const thin = b.map((x, i) => (x.count && !pooled[i] ? 1 : null));
    const value = (label) => (u, v, s, idx) => {
      const p = idx === null || idx === undefined ? null : pooled[idx];
      return v === null || !p ? "–" : fmtShare(p.share[label] || 0, p.se[label]);
    };
    const series = [{}].concat(labels.map((label, i) => ({ label, stroke: colourOf(label, i), fill: i === 0 ? colourOf(label, i) : undefined, width: 1, points: { show: false }, value: value(label) })));
    series.push({ label: `fewer than ${MIN_MIX} mentions`, stroke: "#bdc3c7", fill: "rgba(189,195,199,0.6)", width: 0, points: { show: false }, value: (u, v) => (v === null ? "–" : "too few to say") });
    const bands = labels.slice(1).map((label, i) => ({ series: [i + 2, i + 1], fill: colourOf(label, i + 1) }));
    const options = {
      width: chartWidth(), height: 200, series, bands,
      scales: { x: { time: true }, y: { range: [0, 1] } },
      cursor: { drag: { x: false, y: false } },
      axes: [{}, { values: (u, ticks) => ticks.map((t) => `${Math.round(t * 100)} %`) }],
      hooks: { ready: [(u) => u.over.addEventListener("click", () => { if (u.cursor.idx !== null && u.cursor.idx !== undefined) onPick(u.cursor.idx); })] },
    };
    return new uPlot(options, [xs, ...stacked, thin], $("emotion-chart"));
  }

  function sentimentChart(timeline, onPick) {
    const b = timeline.buckets;
    const xs = b.map((x) => seconds(x.start));
    const pooled = pooledShares(b, "sentiment_share");
    const net = pooled.map((p) => (p ? (p.share.positive || 0) - (p.share.negative || 0) : null));
    // the two shares' errors, added as if independent (they are negatively correlated: a floor)
    const half = pooled.map((p) => (p ? 1.96 * Math.sqrt((p.se.positive || 0) ** 2 + (p.se.negative || 0) ** 2) : null));
    const low = net.map((v, i) => (v === null ? null : Math.max(-1, v - half[i])));
    const high = net.map((v, i) => (v === null ? null : Math.min(1, v + half[i])));
    const options = {
      width: chartWidth(), height: 160,
      scales: { x: { time: true }, y: { range: [-1, 1] } },
      cursor: { drag: { x: false, y: false } },
      series: [{},
        { label: "low", stroke: "rgba(0,0,0,0)", points: { show: false } },
        { label: "high", stroke: "rgba(0,0,0,0)", points: { show: false } },
        { label: "net sentiment", stroke: "#16a085", width: 2, points: { show: false }, spanGaps: false, value: (u, v, s, idx) => (v === null ? "–" : `${fmtSigned(v)} ± ${(half[idx] || 0).toFixed(2)}`) }],
      bands: [{ series: [2, 1], fill: "rgba(22,160,133,0.18)" }],
      hooks: { ready: [(u) => u.over.addEventListener("click", () => { if (u.cursor.idx !== null && u.cursor.idx !== undefined) onPick(u.cursor.idx); })] },
    };
    return new uPlot(options, [xs, low, high, net], $("sentiment-chart"));
  }

  function rangeFor(params) {
    const days = Number(params.range || $("range-select").value || 7);
    const now = Date.now();
    let until = null;
    let since = new Date(now - days * DAY_MS);
    if (params.bucket) {
      const bucket = new Date(params.bucket).getTime();
      if (!Number.isNaN(bucket) && bucket < since.getTime() + HOUR_MS) {
        since = new Date(bucket - Math.floor(days / 2) * DAY_MS - HOUR_MS);
        until = new Date(Math.min(now, bucket + Math.ceil(days / 2) * DAY_MS + HOUR_MS));
      }
    }
    return { days, since: since.toISOString(), until: until ? until.toISOString() : null };
  }

  /** Fetch the topic's timeline and draw its charts and spike list; the drill-down (and the
   *  analyst's place in it) is left alone, so the poll can call this too. */
  async function drawTopic(key, params) {
    const window = params.window === "day" ? "day" : "hour";
    const { since, until } = rangeFor(params);
    const timeline = await getJSON(`v1/topics/${encodeURIComponent(key)}/timeline`, { window, since, until, tz: TZ });
    state.topic = { key, params, timeline, window };
    for (const id of ["volume-chart", "emotion-chart", "sentiment-chart"]) $(id).replaceChildren();
    const hasData = timeline.buckets.some((x) => x.count > 0);
    const empty = $("topic-empty");
    empty.hidden = hasData;
    empty.textContent = hasData ? "" : "No mentions of this topic in this range. Pick a longer range, or send mentions that match it.";
    const pick = (i) => {
      location.hash = topicHash(key, { window, range: params.range, bucket: timeline.buckets[i].start });
    };
    if (hasData) {
      volumeChart(timeline, pick);
      emotionChart(timeline, pick);
      sentimentChart(timeline, pick);
    }
    $("spike-list").replaceChildren(...(timeline.spikes.length ? timeline.spikes.map((s) => el("li", {},
      el("button", { type: "button", "data-bucket": s.bucket_start, className: "spike", onclick: () => { location.hash = topicHash(key, { window, range: params.range, bucket: s.bucket_start }); } },
        `${fmtTime(s.bucket_start)} · ${s.kind} · severity ${s.severity} · ${s.observed} vs ${s.expected.toFixed(1)} expected`))) : [el("li", { className: "hint" }, "No spikes in this range.")]));
    return timeline;
  }

  async function showTopic(key, params) {
    const window = params.window === "day" ? "day" : "hour";
    $("window-select").value = window;
    if (params.range) $("range-select").value = params.range;
    $("tz-name").textContent = TZ;
    $("topic-title").textContent = key;
    const timeline = await drawTopic(key, params);
    if (params.bucket) await openDrill(key, params.bucket, window, timeline);
    else $("drill").hidden = true;
  }

  $("topic-controls").addEventListener("change", () => {
    if (!state.topic) return;
    location.hash = topicHash(state.topic.key, { window: $("window-select").value, range: $("range-select").value });
  });

  // -- drill-down --------------------------------------------------------------------------------
  function bucketEnd(start, window, timeline) {
    const index = timeline.buckets.findIndex((x) => x.start === start || seconds(x.start) === seconds(start));
    if (index >= 0 && index + 1 < timeline.buckets.length) return timeline.buckets[index + 1].start;
    if (index >= 0) return timeline.until;
    return new Date(new Date(start).getTime() + (window === "day" ? DAY_MS : HOUR_MS)).toISOString();
  }

  function drillFilters() {
    const d = state.drill;
    return {
      topic: d.key, since: d.since, until: d.until,
      emotion: $("filter-emotion").value, sentiment: $("filter-sentiment").value, source: $("filter-source").value.trim(),
    };
  }

  function explanationBlock(spike) {
    const e = spike.explanation || {};
    const moved = e.emotion_moved_most;
    return [
      el("p", {}, el("strong", {}, `Spike: ${spike.kind}, severity ${spike.severity}/10`),
        ` — ${spike.observed} mentions against ${spike.expected.toFixed(1)} expected (${spike.lift.toFixed(1)}×), p = ${spike.p_value.toExponential(1)}`),
      el("dl", {},
        el("dt", {}, "Top sources"),
        el("dd", {}, (e.top_sources || []).map((s) => `${s.source ?? "unknown"} (${s.count ?? s.mentions ?? ""})`).join(", ") || "–"),
        el("dt", {}, "Emotion that moved most"),
        el("dd", {}, moved ? `${moved.label}: ${Math.round(moved.share * 100)} % of mentions (estimated) against ${Math.round(moved.baseline_share * 100)} % usually` : "–"),
        el("dt", {}, "Top terms against the baseline"),
        el("dd", {}, (e.top_terms || []).map((t) => t.term).join(", ") || "–")),
    ];
  }

  async function openDrill(key, bucket, window, timeline) {
    const until = bucketEnd(bucket, window, timeline);
    state.drill = { key, since: new Date(bucket).toISOString(), until: new Date(until).toISOString(), cursor: null, bucket };
    $("drill").hidden = false;
    $("drill-title").textContent = `Mentions ${fmtTime(bucket)} – ${fmtTime(until)}`;
    const labels = [...new Set(timeline.buckets.flatMap((x) => Object.keys(x.emotions)))].sort();
    const select = $("filter-emotion");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "any"), ...labels.map((label) => el("option", { value: label }, label)));
    select.value = labels.includes(chosen) ? chosen : "";
    const explanation = $("explanation");
    explanation.hidden = true;
    explanation.replaceChildren();
    const inBucket = timeline.spikes.filter((s) => seconds(s.bucket_start) >= seconds(state.drill.since) && seconds(s.bucket_start) < seconds(state.drill.until));
    if (inBucket.length) {
      const answer = await getJSON("v1/spikes", { topic: key, since: state.drill.since, until: state.drill.until });
      const top = answer.spikes.sort((a, b) => b.severity - a.severity)[0];
      if (top) {
        explanation.replaceChildren(...explanationBlock(top));
        explanation.hidden = false;
      }
    }
    await loadMentions(true);
    $("drill").scrollIntoView({ block: "nearest" });
  }

  function mentionRow(m) {
    return el("tr", { "data-mention-id": m.id },
      el("td", {}, fmtTime(m.created_at)),
      el("td", {}, m.source || "–"),
      el("td", {}, m.language || "–"),
      el("td", {}, m.emotion.label || "–"),
      el("td", {}, `${m.sentiment.label || "–"}${m.sentiment.score === null || m.sentiment.score === undefined ? "" : ` (${fmtSigned(m.sentiment.score)})`}`),
      el("td", { className: "text" }, m.text === null ? "(text pruned)" : m.text));
  }

  async function loadMentions(fresh) {
    const d = state.drill;
    const answer = await getJSON("v1/mentions", { ...drillFilters(), limit: 50, cursor: fresh ? null : d.cursor });
    d.cursor = answer.next_cursor;
    const body = $("mention-table").querySelector("tbody");
    if (fresh) body.replaceChildren();
    body.append(...answer.items.map(mentionRow));
    const none = fresh && !answer.items.length;
    $("drill-empty").hidden = !none;
    $("drill-empty").textContent = none ? "No mention matches these filters in this bucket." : "";
    $("mention-table").hidden = none;
    $("more-button").hidden = !d.cursor;
  }

  $("drill-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    loadMentions(true).catch(handle);
  });
  $("more-button").addEventListener("click", () => loadMentions(false).catch(handle));

  /** The whole filtered selection as CSV: fetched with the Bearer header, saved as a file. */
  async function exportCsv() {
    const response = await api("v1/mentions", { ...drillFilters(), format: "csv" });
    const blob = await response.blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: `moodwire-${state.drill.key}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    if (response.headers.get("X-Truncated") === "true") showError("The export stopped at max_export_rows; narrow the filters for the rest.");
  }
  $("export-button").addEventListener("click", () => exportCsv().catch(handle));

  // -- alerts ------------------------------------------------------------------------------------
  async function showAlerts() {
    const answer = await getJSON("v1/alerts", { limit: 200 });
    const empty = $("alerts-empty");
    empty.hidden = answer.alerts.length > 0;
    empty.replaceChildren(el("p", {}, "No alerts yet. The AlertWatcher sends spikes to the targets in ",
      el("code", {}, "configs/alerts.yaml"), "; tune detection first with ", el("code", {}, "moodwire spikes --backtest --days 60"), "."));
    $("alerts-table").hidden = !answer.alerts.length;
    $("alerts-table").querySelector("tbody").replaceChildren(...answer.alerts.map((a) => el("tr", {},
      el("td", {}, fmtTime(a.bucket_start)),
      el("td", {}, el("a", { href: topicHash(a.topic, { bucket: a.bucket_start }) }, a.topic)),
      el("td", {}, a.kind),
      el("td", { className: "num" }, a.severity),
      el("td", { className: `state-${a.state}` }, a.state),
      el("td", {}, a.deliveries.map((d) => `${d.target}: ${d.state}${d.attempts ? ` after ${d.attempts} attempt(s)` : ""}${d.last_error ? ` (${d.last_error})` : ""}`).join("; ") || "–"),
    )));
  }

  // -- start -------------------------------------------------------------------------------------
  async function start() {
    try {
      const config = await (await fetch(new URL("page-config.json", ROOT))).json();
      state.authRequired = Boolean(config.auth_required);
    } catch (_) {
      state.authRequired = false;
    }
    $("change-key").hidden = !state.authRequired;
    window.addEventListener("hashchange", route);
    if (state.authRequired && !sessionStorage.getItem(KEY_STORE)) {
      askForKey("missing");
      return;
    }
    await route();
  }

  setInterval(() => {
    if (!$("key-panel").hidden) return;
    const { path, params } = parseHash();
    const refresh = path.startsWith("/topic/") && state.topic
      ? drawTopic(state.topic.key, params) // charts only: the drill-down list and its pages stay
      : route();
    Promise.resolve(refresh).then(() => setStatus(`Updated ${clockFormat.format(new Date())}`)).catch(handle);
  }, POLL_MS);

  start();
})();
