// editforge report: label examples good / bad in the gallery, for `editforge calibrate`.
// Marks live in this browser (localStorage, per report) and download as a JSONL labels file whose
// image paths are relative to this report folder:  editforge calibrate labels.jsonl --root REPORT_DIR
// Keys: click a turn (or j / k to move), then g = good, b = bad, x = clear; the note box takes text.
(function () {
  "use strict";
  const S = window.EF_SUMMARY;
  const bar = document.getElementById("labelbar");
  if (!S || !bar) return;
  const STORE = "editforge-labels:v1:" + S.title; // keys name the edited image by its content hash
  let marks = {};
  try { marks = JSON.parse(localStorage.getItem(STORE) || "{}") || {}; } catch (e) { marks = {}; }
  let current = null;

  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(marks)); } catch (e) { /* private mode: marks last this visit */ }
    const n = Object.keys(marks).length;
    const good = Object.values(marks).filter(function (m) { return m.label === "pass"; }).length;
    bar.querySelector(".count").textContent = n + " marked (" + good + " good, " + (n - good) + " bad)";
    bar.querySelector(".download").disabled = n === 0;
  }

  function mainAttempt(turn) {
    const withImage = turn.attempts.filter(function (a) { return a.img && a.img.full; });
    return withImage.find(function (a) { return a.role === "chosen"; }) ||
      withImage.filter(function (a) { return a.scores; }).sort(function (a, b) { return b.score - a.score; })[0] ||
      withImage[0];
  }

  function show(box, key) {
    const m = marks[key];
    box.dataset.mark = m ? m.label : "";
    box.querySelectorAll(".mark button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(!!m && b.dataset.label === m.label));
    });
    const note = box.querySelector(".mark input");
    if (note && document.activeElement !== note) note.value = m && m.note ? m.note : "";
  }

  function mark(box, label) {
    const key = box.dataset.key;
    if (!label) delete marks[key];
    else marks[key] = Object.assign({}, JSON.parse(box.dataset.item), { label: label, note: (marks[key] || {}).note || "" });
    save();
    show(box, key);
  }

  function focus(box) {
    if (current) current.classList.remove("current");
    current = box;
    if (box) {
      box.classList.add("current");
      box.focus({ preventScroll: true });
      box.scrollIntoView({ block: "nearest" });
    }
  }

  // gallery.js calls this for every turn it draws
  window.EF_DECORATE_TURN = function (box, turn) {
    const edited = mainAttempt(turn);
    if (!edited || !turn.type || !turn.input || !turn.input.full || !turn.long) return;
    const item = { source: turn.input.full, edited: edited.img.full, instruction: turn.long, edit_type: turn.type };
    box.dataset.key = item.edited + "\n" + item.instruction;
    box.dataset.item = JSON.stringify(item);
    box.tabIndex = 0;
    box.classList.add("labellable");
    const row = document.createElement("div");
    row.className = "mark";
    [["pass", "good (g)"], ["fail", "bad (b)"]].forEach(function (pair) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.label = pair[0];
      b.textContent = pair[1];
      b.addEventListener("click", function () {
        const was = marks[box.dataset.key];
        mark(box, was && was.label === pair[0] ? null : pair[0]);
        focus(box);
      });
      row.appendChild(b);
    });
    const note = document.createElement("input");
    note.type = "text";
    note.placeholder = "note (optional)";
    note.addEventListener("change", function () {
      const m = marks[box.dataset.key];
      if (m) { m.note = note.value; save(); }
    });
    row.appendChild(note);
    box.appendChild(row);
    box.addEventListener("click", function () { focus(box); });
    show(box, box.dataset.key);
  };

  function turns() { return Array.from(document.querySelectorAll("#cards .turn.labellable")); }

  document.addEventListener("keydown", function (e) {
    if (e.target && /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const all = turns();
    if (!all.length) return;
    const at = all.indexOf(current);
    if (e.key === "j" || e.key === "k") {
      focus(all[Math.max(0, Math.min(all.length - 1, at + (e.key === "j" ? 1 : -1)))] || all[0]);
    } else if ((e.key === "g" || e.key === "b" || e.key === "x") && current && all.indexOf(current) >= 0) {
      mark(current, { g: "pass", b: "fail", x: null }[e.key]);
      if (e.key !== "x" && at + 1 < all.length) focus(all[at + 1]);
    } else {
      return;
    }
    e.preventDefault();
  });

  const rater = bar.querySelector(".rater");
  rater.value = localStorage.getItem("editforge-labels:rater") || "";
  rater.addEventListener("change", function () { localStorage.setItem("editforge-labels:rater", rater.value); });

  bar.querySelector(".download").addEventListener("click", function () {
    const who = rater.value.trim();
    const lines = Object.keys(marks).sort().map(function (k) {
      const m = Object.assign({}, marks[k]);
      if (!m.note) delete m.note;
      if (who) m.rater = who;
      return JSON.stringify(m);
    });
    const blob = new Blob([lines.join("\n") + "\n"], { type: "application/x-ndjson" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "labels.jsonl";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  });
  bar.querySelector(".clear").addEventListener("click", function () {
    if (!window.confirm("Forget every mark made on this report?")) return;
    marks = {};
    save();
    document.querySelectorAll("#cards .turn.labellable").forEach(function (box) { show(box, box.dataset.key); });
  });
  save();
})();
