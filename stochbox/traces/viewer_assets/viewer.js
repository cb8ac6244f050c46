// stochbox trace viewer: pages of episodes, lazily parsed event chunks. No dependencies, no network.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const readJSON = (id) => JSON.parse($(id).textContent);
  const meta = readJSON("sb-meta");
  const episodes = readJSON("sb-episodes"); // [id, scenario, mode, model, index, status, samples, flags, first, count, reason]
  const chunks = new Map(); // chunk index -> parsed events; parsed on first use only
  const PAGE = meta.page_size, TIMELINE_PAGE = 200;
  const state = { filtered: [], page: 0, episode: null, shown: 0 };

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const pre = (text, cls) => text === undefined || text === null || text === "" ? "" : `<pre${cls ? ` class="${cls}"` : ""}>${esc(text)}</pre>`;
  const json = (v) => JSON.stringify(v, null, 1);

  function chunk(i) {
    if (!chunks.has(i)) chunks.set(i, readJSON("sb-chunk-" + i));
    return chunks.get(i);
  }
  function eventAt(k) {
    return chunk(Math.floor(k / meta.chunk_size))[k % meta.chunk_size];
  }

  // ---- header -----------------------------------------------------------------------------
  function header() {
    $("run-id").textContent = meta.run_id || "";
    const flagged = episodes.reduce((n, e) => n + (e[7].length ? 1 : 0), 0);
    let html = `<b id="n-episodes">${episodes.length}</b> episodes · <b id="n-events">${meta.n_events}</b> events · <b id="n-flagged">${flagged}</b> flagged`;
    const counts = Object.entries(meta.flag_counts);
    if (counts.length) {
      html += "<br>" + counts.map(([f, c]) => `<span class="flagcount"><span class="flag">${esc(f)}</span> ${c[0]} (${c[1]} episodes)</span>`).join("");
    }
    $("counts").innerHTML = html;
    const start = meta.run_events.find((e) => e[0] === "run_start");
    const end = meta.run_events.find((e) => e[0] === "run_end");
    const parts = [];
    if (start) {
      const sb = start[2].sandbox || {};
      parts.push(`sandbox ${esc(sb.backend || "?")}${start[2].unconfined ? " <b>(unconfined)</b>" : ""}`, `started ${esc(start[1])}`);
    }
    if (end) parts.push(`run ${esc(end[2].status)}`);
    meta.run_flags.forEach((f) => parts.push(`<span class="flag">${esc(f[0])}</span> ${esc(f[1])}`));
    $("run-info").innerHTML = parts.join(" · ");
  }

  // ---- filters and the episode list -------------------------------------------------------
  const selects = { scenario: [1, meta.scenarios], mode: [2, meta.modes], model: [3, meta.models], status: [5, meta.statuses] };
  function fillSelect(el, values, counts) {
    el.innerHTML = `<option value="">all</option>` + values.map((v, i) => `<option value="${i}">${esc(v)}${counts ? ` (${counts[i] || 0})` : ""}</option>`).join("");
  }
  function setupFilters() {
    for (const [name, [col, values]] of Object.entries(selects)) {
      const counts = new Array(values.length).fill(0);
      episodes.forEach((e) => counts[e[col]]++);
      fillSelect($("f-" + name), values, counts);
    }
    const flagEpisodes = meta.flags.map((_, i) => episodes.filter((e) => e[7].some((f) => f[0] === i)).length);
    $("f-flag").innerHTML = `<option value="">all</option><option value="any">any flag</option><option value="none">no flag</option>` +
      meta.flags.map((f, i) => flagEpisodes[i] ? `<option value="${i}">${esc(f)} (${flagEpisodes[i]})</option>` : "").join("");
    for (const id of ["f-scenario", "f-mode", "f-model", "f-status", "f-flag"]) $(id).addEventListener("change", () => { state.page = 0; applyFilters(); });
    $("f-text").addEventListener("input", () => { state.page = 0; applyFilters(); });
    $("prev").addEventListener("click", () => { if (state.page > 0) { state.page--; renderList(); } });
    $("next").addEventListener("click", () => { if ((state.page + 1) * PAGE < state.filtered.length) { state.page++; renderList(); } });
  }
  function applyFilters() {
    const want = {};
    for (const [name, [col]] of Object.entries(selects)) { const v = $("f-" + name).value; if (v !== "") want[col] = +v; }
    const flag = $("f-flag").value, text = $("f-text").value.trim();
    const out = [];
    for (let i = 0; i < episodes.length; i++) {
      const e = episodes[i];
      let ok = true;
      for (const col in want) if (e[col] !== want[col]) { ok = false; break; }
      if (!ok) continue;
      if (flag === "any" && !e[7].length) continue;
      if (flag === "none" && e[7].length) continue;
      if (flag !== "" && flag !== "any" && flag !== "none" && !e[7].some((f) => f[0] === +flag)) continue;
      if (text && e[0].indexOf(text) < 0) continue;
      out.push(i);
    }
    state.filtered = out;
    renderList();
  }
  function renderList() {
    const from = state.page * PAGE, to = Math.min(from + PAGE, state.filtered.length);
    const rows = [];
    for (let k = from; k < to; k++) {
      const e = episodes[state.filtered[k]];
      const flags = [...new Set(e[7].map((f) => meta.flags[f[0]]))].map((f) => `<span class="flag">${esc(f)}</span>`).join("");
      const status = meta.statuses[e[5]];
      rows.push(`<tr data-i="${state.filtered[k]}"><td>${esc(e[0])}</td><td>${esc(meta.scenarios[e[1]])}</td><td>${esc(meta.modes[e[2]])}</td>` +
        `<td>${esc(meta.models[e[3]])}</td><td>${e[4] == null ? "" : e[4]}</td><td class="status-${esc(status)}">${esc(status)}</td>` +
        `<td class="samples" title="${esc(e[6])}">${esc(e[6])}</td><td>${e[9]}</td><td>${flags}</td></tr>`);
    }
    $("episode-rows").innerHTML = rows.join("");
    $("page-info").innerHTML = state.filtered.length
      ? `episodes <b id="shown-from">${from + 1}</b>–<b id="shown-to">${to}</b> of <b id="n-filtered">${state.filtered.length}</b>`
      : `no episode matches (<b id="n-filtered">0</b>)`;
  }

  // ---- one episode as a timeline ----------------------------------------------------------
  function eventBody(name, p) {
    switch (name) {
      case "model_request":
        return `<div class="kv">${p.n_messages} messages, tools: ${esc((p.tools || []).join(", ") || "none")}</div>` +
          p.new_messages.map((m) => `<div class="role">${esc(m[0])}</div>${pre(m[1])}${m[2].length ? pre(json(m[2])) : ""}`).join("");
      case "model_response": {
        const calls = (p.tool_calls || []).map((c) => `${c.name}(${JSON.stringify(c.args)})`).join("\n");
        const u = p.usage || {};
        return `<div class="kv">${p.latency_s != null ? (+p.latency_s).toFixed(3) + " s" : ""} ${u.input_tokens != null ? `· ${u.input_tokens} in / ${u.output_tokens} out tokens` : ""}</div>` +
          (p.reasoning ? `<div class="role">reasoning</div>` + pre(p.reasoning, "reasoning") : "") +
          pre(typeof p.content === "string" ? p.content : json(p.content)) + pre(calls);
      }
      case "tool_call": {
        const code = p.args && typeof p.args.code === "string" ? p.args.code : null;
        return `<div class="kv">${esc(p.tool)} [${esc(p.call_id)}]</div>` + (code !== null ? pre(code, "code") : pre(json(p.args)));
      }
      case "sandbox_exec": {
        const st = p.timed_out ? "timed out" : `exit ${p.exit_code}`;
        return `<div class="kv">${esc(p.backend || "")} · seed ${esc(p.seed)} · ${st}${p.killed_reason ? " · killed: " + esc(p.killed_reason) : ""}` +
          `${p.truncated ? " · truncated" : ""} · ${(+p.duration_s || 0).toFixed(3)} s</div>` +
          pre(p.stdout || "(no stdout)") + pre(p.stderr, "err") + (p.sandbox_error ? pre("sandbox error: " + p.sandbox_error, "err") : "");
      }
      case "tool_result":
        return `<div class="kv">${esc(p.tool)} ${p.ok ? "ok" : "error"}</div>` + pre(p.ok ? p.output : p.error, p.ok ? "" : "err");
      case "parse":
        return `<div class="kv">${esc(p.source)} · ${esc(p.strategy)} · ${p.ok ? "ok" : "failed: " + esc(p.reason)}</div>` + pre(json(p.value));
      case "sample_submitted":
        return pre(json(p.samples));
      default:
        return pre(json(p));
    }
  }
  function openEpisode(i) {
    const e = episodes[i];
    state.episode = i;
    state.shown = 0;
    $("list-view").hidden = true;
    $("episode-view").hidden = false;
    const flags = e[7].map((f) => `<div><span class="flag">${esc(meta.flags[f[0]])}</span> <a href="" class="to-step" data-step="${f[1]}">step ${f[1]}</a>: ${esc(f[2])}</div>`).join("");
    $("episode-head").innerHTML = `<h2 id="episode-title">${esc(e[0])}</h2><div class="kv">scenario ${esc(meta.scenarios[e[1]])} · ${esc(meta.modes[e[2]])} mode · ` +
      `model ${esc(meta.models[e[3]])} · index ${e[4]} · <span class="status-${esc(meta.statuses[e[5]])}">${esc(meta.statuses[e[5]])}</span>` +
      `${e[10] ? " (" + esc(e[10]) + ")" : ""} · <b id="episode-events">${e[9]}</b> events</div><div>samples ${pre(e[6])}</div>${flags}`;
    $("timeline").innerHTML = "";
    moreEvents();
    window.scrollTo(0, 0);
  }
  function moreEvents() {
    const e = episodes[state.episode];
    const flaggedSteps = new Set(e[7].map((f) => f[1]));
    const to = Math.min(state.shown + TIMELINE_PAGE, e[9]);
    const items = [];
    for (let k = state.shown; k < to; k++) {
      const [step, code, ts, p] = eventAt(e[8] + k);
      const name = meta.event_names[code];
      items.push(`<li class="ev ev-${esc(name)}${flaggedSteps.has(step) ? " flagged" : ""}" id="step-${step}"><h3><span class="step">step ${step} · ${esc(ts)}</span>${esc(name)}</h3>${eventBody(name, p)}</li>`);
    }
    $("timeline").insertAdjacentHTML("beforeend", items.join(""));
    state.shown = to;
    $("more").hidden = to >= e[9];
  }
  function showList() {
    state.episode = null;
    $("episode-view").hidden = true;
    $("list-view").hidden = false;
  }

  // ---- routing: #ep=<id> opens an episode, #flag=..&model=.. presets filters ---------------
  function route() {
    const params = new URLSearchParams(location.hash.slice(1));
    for (const [name, [, values]] of Object.entries(selects)) {
      const v = params.get(name);
      if (v !== null && values.indexOf(v) >= 0) $("f-" + name).value = String(values.indexOf(v));
    }
    const flag = params.get("flag");
    if (flag !== null) $("f-flag").value = meta.flags.indexOf(flag) >= 0 ? String(meta.flags.indexOf(flag)) : flag;
    applyFilters(); // the list is always rendered, hidden while an episode is open
    const id = params.get("ep");
    const i = id === null ? -1 : episodes.findIndex((e) => e[0] === id);
    if (i >= 0) openEpisode(i);
    else showList();
  }

  header();
  setupFilters();
  $("episode-rows").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (tr) location.hash = "ep=" + encodeURIComponent(episodes[+tr.dataset.i][0]);
  });
  $("back").addEventListener("click", (ev) => { ev.preventDefault(); history.pushState("", document.title, location.pathname); route(); });
  $("more").addEventListener("click", moreEvents);
  $("episode-head").addEventListener("click", (ev) => { // a flag's step: show that event (paging on if needed)
    const a = ev.target.closest("a.to-step");
    if (!a) return;
    ev.preventDefault();
    let target = document.getElementById("step-" + a.dataset.step);
    while (!target && !$("more").hidden) { moreEvents(); target = document.getElementById("step-" + a.dataset.step); }
    if (target) target.scrollIntoView({ block: "start" });
  });
  window.addEventListener("hashchange", route);
  route();
  const ms = performance.now();
  $("render-ms").textContent = ms.toFixed(0);
  document.body.dataset.renderMs = ms.toFixed(1);
})();
