// seqgen studio: the history of batches (GET /api/batches, see seqgen/studio/archive_api.py) and
// the page's state in its address, so that a reload or a shared link gives the same view:
//   /?checkpoint=folk-music/best.pt&meter=6/8&key=Dmix&seed=1&tunes=3   the form
//   /?batch=2026-12-03-1                                                 a batch, opened again
// Uses studio.js's $, state, showTunes, setError, setStatus and errorOf, and menus.js's
// checkpointId, runsOf, OTHER and showOther; studio.js says when the checkpoints are loaded
// ("seqgen:checkpoints") and when a result is shown ("seqgen:result").
"use strict";

(() => {
  // The form's fields kept in the address, in this order; only those that differ from the
  // page's defaults are written, so that a link says what was chosen.
  const FIELDS = ["tunes", "meter", "key", "prime_abc", "length", "prime", "temperature", "top_k", "top_p", "seed"];
  const history = { shown: null, defaults: {}, ready: false };

  // -- the address ------------------------------------------------------------------------------

  function address() {
    const parts = [];
    const add = (name, value) => parts.push(`${name}=${encodeURIComponent(value).replace(/%2F/gi, "/")}`);
    if (checkpointId()) add("checkpoint", checkpointId());
    const music = state.kind === "music";
    for (const id of FIELDS) {
      const field = $(id);
      if (!field || (music ? ["length", "prime"] : ["tunes", "meter", "key", "prime_abc"]).includes(id)) continue;
      const value = valueOf(id);
      if (value !== "" && value !== history.defaults[id]) add(id, value);
    }
    if (history.shown) add("batch", history.shown);
    return parts.length ? `?${parts.join("&")}` : location.pathname;
  }

  function remember() {
    if (history.ready) window.history.replaceState(null, "", address());
  }

  // A field's value as the request takes it: a menu's "other…" is the text typed beside it.
  function valueOf(id) {
    const field = $(id);
    return field.value === OTHER && $(`${id}-other`) ? $(`${id}-other`).value : field.value;
  }

  function setField(id, value) {
    const field = $(id);
    if (!field || value === undefined || value === null) return;
    value = String(value);
    if (field.tagName !== "SELECT" || [...field.options].some((o) => o.value === value)) field.value = value;
    else if ($(`${id}-other`)) {  // a meter or key the model's menu does not list
      field.value = OTHER;
      $(`${id}-other`).value = value;
    }
    if (field.tagName === "SELECT" && $(`${id}-other`)) showOther(id);
  }

  // A checkpoint by its id: its run's entry, then (for last.pt, say) the choice inside the run.
  function setCheckpoint(id) {
    const c = state.checkpoints.find((x) => x.id === id && !x.error);
    const run = c ? runsOf(state.checkpoints).find((r) => r.members.includes(c)) : null;
    if (!run) return false;
    $("checkpoint").value = run.main.id;
    $("checkpoint").dispatchEvent(new Event("change"));
    if (id !== run.main.id) {
      $("checkpoint-file").value = id;
      $("checkpoint-file").dispatchEvent(new Event("change"));
    }
    return true;
  }

  // The form as the address gives it; the batch it names opened first, so that what the
  // address says of the form wins over the batch's own settings.
  async function restore() {
    const params = new URLSearchParams(location.search);
    FIELDS.forEach((id) => { history.defaults[id] = $(id) ? valueOf(id) : ""; });
    if (params.get("batch")) await openBatch(params.get("batch"));
    if (params.has("checkpoint") && !setCheckpoint(params.get("checkpoint"))) {
      setError(`no checkpoint ${params.get("checkpoint")} here any more; pick one from the list`);
    }
    for (const id of FIELDS) if (params.has(id)) setField(id, params.get(id));
    history.ready = true;
    remember();
  }

  // -- batches ----------------------------------------------------------------------------------

  async function openBatch(id) {
    if (state.running) return;
    const response = await fetch(`/api/batches/${encodeURIComponent(id)}`);
    if (!response.ok) { setError(await errorOf(response)); return; }
    const batch = await response.json();
    setError("");
    setCheckpoint(batch.checkpoint);
    setField("tunes", batch.summary ? batch.summary.requested : batch.tunes.length);
    for (const id of ["meter", "key", "prime_abc", "temperature", "top_k", "top_p", "seed"]) {
      setField(id, (batch.settings || {})[id] ?? "");
    }
    if (batch.command) await showTunes(batch, performance.now());
    else { $("tunes-out").replaceChildren(...batch.tunes.map(tuneCard)); history.shown = batch.batch; }
    const made = new Date(batch.created).toLocaleString();
    setStatus(batch.complete ? `Batch ${batch.batch}, made ${made}: ${batch.summary.valid} of ` +
              `${batch.summary.requested} valid.` : `Batch ${batch.batch}, made ${made}: incomplete (the server ` +
              "stopped while it was made).");
    remember();
    mark();
  }

  async function loadHistory() {
    const response = await fetch("/api/batches");
    if (!response.ok) return;
    const list = $("history-list");
    const { batches } = await response.json();
    list.replaceChildren(...batches.map(historyItem));
    show($("history-empty"), !batches.length);
    mark();
  }

  function historyItem(batch) {
    const item = document.createElement("li");
    item.className = "batch";
    item.dataset.batch = batch.id;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open";
    const s = batch.settings;
    const when = new Date(batch.created).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
    const what = [s.meter || "any meter", s.key || "any key", `seed ${s.seed}`].join(" · ");
    const valid = batch.valid < batch.tunes ? ` (${batch.valid} valid)` : "";
    const tunes = `${batch.tunes} tune${batch.tunes === 1 ? "" : "s"}${valid}` + (batch.complete ? "" : ", incomplete");
    open.textContent = `${when} · ${batch.checkpoint || "?"} · ${what} · ${tunes}`;
    open.title = `Open batch ${batch.id} (seed ${s.seed})`;
    open.addEventListener("click", () => openBatch(batch.id));
    const star = document.createElement("button");
    star.type = "button";
    star.className = "star";
    star.textContent = batch.starred ? "★" : "☆";
    star.title = batch.starred ? "Starred: click to unstar" : "Star (a starred batch asks twice before it is deleted)";
    star.setAttribute("aria-pressed", String(batch.starred));
    star.addEventListener("click", () => starBatch(batch.id, !batch.starred));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "delete";
    remove.textContent = "✕";
    remove.title = "Delete this batch and its files";
    remove.addEventListener("click", () => deleteBatch(batch));
    item.append(open, star, remove);
    return item;
  }

  async function starBatch(id, on) {
    const response = await fetch(`/api/batches/${encodeURIComponent(id)}/star`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ starred: on }),
    });
    if (!response.ok) setError(await errorOf(response));
    await loadHistory();
  }

  async function deleteBatch(batch) {
    if (!window.confirm(`Delete batch ${batch.id} and its files?`)) return;
    if (batch.starred && !window.confirm(`${batch.id} is starred. Delete it all the same?`)) return;
    const query = batch.starred ? "?even_starred=true" : "";
    const response = await fetch(`/api/batches/${encodeURIComponent(batch.id)}${query}`, { method: "DELETE" });
    if (!response.ok) setError(await errorOf(response));
    else if (history.shown === batch.id) { history.shown = null; remember(); }
    await loadHistory();
  }

  function mark() {
    for (const item of document.querySelectorAll("#history-list .batch")) {
      item.classList.toggle("current", item.dataset.batch === history.shown);
    }
  }

  // -- wiring -----------------------------------------------------------------------------------

  document.addEventListener("seqgen:checkpoints", () => {
    restore().catch((e) => setError(`cannot reach the server: ${e.message}`));
    loadHistory().catch(() => {});
  }, { once: true });
  document.addEventListener("seqgen:result", (e) => {
    history.shown = e.detail.batch || null;
    remember();
    if (e.detail.batch) loadHistory().catch(() => {});
  });
  document.addEventListener("DOMContentLoaded", () => {
    $("settings").addEventListener("input", remember);
    $("settings").addEventListener("change", remember);
  });
})();
