// editforge report gallery: filters and sorts the compact key index (data/keys.js), then loads only
// the pages of rows it shows (pages/page-NNNN.js, added as <script> tags: file:// allows no fetch()).
// Every text from the data is set with textContent, never parsed as HTML.
(function () {
  "use strict";
  const S = window.EF_SUMMARY;
  const K = window.EF_KEYS;
  window.EF_PAGES = window.EF_PAGES || {};
  const cards = document.getElementById("cards");
  if (!S || !K || !cards) return;
  const PS = S.page_size; // rows per index file
  const VIEW = S.view_size || PS; // cards per gallery page: a filtered page touches at most VIEW files
  const KEEP = 64; // index files kept in memory beyond those on screen
  const CRITERIA = [
    ["instruction_compliance", "compliance", 0.4],
    ["seamlessness", "seamlessness", 0.25],
    ["preservation", "preservation", 0.2],
    ["technical_quality", "technical", 0.15],
  ];
  const state = { category: "", type: "", status: "", subset: "", label: "", sort: "plan", page: 0 };
  const loading = {};
  const used = {};
  let clock = 0;
  let matching = [];
  let token = 0;
  let renders = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function has(value, want) {
    return Array.isArray(value) ? value.indexOf(want) >= 0 : value === want;
  }

  function safeUrl(url) {
    // relative paths (percent-encoded, so no ':') or http(s) URLs; nothing else becomes a link
    return typeof url === "string" && (/^https?:\/\//i.test(url) || url.indexOf(":") < 0) ? url : "";
  }

  function filterRows() {
    const num = (v) => (v === "" ? null : Number(v));
    const c = num(state.category), t = num(state.type), st = num(state.status);
    const sub = state.subset === "" ? 0 : 1 << Number(state.subset);
    const lab = state.label === "" ? 0 : 1 << Number(state.label);
    const out = [];
    for (let i = 0; i < K.st.length; i++) {
      if (c !== null && !has(K.cat[i], c)) continue;
      if (t !== null && !has(K.type[i], t)) continue;
      if (st !== null && K.st[i] !== st) continue;
      if (sub && !(K.sub[i] & sub)) continue;
      if (lab && !(K.lab[i] & lab)) continue;
      out.push(i);
    }
    if (state.sort !== "plan") {
      const dir = state.sort === "score-asc" ? 1 : -1;
      out.sort(function (a, b) {
        const x = K.score[a], y = K.score[b];
        if (x === null || y === null) return x === y ? a - b : x === null ? 1 : -1;
        return (x - y) * dir || a - b;
      });
    }
    return out;
  }

  function loadPage(p) {
    if (window.EF_PAGES[p]) return Promise.resolve();
    if (!loading[p]) {
      loading[p] = new Promise(function (resolve, reject) {
        const s = document.createElement("script");
        s.src = "pages/page-" + String(p).padStart(4, "0") + ".js";
        s.dataset.page = String(p);
        s.onload = function () { resolve(); };
        s.onerror = function () { delete loading[p]; reject(new Error("cannot load " + s.src)); };
        document.head.appendChild(s);
      });
    }
    return loading[p];
  }

  function forget(keep) {
    // bound memory on 100K-row datasets: drop the least recently shown index files beyond KEEP
    keep.forEach(function (p) { used[p] = ++clock; });
    const drop = Object.keys(window.EF_PAGES).map(Number)
      .filter(function (p) { return keep.indexOf(p) < 0; })
      .sort(function (a, b) { return (used[a] || 0) - (used[b] || 0); });
    drop.slice(0, Math.max(0, drop.length - KEEP)).forEach(function (p) {
      delete window.EF_PAGES[p];
      delete loading[p];
      const tag = document.querySelector('script[data-page="' + p + '"]');
      if (tag) tag.remove();
    });
  }

  function rowOf(id) {
    const p = Math.floor(id / PS) + 1;
    return window.EF_PAGES[p][id - (p - 1) * PS];
  }

  function fmt(score) {
    return score === null || score === undefined ? "–" : Number(score).toFixed(3);
  }

  function figure(img, caption, role) {
    const fig = el("figure", "shot " + (role || ""));
    const src = img && safeUrl(img.thumb);
    if (src) {
      const a = el("a");
      a.href = safeUrl(img.full) || src;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      const im = el("img");
      im.loading = "lazy";
      im.decoding = "async";
      im.alt = caption;
      im.src = src;
      a.appendChild(im);
      fig.appendChild(a);
    } else {
      fig.appendChild(el("div", "noimg", img && img.missing ? "not found: " + img.missing : "no image"));
    }
    fig.appendChild(el("figcaption", null, caption));
    return fig;
  }

  function attemptCaption(a) {
    const name = { chosen: "edit", rejected: "rejected", failed: "failed", error: "no image" }[a.role] || a.role;
    const score = a.score === null || a.score === undefined ? "" : " · " + fmt(a.score);
    return name + " · attempt " + a.index + score;
  }

  function scoreTable(scores, total) {
    const table = el("table", "scores");
    CRITERIA.forEach(function (c) {
      const tr = el("tr");
      tr.appendChild(el("th", null, c[1] + " ×" + c[2]));
      const bar = el("td", "bar");
      const fill = el("span");
      fill.style.width = Math.round(scores[c[0]] * 100) + "%";
      bar.appendChild(fill);
      tr.appendChild(bar);
      tr.appendChild(el("td", "num", fmt(scores[c[0]])));
      table.appendChild(tr);
    });
    const tr = el("tr", "total");
    tr.append(el("th", null, "weighted"), el("td"), el("td", "num", fmt(total)));
    table.appendChild(tr);
    return table;
  }

  function turnBlock(turn, many) {
    const box = el("section", "turn");
    if (many) box.appendChild(el("h4", null, "Turn " + turn.turn + (turn.type ? " · " + turn.type : "")));
    const strip = el("div", "strip");
    strip.appendChild(figure(turn.input, turn.turn > 1 ? "input (turn " + (turn.turn - 1) + ")" : "source", "src"));
    // the source and the kept edit side by side; rejected and failed attempts after them, marked
    const order = turn.attempts.filter(function (a) { return a.role === "chosen"; })
      .concat(turn.attempts.filter(function (a) { return a.role !== "chosen"; }));
    order.forEach(function (a) { strip.appendChild(figure(a.img, attemptCaption(a), a.role)); });
    box.appendChild(strip);
    [["long", "long"], ["short", "short"]].forEach(function (k) {
      if (!turn[k[0]]) return;
      const p = el("p", "instr " + k[0]);
      p.append(el("b", null, k[1]), el("span", "text", turn[k[0]]));
      box.appendChild(p);
    });
    const scored = turn.attempts.filter(function (a) { return a.scores; });
    const main = turn.attempts.find(function (a) { return a.role === "chosen"; }) ||
      scored.slice().sort(function (a, b) { return b.score - a.score; })[0];
    if (main && main.scores) box.appendChild(scoreTable(main.scores, main.score));
    if (main && main.rationale) box.appendChild(el("p", "rationale", main.rationale));
    const others = turn.attempts.filter(function (a) { return a !== main && a.rationale; });
    if (others.length) {
      const d = el("details", "others");
      d.appendChild(el("summary", null, "other attempts (" + others.length + ")"));
      others.forEach(function (a) { d.appendChild(el("p", "rationale", attemptCaption(a) + ": " + a.rationale)); });
      box.appendChild(d);
    }
    const models = [];
    const m = turn.models || {};
    if (m.writer) models.push("writer " + m.writer);
    if (m.rewriter) models.push("rewriter " + m.rewriter);
    const editors = Array.from(new Set(turn.attempts.map(function (a) { return a.editor; }).filter(Boolean)));
    if (editors.length) models.push("editor " + editors.join(", "));
    if (m.judge) models.push("judge " + m.judge);
    if (models.length) box.appendChild(el("p", "models", models.join(" · ")));
    if (window.EF_DECORATE_TURN) window.EF_DECORATE_TURN(box, turn); // labels.js: good / bad marks
    return box;
  }

  function card(row) {
    const c = el("article", "card " + row.status);
    c.dataset.id = row.id;
    c.dataset.score = row.score === null ? "" : row.score;
    const head = el("header");
    head.appendChild(el("span", "rowid", "#" + (row.id + 1)));
    const first = row.turns[0] || {};
    const types = Array.from(new Set(row.turns.map(function (t) { return t.type; }).filter(Boolean)));
    const cats = Array.from(new Set(row.turns.map(function (t) { return t.category; }).filter(Boolean)));
    head.appendChild(el("span", "cat", cats.join(" / ") || "—"));
    const type = el("span", "type", types.join(" → ") || first.type_name || "—");
    type.title = first.type_name || "";
    head.appendChild(type);
    row.subsets.forEach(function (s) { head.appendChild(el("span", "badge " + s, s.replace("_", "-"))); });
    if (row.status === "error") head.appendChild(el("span", "badge bad", "error"));
    head.appendChild(el("span", "score", row.score === null ? "no score" : "score " + fmt(row.score)));
    c.appendChild(head);
    row.turns.forEach(function (t) { c.appendChild(turnBlock(t, row.turns.length > 1)); });
    const foot = el("footer");
    row.labels.forEach(function (l) { foot.appendChild(el("span", "chip", l)); });
    if (row.reason) {
      const reason = el("span", "reason", row.reason);
      reason.title = row.reason;
      foot.appendChild(reason);
    }
    if (row.source && row.source.uri) {
      // the file name always shows whole; only the folder before it is cut short when space runs out
      const uri = row.source.uri;
      const cut = Math.max(uri.lastIndexOf("/"), uri.lastIndexOf("\\")) + 1;
      const src = el("span", "source");
      src.appendChild(el("span", "dir", uri.slice(0, cut)));
      src.appendChild(el("span", "file", uri.slice(cut)));
      src.title = [uri, row.source.attribution, row.source.license].filter(Boolean).join(" · ");
      foot.appendChild(src);
    }
    c.appendChild(foot);
    return c;
  }

  function setInfo(text) {
    document.querySelectorAll(".page-info").forEach(function (e) { e.textContent = text; });
  }

  async function render() {
    const mine = ++token;
    const pages = Math.max(1, Math.ceil(matching.length / VIEW));
    state.page = Math.max(0, Math.min(state.page, pages - 1));
    const ids = matching.slice(state.page * VIEW, (state.page + 1) * VIEW);
    setInfo(matching.length + " of " + K.st.length + " rows · page " + (state.page + 1) + " of " + pages);
    document.querySelectorAll(".prev").forEach(function (b) { b.disabled = state.page === 0; });
    document.querySelectorAll(".next").forEach(function (b) { b.disabled = state.page >= pages - 1; });
    const need = Array.from(new Set(ids.map(function (i) { return Math.floor(i / PS) + 1; })));
    try {
      await Promise.all(need.map(loadPage));
    } catch (err) {
      cards.replaceChildren(el("p", "note", String(err.message)));
      return;
    }
    if (mine !== token) return; // a newer render started while pages loaded
    forget(need);
    cards.replaceChildren.apply(cards, ids.map(function (i) { return card(rowOf(i)); }));
    if (!ids.length) cards.appendChild(el("p", "note", "No rows match these filters."));
    document.body.dataset.rendered = String(++renders);
  }

  function update() {
    matching = filterRows();
    state.page = 0;
    render();
  }

  document.querySelectorAll("#controls select").forEach(function (select) {
    select.addEventListener("change", function () {
      state[select.id.slice(2)] = select.value;
      update();
    });
  });
  document.getElementById("controls").addEventListener("reset", function () {
    Object.assign(state, { category: "", type: "", status: "", subset: "", label: "", sort: "plan" });
    setTimeout(update, 0);
  });
  function step(n) {
    state.page += n;
    render();
    document.getElementById("gallery").scrollIntoView();
  }
  document.querySelectorAll(".pager button").forEach(function (b) {
    b.addEventListener("click", function () { step(Number(b.dataset.step)); });
  });
  document.addEventListener("keydown", function (e) {
    if (e.target && /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) return;
    const pages = Math.ceil(matching.length / VIEW);
    if (e.key === "ArrowRight" && state.page < pages - 1) step(1);
    if (e.key === "ArrowLeft" && state.page > 0) step(-1);
  });
  update();
})();
