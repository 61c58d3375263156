// snowmelt dashboard: the pipeline graph and per-table lag, refreshes, mode and SQL.
// Plain browser JavaScript and SVG, no dependencies, no build step. All data is inserted
// with textContent / setAttribute (never innerHTML), and the CSP forbids inline code.
"use strict";

(() => {
  const TOKEN_KEY = "snowmelt.token";
  const SELECTED_KEY = "snowmelt.selected";
  const POLL_MS = 2000;
  const SVGNS = "http://www.w3.org/2000/svg";
  const NODE_MIN_W = 236;
  const NODE_MAX_W = 300;
  const NODE_H = { dt: 104, base: 76 };
  const SLOT_H = 122;
  const HEADER_H = 40;
  const WINDOWS = [["auto", 0], ["15m", 900], ["1h", 3600], ["6h", 21600], ["24h", 86400]];
  const ACTIONS = ["INCREMENTAL", "FULL", "NO_DATA", "REINITIALIZE", "FAILED", "SKIPPED"];
  const REASONS = {
    QUERY_NOT_SUPPORTED_FOR_INCREMENTAL:
      "The query uses something the incremental compiler cannot maintain yet, so each refresh recomputes the whole result.",
    USER_SPECIFIED_FULL_REFRESH: "REFRESH_MODE = FULL was set explicitly on this table.",
    UPSTREAM_USES_FULL_REFRESH: "An upstream dynamic table refreshes fully, so this one does too.",
  };

  const state = {
    graph: null, detail: null, selected: sessionStorage.getItem(SELECTED_KEY),
    windowSec: null, lastEnds: new Map(), flowUntil: new Map(), timer: null,
    builtFor: null, codeText: new Map(), lastOk: null, busy: false, again: false,
  };

  // -- small DOM helpers ------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent, ...children) {
    for (const c of children) if (c) parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    return parent;
  }
  function svg(tag, attrs, parent) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }

  // -- formatting ----------------------------------------------------------------------------------
  function dur(sec) {
    if (sec === null || sec === undefined || Number.isNaN(sec)) return "—";
    const s = Math.abs(sec), sign = sec < 0 ? "-" : "";
    if (s < 10) return `${sign}${s.toFixed(1)}s`;
    if (s < 60) return `${sign}${Math.round(s)}s`;
    if (s < 3600) return `${sign}${Math.floor(s / 60)}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
    if (s < 86400) return `${sign}${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
    return `${sign}${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }
  function shortLag(sec) {
    if (!sec) return "—";
    for (const [u, n] of [["d", 86400], ["h", 3600], ["m", 60]]) if (sec % n === 0) return `${sec / n}${u}`;
    return `${sec}s`;
  }
  const ms = (v) => (v === null || v === undefined ? "—" : v < 1000 ? `${Math.round(v)} ms` : dur(v / 1000));
  const num = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"));
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }) : "—");
  const ts = (iso) => (iso ? new Date(iso).getTime() : null);

  function nodeStatus(n) {
    if (n.kind === "TABLE") return "base";
    if (n.kind === "VIEW") return "view";
    if (n.health === "SUSPENDED") return "suspended";
    if (n.health === "FAILING") return "failing";
    if (n.health === "OVER_LAG" || n.freshness === "OVER_TARGET") return "over";
    if (n.freshness === "NEAR_TARGET") return "near";
    if (n.freshness === "FRESH" || n.freshness === "NO_TARGET") return "fresh";
    return "idle";
  }
  const freshClass = (n) => ({ FRESH: "fresh", NEAR_TARGET: "near", OVER_TARGET: "over" }[n.freshness] || "idle");

  // -- access token: from the URL fragment (never sent to the server) into this tab only ------------
  function takeToken() {
    const match = location.hash.match(/(?:^#|&)token=([^&]+)/);
    if (match) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }
  class AuthError extends Error {}

  async function api(path, options = {}) {
    const token = sessionStorage.getItem(TOKEN_KEY) || "";
    const response = await fetch(path, {
      ...options, cache: "no-store",
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
    if (response.status === 401 || response.status === 403) {
      throw new AuthError(response.status === 403 ? "That token is not valid for this server (it changes at every server start)." : "This server needs its access token.");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  function showLogin(message) {
    clearTimeout(state.timer);
    sessionStorage.removeItem(TOKEN_KEY);
    $("app").classList.add("hidden");
    $("login").classList.remove("hidden");
    const why = $("login-why");
    why.textContent = message;
    why.classList.toggle("error", message.startsWith("That token"));
    setLive("error", "not signed in");
    $("login-token").focus();
  }

  function setLive(kind, text) {
    $("live").dataset.state = kind;
    $("live-text").textContent = text;
  }

  // -- polling -------------------------------------------------------------------------------------------
  async function tick() {
    // one poll at a time: a tick asked for during another runs right after it
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    clearTimeout(state.timer);
    try {
      const graph = await api("/v1/graph");
      state.graph = graph;
      $("app").classList.remove("hidden");
      renderTop(graph);
      renderGraph(graph);
      const node = selectedNode();
      if (node && node.kind === "DYNAMIC TABLE") {
        state.detail = await api(`/v1/dynamic-tables/${encodeURIComponent(node.id)}/detail`);
      } else {
        state.detail = null;
      }
      renderDetail();
      state.lastOk = Date.now();
      setLive("live", `live · ${time(graph.generated_at)}`);
    } catch (err) {
      if (err instanceof AuthError) { showLogin(err.message); return; }
      setLive("error", `reconnecting… (${err.message})`);
    } finally {
      state.busy = false;
    }
    if (state.again) { state.again = false; tick(); return; }
    state.timer = setTimeout(tick, POLL_MS);
  }

  function selectedNode() {
    const nodes = state.graph ? state.graph.nodes : [];
    let node = nodes.find((n) => n.id === state.selected);
    if (!node) {  // default: the first table with a problem, else the last layer's first table
      const dts = nodes.filter((n) => n.kind === "DYNAMIC TABLE");
      node = dts.find((n) => n.health !== "HEALTHY") || dts[dts.length - 1] || nodes[0];
      if (node) state.selected = node.id;
    }
    return node;
  }

  function select(id) {
    if (state.selected === id) return;
    state.selected = id;
    sessionStorage.setItem(SELECTED_KEY, id);
    state.detail = null;
    state.builtFor = null;
    state.windowSec = null;
    for (const n of document.querySelectorAll(".node")) n.classList.toggle("selected", n.dataset.id === id);
    highlightEdges();
    renderDetail();
    tick();
  }

  // -- top bar -------------------------------------------------------------------------------------------
  function chip(cls, value, label, dot) {
    const c = el("span", `chip ${cls}`);
    if (dot) add(c, el("span", "d"));
    add(c, el("b", null, value), ` ${label}`);
    return c;
  }
  function renderTop(g) {
    const s = g.summary;
    const box = $("summary");
    box.replaceChildren();
    const ok = s.status === "HEALTHY";
    add(box, chip(ok ? "ok" : "bad", ok ? "Healthy" : "Unhealthy", "", true));
    add(box, chip("", s.dynamic_tables, s.dynamic_tables === 1 ? "dynamic table" : "dynamic tables"));
    add(box, chip("", s.base_tables, s.base_tables === 1 ? "base table" : "base tables"));
    if (s.failing) add(box, chip("bad", s.failing, "failing", true));
    if (s.suspended) add(box, chip("susp", s.suspended, "suspended", true));
    if (s.over_lag) add(box, chip("warn", s.over_lag, "over lag", true));
    $("source").textContent = g.source.target || "";
    const dbs = [...new Set(g.nodes.map((n) => n.database))];
    document.title = `${ok ? "" : "⚠ "}snowmelt · ${dbs.join(", ") || "pipeline"}`;
  }

  // -- the pipeline graph ----------------------------------------------------------------------------
  function nodeHeight(n) { return n.kind === "DYNAMIC TABLE" ? NODE_H.dt : NODE_H.base; }

  function positions(g, width) {
    const columns = g.columns.length || 1;
    const colW = Math.max(NODE_MIN_W + 76, Math.floor(width / columns));
    const nodeW = Math.max(NODE_MIN_W, Math.min(NODE_MAX_W, colW - 110));
    const perCol = new Map();
    for (const n of g.nodes) perCol.set(n.column, (perCol.get(n.column) || 0) + 1);
    const most = Math.max(1, ...perCol.values());
    const pos = new Map();
    for (const n of g.nodes) {
      const count = perCol.get(n.column);
      const offset = ((most - count) * SLOT_H) / 2;
      const x = n.column * colW + (colW - nodeW) / 2;
      const y = HEADER_H + offset + n.row * SLOT_H + (SLOT_H - nodeHeight(n)) / 2;
      pos.set(n.id, { x, y, h: nodeHeight(n) });
    }
    return { pos, colW, nodeW, width: colW * columns, height: HEADER_H + most * SLOT_H + 8, perCol, most };
  }

  function renderGraph(g) {
    const box = $("graph");
    const avail = box.parentElement.clientWidth - 16;
    const L = positions(g, avail);
    box.style.width = `${L.width}px`;
    box.style.height = `${L.height}px`;

    let edges = box.querySelector("svg.edges");
    if (!edges) {
      edges = svg("svg", { class: "edges" });
      box.appendChild(edges);
    }
    edges.setAttribute("width", L.width);
    edges.setAttribute("height", L.height);
    edges.replaceChildren();
    const defs = svg("defs", {}, edges);
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    svg("path", { d: "M0,1 L9,5 L0,9 z", class: "edge-head" }, marker);
    for (const c of g.columns) {
      const count = L.perCol.get(c.index) || 0;
      const top = HEADER_H - 8 + ((L.most - count) * SLOT_H) / 2;
      svg("rect", { class: "band", x: c.index * L.colW + (L.colW - L.nodeW) / 2 - 14, y: top, width: L.nodeW + 28, height: count * SLOT_H + 12, rx: 16 }, edges);
    }
    const now = Date.now();
    for (const e of g.edges) {
      const a = L.pos.get(e.source), b = L.pos.get(e.target);
      if (!a || !b) continue;
      const x1 = a.x + L.nodeW, y1 = a.y + a.h / 2, x2 = b.x - 3, y2 = b.y + b.h / 2;
      const dx = Math.max(40, (x2 - x1) / 2);
      const target = g.nodes.find((n) => n.id === e.target);
      const cls = ["edge"];
      if ((state.flowUntil.get(e.target) || 0) > now) cls.push("flow");
      if (target && (target.health === "FAILING")) cls.push("bad");
      const p = svg("path", { d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`, class: cls.join(" "), "marker-end": "url(#arrow)" }, edges);
      p.dataset.source = e.source;
      p.dataset.target = e.target;
    }

    // column titles
    for (const t of box.querySelectorAll(".col-title")) t.remove();
    for (const c of g.columns) {
      const count = L.perCol.get(c.index) || 0;
      const title = el("div", "col-title");
      title.dataset.layer = c.layer;
      add(title, el("span", "medal"), el("span", null, c.layer), el("span", "count", `${count} ${count === 1 ? "table" : "tables"}`));
      title.style.left = `${c.index * L.colW + (L.colW - L.nodeW) / 2}px`;
      title.style.top = `${((L.most - count) * SLOT_H) / 2 + 2}px`;
      box.appendChild(title);
    }

    // nodes, keyed by id so hover and focus survive each poll
    const seen = new Set();
    for (const n of g.nodes) {
      seen.add(n.id);
      let node = box.querySelector(`.node[data-id="${CSS.escape(n.id)}"]`);
      if (!node) {
        node = el("div", "node");
        node.dataset.id = n.id;
        node.tabIndex = 0;
        node.setAttribute("role", "button");
        node.addEventListener("click", () => select(n.id));
        node.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(n.id); } });
        node.addEventListener("mouseenter", () => highlightEdges(n.id));
        node.addEventListener("mouseleave", () => highlightEdges());
        node.addEventListener("animationend", () => node.classList.remove("flash"));
        box.appendChild(node);
      }
      const p = L.pos.get(n.id);
      node.style.left = `${p.x}px`;
      node.style.top = `${p.y}px`;
      node.style.height = `${p.h}px`;
      node.style.width = `${L.nodeW}px`;
      node.dataset.status = nodeStatus(n);
      node.dataset.health = n.health || "";
      node.dataset.kind = n.kind;
      node.dataset.rows = n.rows === null || n.rows === undefined ? "" : String(n.rows);
      node.classList.toggle("selected", n.id === state.selected);
      const end = n.last_refresh ? n.last_refresh.end_time : null;
      node.dataset.lastRefresh = end || "";
      const before = state.lastEnds.get(n.id);
      if (before !== undefined && end && before !== end) {
        node.classList.remove("flash");
        void node.offsetWidth;  // restart the animation
        node.classList.add("flash");
        state.flowUntil.set(n.id, Date.now() + 2600);
      }
      state.lastEnds.set(n.id, end);
      node.replaceChildren(...nodeContent(n));
    }
    for (const node of box.querySelectorAll(".node")) if (!seen.has(node.dataset.id)) node.remove();
    highlightEdges();
  }

  function nodeContent(n) {
    const top = el("div", "n-top");
    const name = el("span", "n-name", n.name);
    name.title = n.qualified_name;
    add(top, el("span", "n-dot"), name);
    const parts = [top];
    const sub = el("div", "n-sub");
    parts.push(sub);
    if (n.kind !== "DYNAMIC TABLE") {
      const kind = n.kind === "VIEW" ? "VIEW" : "BASE";
      add(sub, el("span", "n-subtext", `${n.schema} · ${n.rows === null || n.rows === undefined ? "view" : `${num(n.rows)} rows`}`), el("span", `badge ${kind}`, kind));
      const readers = (n.consumers || []).length;
      parts.push(el("div", "n-last", readers ? `→ read by ${readers} dynamic table${readers === 1 ? "" : "s"}` : "not read by any dynamic table"));
      return parts;
    }
    add(sub, el("span", "n-subtext", `${n.schema} · ${num(n.rows)} rows`));
    if (n.state === "SUSPENDED") add(sub, el("span", "badge state", "SUSPENDED"));
    else add(sub, el("span", `badge ${n.refresh_mode}`, n.refresh_mode));
    const lag = el("div", "n-lag");
    if (n.target_lag_sec && n.lag_ratio !== null) {
      const bar = el("div", "bar");
      const fill = el("i");
      fill.style.width = `${Math.min(100, (Math.min(n.lag_ratio, 1.25) / 1.25) * 100)}%`;
      const mark = el("b");
      mark.style.left = "80%";
      add(bar, fill, mark);
      add(lag, bar);
      const text = el("span", "n-lagtext", dur(n.current_lag_sec));
      add(text, el("span", null, ` / ${shortLag(n.target_lag_sec)}`));
      add(lag, text);
    } else {
      const text = el("span", "n-lagtext", `lag ${dur(n.current_lag_sec)}`);
      add(text, el("span", null, ` · ${n.target_lag_type === "DOWNSTREAM" ? "DOWNSTREAM" : "no target"}`));
      add(lag, text);
    }
    parts.push(lag);
    if (n.problems && n.problems.length) {
      const line = el("div", "n-problem", shortProblem(n));
      line.title = n.problems.join("\n");
      parts.push(line);
    } else if (n.last_refresh) {
      const r = n.last_refresh;
      const last = el("div", "n-last");
      add(last, el("span", `act ${r.state === "SUCCEEDED" ? r.action : r.state}`, r.state === "SUCCEEDED" ? r.action : r.state),
        ` · ${time(r.end_time)} · ${ms(r.duration_ms)}`);
      if (r.rows_inserted !== null || r.rows_deleted !== null) {
        add(last, " · ", el("span", "ins", `+${num(r.rows_inserted || 0)}`), " ", el("span", "del", `−${num(r.rows_deleted || 0)}`));
      }
      parts.push(last);
    } else {
      parts.push(el("div", "n-last", "not refreshed yet"));
    }
    return parts;
  }

  function shortProblem(n) {
    if (n.state === "SUSPENDED") {
      const code = n.state_reason_code || "";
      if (code.startsWith("UPSTREAM")) return "suspended: upstream is suspended";
      if (code.includes("ERRORS")) return "suspended after repeated errors";
      return "suspended by user";
    }
    if (n.health === "FAILING") return `${n.last_completed_refresh_state}: ${n.last_completed_refresh_message || "refresh failed"}`;
    if (n.health === "OVER_LAG") return n.current_lag_sec === null ? "not refreshed yet" : `${dur(n.current_lag_sec - n.target_lag_sec)} over target`;
    return n.problems[0];
  }

  function highlightEdges(hovered) {
    const focus = hovered || state.selected;
    for (const p of document.querySelectorAll("#graph path.edge")) {
      p.classList.toggle("hot", p.dataset.source === focus || p.dataset.target === focus);
    }
  }

  // -- the detail panel ------------------------------------------------------------------------------
  function renderDetail() {
    const node = selectedNode();
    const box = $("detail");
    if (!node) { box.replaceChildren(el("div", "empty", "No tables yet: create some, or run `snowmelt demo`.")); state.builtFor = null; return; }
    if (node.kind !== "DYNAMIC TABLE") { renderSource(box, node); state.builtFor = null; return; }
    if (!state.detail || state.detail.table.qualified_name !== node.id) {
      if (state.builtFor !== node.id) box.replaceChildren(el("div", "empty", `Loading ${node.name}…`));
      return;
    }
    if (state.builtFor !== node.id) buildDetail(box, node);
    updateDetail(state.detail);
  }

  function renderSource(box, n) {
    box.replaceChildren();
    const head = el("div", "d-head");
    const title = el("div", "d-title");
    const h1 = el("h1", null, n.name);
    add(h1, el("span", "pill", n.kind === "VIEW" ? "VIEW" : "BASE TABLE"));
    add(title, h1, el("div", "qn", n.qualified_name));
    if (n.comment) add(title, el("div", "comment", n.comment));
    add(head, title);
    const kpis = el("div", "kpis");
    add(kpis, kpi("Rows", num(n.rows), "rows now"), kpi("Layer", n.layer, n.schema),
      kpi("Read by", String((n.consumers || []).length), "dynamic tables"));
    const readers = el("div", "section");
    add(readers, el("div", "section-title", "Read by"), links(n.consumers || []));
    add(box, head, kpis, readers);
  }

  function kpi(label, value, sub, cls) {
    const k = el("div", "kpi");
    const s = el("div", "s", sub || "");
    s.title = sub || "";
    add(k, el("div", "k", label), el("div", `v ${cls || ""}`, value), s);
    return k;
  }

  function links(names) {
    const box = el("div", "links");
    if (!names.length) add(box, el("span", "note", "none"));
    for (const name of names) {
      const b = el("button", "link", name.split(".").slice(1).join("."));
      b.type = "button";
      b.title = name;
      b.addEventListener("click", () => select(name));
      add(box, b);
    }
    return box;
  }

  function buildDetail(box, n) {
    state.builtFor = n.id;
    state.codeText.clear();
    box.replaceChildren();
    const head = el("div", "d-head");
    const title = el("div", "d-title");
    const h1 = el("h1");
    h1.id = "d-name";
    add(title, h1, el("div", "qn", n.qualified_name));
    const comment = el("div", "comment");
    comment.id = "d-comment";
    add(title, comment);
    const actions = el("div", "actions");
    const refresh = el("button", "btn primary", "Refresh now");
    refresh.type = "button";
    refresh.id = "d-refresh";
    refresh.addEventListener("click", () => act("refresh", refresh));
    const toggle = el("button", "btn", "Suspend");
    toggle.type = "button";
    toggle.id = "d-toggle";
    toggle.addEventListener("click", () => act(toggle.dataset.action, toggle));
    add(actions, refresh, toggle);
    add(head, title, actions);

    const problems = el("div", "problems");
    problems.id = "d-problems";
    const kpis = el("div", "kpis");
    kpis.id = "d-kpis";

    const charts = el("div", "charts");
    const lag = el("div", "chart");
    const lagHead = el("div", "chart-head");
    add(lagHead, el("div", "section-title", "Lag vs target"), el("span", "note", "now − data timestamp"));
    const seg = el("div", "seg");
    seg.id = "d-window";
    for (const [label, sec] of WINDOWS) {
      const b = el("button", null, label);
      b.type = "button";
      b.dataset.sec = String(sec);
      b.title = sec ? `the last ${label}` : "fit the refreshes shown (up to a window suited to the target lag)";
      b.addEventListener("click", () => { state.windowSec = sec || null; updateDetail(state.detail); });
      seg.appendChild(b);
    }
    add(lagHead, seg);
    const lagSvg = svg("svg", { id: "d-lag", role: "img", "aria-label": "lag over time" });
    add(lag, lagHead, lagSvg);
    const tl = el("div", "chart");
    const tlHead = el("div", "chart-head");
    add(tlHead, el("div", "section-title", "Refresh timeline"), el("span", "note", "rows inserted ▲ / deleted ▼"));
    const tlSvg = svg("svg", { id: "d-timeline", role: "img", "aria-label": "refresh timeline" });
    const legend = el("div", "chart-legend");
    for (const a of ACTIONS) {
      const item = el("span");
      const sw = el("i", `tbar-sw`);
      sw.style.background = `var(--${{ INCREMENTAL: "incremental", FULL: "full", NO_DATA: "nodata", REINITIALIZE: "reinit", FAILED: "failing", SKIPPED: "skipped" }[a]})`;
      add(item, sw, a);
      legend.appendChild(item);
    }
    add(tl, tlHead, tlSvg, legend);
    add(charts, lag, tl);

    const history = el("div", "section");
    const hTitle = el("div", "section-title", "Recent refreshes");
    const hNote = el("span", "note");
    hNote.id = "d-history-note";
    add(hTitle, hNote);
    const table = el("table", "refreshes");
    table.id = "d-history";
    add(history, hTitle, table);

    const mode = el("div", "section");
    add(mode, el("div", "section-title", "Refresh mode and dependencies"));
    const dl = el("dl", "mode");
    dl.id = "d-mode";
    add(mode, dl);

    const code = el("div", "section");
    const grid = el("div", "code-grid");
    grid.id = "d-code";
    add(code, grid);
    add(box, head, problems, kpis, charts, history, mode, code);
  }

  async function act(action, button) {
    const node = selectedNode();
    if (!node) return;
    const quoted = [node.database, node.schema, node.name].map((p) => `"${p.replace(/"/g, '""')}"`).join(".");
    button.disabled = true;
    const label = button.textContent;
    button.textContent = action === "refresh" ? "Refreshing…" : `${action[0].toUpperCase()}${action.slice(1)}ing…`;
    try {
      await api(`/v1/dynamic-tables/${encodeURIComponent(quoted)}/${action}`, { method: "POST" });
    } catch (err) {
      if (err instanceof AuthError) { showLogin(err.message); return; }
      setLive("error", `${action} failed: ${err.message}`);
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
    tick();
  }

  function defaultWindow(target) {
    if (!target || target <= 60) return 900;
    if (target <= 600) return 3600;
    if (target <= 3600) return 21600;
    return 86400;
  }

  function updateDetail(d) {
    const t = d.table;
    const h1 = $("d-name");
    h1.replaceChildren(document.createTextNode(t.name));
    const pill = el("span", `pill ${t.health}`);
    add(pill, el("span", "d"), t.health === "HEALTHY" ? "HEALTHY" : t.health.replace("_", " "));
    add(h1, pill);
    if (t.state === "SUSPENDED" && t.health !== "SUSPENDED") add(h1, el("span", "pill SUSPENDED", "SUSPENDED"));
    $("d-comment").textContent = t.comment || "";
    const toggle = $("d-toggle");
    toggle.dataset.action = t.state === "SUSPENDED" ? "resume" : "suspend";
    if (!toggle.disabled) toggle.textContent = t.state === "SUSPENDED" ? "Resume" : "Suspend";

    const problems = $("d-problems");
    problems.replaceChildren(...t.problems.map((p) => el("div", `problem ${p.startsWith("suspended") ? "SUSPENDED" : p.startsWith("lag") || p.startsWith("not init") ? "OVER_LAG" : ""}`, p)));

    const r = t.last_refresh;
    const within = t.time_within_target_lag_ratio;
    $("d-kpis").replaceChildren(
      kpi("Current lag", dur(t.current_lag_sec), t.target_lag_sec ? `target ${t.target_lag}` : (t.target_lag || "no target"), freshClass(t)),
      kpi("Within target", within === null || within === undefined ? "—" : `${(within * 100).toFixed(within >= 0.9995 ? 0 : 1)}%`,
        `mean ${dur(t.mean_lag_sec)} · max ${dur(t.maximum_lag_sec)}`),
      kpi("Refresh mode", t.refresh_mode, t.refresh_mode_reason || "incremental refresh", ["INCREMENTAL", "ADAPTIVE"].includes(t.refresh_mode) ? "fresh" : ""),
      kpi("Last refresh", r ? (r.state === "SUCCEEDED" ? r.action : r.state) : "never", r ? `${time(r.end_time)} · ${ms(r.duration_ms)} · ${r.trigger}` : "", r && r.state !== "SUCCEEDED" && r.state !== "SKIPPED" ? "over" : ""),
      kpi("Rows changed", r && (r.rows_inserted !== null || r.rows_deleted !== null) ? `+${num(r.rows_inserted || 0)} −${num(r.rows_deleted || 0)}` : "—", "by the last refresh"),
      kpi("Rows", num(t.rows), t.warehouse ? `warehouse ${t.warehouse}` : ""),
    );

    const now = ts(d.generated_at);
    let windowSec = state.windowSec;
    if (!windowSec) {  // auto: just the span of the history, up to a window suited to the lag
      const times = d.history.map((r) => ts(r.end_time || r.start_time)).filter((v) => v);
      const first = times.length ? Math.min(...times) : now - 60e3;
      windowSec = Math.min(defaultWindow(t.target_lag_sec), Math.max(60, ((now - first) / 1000) * 1.1));
    }
    for (const b of $("d-window").children) b.classList.toggle("on", Number(b.dataset.sec) === (state.windowSec || 0));
    drawLag($("d-lag"), d.lag_series, t.target_lag_sec, now - windowSec * 1000, now, d.history);
    drawTimeline($("d-timeline"), d.history, now - windowSec * 1000, now);
    renderHistory(d.history);
    renderMode(t, d.explain);
    renderCode(d);
  }

  // -- charts -----------------------------------------------------------------------------------------
  function frame(svgEl) {
    const w = Math.max(320, svgEl.clientWidth || svgEl.parentElement.clientWidth - 28);
    const h = 220;
    svgEl.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svgEl.replaceChildren();
    return { w, h, m: { l: 48, r: 14, t: 12, b: 24 } };
  }

  function timeTicks(g, x0, x1, xs, y, h) {
    const span = x1 - x0;
    const steps = [10e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3];
    const step = steps.find((s) => span / s <= 6) || 43200e3;
    const axis = svg("g", { class: "axis" }, g);
    for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) {
      const x = xs(t);
      svg("line", { x1: x, x2: x, y1: y - h, y2: y }, axis);
      const label = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: step < 60e3 ? "2-digit" : undefined, hour12: false });
      svg("text", { x, y: y + 15, "text-anchor": "middle" }, axis).textContent = label;
    }
  }

  function lagAt(series, t) {
    // series is piecewise linear in time; lag grows 1 s per s between refreshes
    let prev = null;
    for (const p of series) {
      const pt = ts(p.t);
      if (pt > t) break;
      prev = { t: pt, lag: p.lag_sec };
    }
    return prev ? prev.lag + (t - prev.t) / 1000 : null;
  }

  function drawLag(svgEl, series, target, x0, x1, history) {
    const { w, h, m } = frame(svgEl);
    const pts = series.map((p) => ({ t: ts(p.t), lag: p.lag_sec }));
    // keep the point before the window, so the line enters from the left edge
    let first = 0;
    while (first + 1 < pts.length && pts[first + 1].t < x0) first++;
    const shown = pts.slice(first);
    const visible = shown.filter((p) => p.t >= x0);
    const peak = Math.max(target ? target * 1.25 : 1, ...visible.map((p) => p.lag), shown.length ? lagAt(series, x0) || 0 : 0);
    const ymax = niceMax(peak * 1.08);
    const xs = (t) => m.l + ((t - x0) / (x1 - x0)) * (w - m.l - m.r);
    const ys = (v) => h - m.b - (v / ymax) * (h - m.t - m.b);
    const defs = svg("defs", {}, svgEl);
    const grad = svg("linearGradient", { id: "lagfill", x1: 0, y1: 0, x2: 0, y2: 1 }, defs);
    svg("stop", { offset: "0", "stop-color": "#7dd3fc", "stop-opacity": "0.35" }, grad);
    svg("stop", { offset: "1", "stop-color": "#7dd3fc", "stop-opacity": "0.02" }, grad);
    const clip = svg("clipPath", { id: "lagclip" }, defs);
    svg("rect", { x: m.l, y: m.t, width: w - m.l - m.r, height: h - m.t - m.b }, clip);
    if (target) {
      const over = svg("clipPath", { id: "overclip" }, defs);
      svg("rect", { x: m.l, y: 0, width: w - m.l - m.r, height: Math.max(0, ys(target)) }, over);
    }
    // y axis
    const axis = svg("g", { class: "axis grid" }, svgEl);
    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4;
      svg("line", { x1: m.l, x2: w - m.r, y1: ys(v), y2: ys(v) }, axis);
      svg("text", { x: m.l - 6, y: ys(v) + 3.5, "text-anchor": "end" }, axis).textContent = i === 0 ? "0" : axisDur(v);
    }
    timeTicks(svgEl, x0, x1, xs, h - m.b, h - m.t - m.b);
    if (!shown.length) {
      svg("text", { x: w / 2, y: h / 2, "text-anchor": "middle", class: "chart-empty" }, svgEl).textContent = "No successful refresh yet";
      return;
    }
    const line = shown.map((p, i) => `${i ? "L" : "M"}${xs(p.t).toFixed(1)},${ys(p.lag).toFixed(1)}`).join(" ");
    const area = `${line} L${xs(shown[shown.length - 1].t).toFixed(1)},${ys(0)} L${xs(shown[0].t).toFixed(1)},${ys(0)} Z`;
    const plot = svg("g", { "clip-path": "url(#lagclip)" }, svgEl);
    svg("path", { d: area, class: "lag-area" }, plot);
    if (target) svg("path", { d: area, class: "lag-over", "clip-path": "url(#overclip)" }, plot);
    svg("path", { d: line, class: "lag-line" }, plot);
    if (target) {
      svg("line", { x1: m.l, x2: w - m.r, y1: ys(target), y2: ys(target), class: "target-line" }, svgEl);
      svg("text", { x: w - m.r - 4, y: ys(target) - 5, "text-anchor": "end", class: "target-label" }, svgEl).textContent = `target ${shortLag(target)}`;
    }
    for (const r of history) {
      if (r.state !== "FAILED" && r.state !== "UPSTREAM_FAILED") continue;
      const t = ts(r.end_time || r.start_time);
      if (t < x0) continue;
      const x = xs(t), y = h - m.b;
      svg("path", { d: `M${x},${y - 9} l5,9 l-10,0 z`, class: "fail-mark" }, plot);
    }
    // hover: a cursor and the lag at that instant
    const cursor = svg("line", { class: "cursor hidden", y1: m.t, y2: h - m.b }, svgEl);
    const hit = svg("rect", { x: m.l, y: m.t, width: w - m.l - m.r, height: h - m.t - m.b, fill: "transparent" }, svgEl);
    hit.addEventListener("mousemove", (ev) => {
      const box = svgEl.getBoundingClientRect();
      const x = ((ev.clientX - box.left) / box.width) * w;
      const t = x0 + ((x - m.l) / (w - m.l - m.r)) * (x1 - x0);
      const lag = lagAt(series, t);
      cursor.setAttribute("x1", x); cursor.setAttribute("x2", x);
      cursor.classList.remove("hidden");
      tip(ev, new Date(t).toLocaleTimeString([], { hour12: false }), [["lag", lag === null ? "—" : dur(lag)], ["target", target ? shortLag(target) : "none"]]);
    });
    hit.addEventListener("mouseleave", () => { cursor.classList.add("hidden"); hideTip(); });
  }

  function axisDur(v) {
    for (const [u, n] of [["d", 86400], ["h", 3600], ["m", 60]]) if (v >= n && v % n === 0) return `${v / n}${u}`;
    if (v >= 60) return `${Math.floor(v / 60)}m${Math.round(v % 60)}s`;
    return `${+v.toFixed(1)}s`;
  }

  function niceMax(v) {
    const steps = [1, 2, 4, 5, 10, 15, 20, 30, 40, 60, 90, 120, 180, 240, 300, 600, 900, 1200, 1800, 2400, 3600, 7200, 10800, 14400, 21600, 43200, 86400];
    for (const s of steps) if (s * 4 >= v) return s * 4;
    return Math.ceil(v / 86400) * 86400;
  }

  function drawTimeline(svgEl, history, x0, x1) {
    const { w, h, m } = frame(svgEl);
    const xs = (t) => m.l + ((t - x0) / (x1 - x0)) * (w - m.l - m.r);
    const mid = m.t + (h - m.t - m.b) / 2;
    const half = (h - m.t - m.b) / 2 - 4;
    const rows = history.filter((r) => ts(r.end_time || r.start_time) >= x0);
    const most = Math.max(1, ...rows.map((r) => Math.max(r.rows_inserted || 0, r.rows_deleted || 0)));
    const scale = (n) => (n ? Math.max(3, (Math.log10(1 + n) / Math.log10(1 + most)) * half) : 0);
    const axis = svg("g", { class: "axis grid" }, svgEl);
    svg("line", { x1: m.l, x2: w - m.r, y1: mid, y2: mid }, axis);
    svg("text", { x: m.l - 6, y: m.t + 10, "text-anchor": "end" }, axis).textContent = `+${compact(most)}`;
    svg("text", { x: m.l - 6, y: mid + 3.5, "text-anchor": "end" }, axis).textContent = "0";
    svg("text", { x: m.l - 6, y: h - m.b - 2, "text-anchor": "end" }, axis).textContent = `−${compact(most)}`;
    timeTicks(svgEl, x0, x1, xs, h - m.b, h - m.t - m.b);
    if (!rows.length) {
      svg("text", { x: w / 2 + m.l / 2, y: mid - 10, "text-anchor": "middle", class: "chart-empty" }, svgEl).textContent = "No refreshes in this window";
      return;
    }
    for (const r of rows.slice().reverse()) {
      const end = ts(r.end_time || r.start_time), start = ts(r.start_time || r.end_time);
      const x = xs(start), width = Math.max(4, xs(end) - xs(start));
      const kind = r.state === "SUCCEEDED" ? r.action || "FULL" : r.state;
      const up = scale(r.rows_inserted || 0), down = scale(r.rows_deleted || 0);
      const g = svg("g", {}, svgEl);
      if (!up && !down) {
        svg("rect", { x: x - 1, y: mid - 5, width: width + 2, height: 10, class: `tbar ${kind}` }, g);
      } else {
        if (up) svg("rect", { x, y: mid - up, width, height: up, class: `tbar ${kind}` }, g);
        if (down) svg("rect", { x, y: mid + 1, width, height: down, class: `tbar ${kind}`, opacity: 0.55 }, g);
      }
      g.addEventListener("mousemove", (ev) => tip(ev, `${kind} · ${time(r.end_time)}`, [
        ["state", r.state], ["trigger", r.trigger || "—"], ["duration", ms(r.duration_ms)],
        ["inserted", num(r.rows_inserted || 0)], ["deleted", num(r.rows_deleted || 0)],
        ...(r.state_message ? [["message", r.state_message]] : []),
      ]));
      g.addEventListener("mouseleave", hideTip);
    }
  }
  const compact = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));

  function tip(ev, title, rows) {
    const t = $("tooltip");
    t.replaceChildren(el("div", "t", title), ...rows.map(([k, v]) => { const r = el("div", "r", `${k} `); add(r, el("b", null, v)); return r; }));
    t.classList.remove("hidden");
    const x = Math.min(ev.clientX + 14, window.innerWidth - t.offsetWidth - 8);
    const y = Math.min(ev.clientY + 14, window.innerHeight - t.offsetHeight - 8);
    t.style.left = `${x}px`;
    t.style.top = `${y}px`;
  }
  function hideTip() { $("tooltip").classList.add("hidden"); }

  // -- history table, mode, code -------------------------------------------------------------------
  function renderHistory(history) {
    const table = $("d-history");
    const head = el("tr");
    for (const [label, cls] of [["Finished", ""], ["Action", ""], ["Trigger", ""], ["State", ""], ["Duration", "num"], ["Inserted", "num"], ["Deleted", "num"], ["Message", ""]]) head.appendChild(el("th", cls, label));
    const rows = history.slice(0, 12).map((r) => {
      const tr = el("tr");
      const kind = r.action || r.state;
      const action = el("td");
      add(action, el("span", `tag act ${kind}`, r.action || "—"));
      const st = el("td");
      add(st, el("span", `act ${r.state === "SUCCEEDED" ? "INCREMENTAL" : r.state}`, r.state));
      add(tr, el("td", null, `${new Date(r.end_time || r.start_time).toLocaleDateString([], { month: "short", day: "numeric" })} ${time(r.end_time || r.start_time)}`),
        action, el("td", null, r.trigger || "—"), st, el("td", "num", ms(r.duration_ms)),
        el("td", "num ins", r.rows_inserted === null ? "—" : `+${num(r.rows_inserted)}`),
        el("td", "num del", r.rows_deleted === null ? "—" : `−${num(r.rows_deleted)}`),
        el("td", "msg", r.state_message || ""));
      return tr;
    });
    table.replaceChildren(head, ...rows);
    $("d-history-note").textContent = history.length ? `${Math.min(12, history.length)} of the last ${history.length}` : "none in the last 7 days";
  }

  function renderMode(t, plan) {
    const dl = $("d-mode");
    const reason = plan.refresh_mode_reason || t.refresh_mode_reason;
    const why = el("span", "why", reason ? ` — ${REASONS[reason] || ""}` : " — only the changes since the previous refresh are processed.");
    const modeValue = el("dd");
    add(modeValue, el("span", `badge ${plan.refresh_mode || t.refresh_mode}`, plan.refresh_mode || t.refresh_mode));
    const reasonValue = el("dd");
    add(reasonValue, el("code", null, reason || "none"), why);
    const items = [
      ["Resolved mode", modeValue], ["Reason", reasonValue],
      ["Strategy", el("dd", null, plan.strategy || (t.refresh_mode === "FULL" ? "recompute and swap in the changes" : "—"))],
      ["Target lag", el("dd", null, t.target_lag ? `${t.target_lag}${t.target_lag_type === "DOWNSTREAM" ? " (follows its consumers)" : ""}` : "—")],
    ];
    const inputs = el("dd");
    add(inputs, links(t.inputs));
    const consumers = el("dd");
    add(consumers, links(t.consumers));
    items.push(["Reads", inputs], ["Read by", consumers]);
    if (plan.error) items.push(["Explain", el("dd", "why", plan.error)]);
    dl.replaceChildren(...items.flatMap(([k, v]) => [el("dt", null, k), v]));
  }

  function renderCode(d) {
    const blocks = [["Definition", d.definition || "—"], ...d.explain.sql.map((s) => [`Refresh SQL (${s.title})`, s.sql])];
    const grid = $("d-code");
    const key = JSON.stringify(blocks);
    if (state.codeText.get("all") === key) return;  // unchanged: keep scroll positions
    state.codeText.set("all", key);
    grid.replaceChildren(...blocks.map(([title, text]) => {
      const box = el("div", "code");
      const head = el("div", "code-head", title);
      const copy = el("button", "copy", "copy");
      copy.type = "button";
      copy.addEventListener("click", async () => {
        try { await navigator.clipboard.writeText(text); copy.textContent = "copied"; } catch (e) { copy.textContent = "select + ⌘C"; }
        setTimeout(() => { copy.textContent = "copy"; }, 1500);
      });
      add(head, copy);
      const pre = el("pre");
      pre.appendChild(highlight(text));
      add(box, head, pre);
      return box;
    }));
  }

  const KEYWORDS = new Set(("select from where group by order having qualify limit offset join left right full outer inner cross on using as and or not in is null case when then else end " +
    "with union all distinct over partition rows range between unbounded preceding following current row create or replace dynamic table target_lag warehouse " +
    "refresh_mode initialize comment lateral flatten true false asc desc nulls first last interval exists cast try_cast except intersect values insert into delete update set merge matched cluster").split(" "));
  function highlight(sql) {
    const frag = document.createDocumentFragment();
    const re = /(--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_$]*)|(\s+|[^\sA-Za-z0-9_'"-]+|-)/g;
    let m;
    while ((m = re.exec(sql)) !== null) {
      let cls = null;
      if (m[1]) cls = "com";
      else if (m[2]) cls = "str";
      else if (m[3]) cls = "id";
      else if (m[4]) cls = "num";
      else if (m[5]) {
        if (KEYWORDS.has(m[5].toLowerCase())) cls = "kw";
        else if (sql[re.lastIndex] === "(") cls = "fn";
      }
      frag.appendChild(cls ? el("span", cls, m[0]) : document.createTextNode(m[0]));
    }
    return frag;
  }

  // -- start -------------------------------------------------------------------------------------------
  function start() {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = $("login-token").value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      $("login-token").value = "";
      $("login").classList.add("hidden");
      setLive("connecting", "connecting…");
      tick();
    });
    let resize = null;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(() => {
        if (state.graph) renderGraph(state.graph);
        if (state.detail && state.builtFor) updateDetail(state.detail);
      }, 120);
    });
    if (!takeToken()) { showLogin("This server needs its access token."); return; }
    tick();
  }

  start();
})();
