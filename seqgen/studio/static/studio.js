// seqgen studio: the page calls the JSON API of the server that serves it (see seqgen/studio/app.py).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { checkpoints: [], sound: null, running: null, kind: null };

function show(el, on) { el.hidden = !on; }

function setError(message) {
  $("error").textContent = message || "";
  show($("error"), Boolean(message));
}

function setStatus(message) { $("status").textContent = message; }

function setRunning(controller) {
  state.running = controller;
  $("generate").disabled = $("again").disabled = Boolean(controller);
  $("stop").disabled = !controller;
  $("status").classList.toggle("working", Boolean(controller));
}

async function errorOf(response) {
  try {
    const body = await response.json();
    return body.error || `the server answered ${response.status}`;
  } catch (e) {
    return `the server answered ${response.status}`;
  }
}

// -- checkpoints --------------------------------------------------------------------------------

// Each control's default and help come from the option's one declaration (the configurations),
// as `seqgen sample --help` shows them; a value the user typed is kept.
function showOptions(options) {
  for (const [name, option] of Object.entries(options || {})) {
    const input = $(name);
    if (!input) continue;
    input.title = option.help;
    if (option.default !== null && input.value === "") input.value = option.default;
  }
}

async function loadCheckpoints() {
  const response = await fetch("/api/checkpoints");
  if (!response.ok) { setError(await errorOf(response)); return; }
  const data = await response.json();
  state.checkpoints = data.checkpoints;
  state.sound = data.sound;
  $("tunes").max = data.limits.max_tunes;
  $("length").max = data.limits.max_length;
  showOptions(data.options);
  const select = $("checkpoint");
  select.replaceChildren();
  for (const run of runsOf(data.checkpoints)) {
    const option = document.createElement("option");
    option.value = run.main.id;
    option.textContent = run.name ? `${run.name} · ${checkpointLabel(run.main)}` : checkpointLabel(run.main);
    option.disabled = Boolean(run.main.error);
    select.append(option);
  }
  if (!data.checkpoints.length) {
    setStatus(`No checkpoints under ${data.root}/ yet: train one with "seqgen train FILE".`);
  }
  const first = data.checkpoints.find((c) => !c.error);
  if (first) select.value = runsOf(data.checkpoints).find((r) => r.members.includes(first)).main.id;
  if (data.sound && !data.sound.available) {
    $("sound-note").textContent = data.sound.note;
    show($("sound-note"), true);
  }
  chooseCheckpoint();
  document.dispatchEvent(new CustomEvent("seqgen:checkpoints"));  // history.js: the address's state
}

function chooseCheckpoint(event) {
  if (!event || event.target === $("checkpoint")) showRunMembers();
  const c = state.checkpoints.find((x) => x.id === checkpointId());
  state.kind = c && !c.error ? c.kind : null;
  show($("music-fields"), state.kind === "music");
  show($("text-fields"), Boolean(state.kind) && state.kind !== "music");
  const defaultTopP = state.kind === "music" ? "0.7" : "1.0";
  $("top_p").placeholder = `default ${defaultTopP}`;
  if (state.kind === "music") { fieldMenu("meter", c.fields); fieldMenu("key", c.fields); }
  $("model-info").textContent = c && !c.error
    ? `${c.description} · ${c.kind}${c.run ? " · run " + c.run : ""} · ${c.modified.replace("T", " ").slice(0, 16)}`
    : (c ? c.error : "");
}

// -- the request --------------------------------------------------------------------------------

function request(newSeed) {
  const body = { checkpoint: checkpointId() };
  const number = (id, parse) => {
    const raw = $(id).value.trim();
    if (raw !== "") body[id] = parse(raw);
  };
  number("temperature", Number);
  number("top_k", (v) => parseInt(v, 10));
  number("top_p", Number);
  if (!newSeed) number("seed", (v) => parseInt(v, 10));
  if (state.kind === "music") {
    number("tunes", (v) => parseInt(v, 10));
    for (const id of ["meter", "key", "prime_abc"]) {
      const v = ($(id).value === OTHER ? $(`${id}-other`).value : $(id).value).trim();
      if (v) body[id] = v;
    }
  } else {
    number("length", (v) => parseInt(v, 10));
    if ($("prime").value) body.prime = $("prime").value;
  }
  return body;
}

async function generate(newSeed) {
  if (state.running || !checkpointId()) return;
  if (newSeed) $("seed").value = "";
  setError("");
  const controller = new AbortController();
  setRunning(controller);
  const body = request(newSeed);
  const started = performance.now();
  setStatus("Starting…");
  intoViewOnPhone();
  try {
    const response = await fetch("/api/sample", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), signal: controller.signal,
    });
    if (!response.ok) {
      setError(await errorOf(response));
      setStatus("Nothing generated.");
      return;
    }
    if (state.kind === "music") {
      await streamTunes(response, controller, started);
    } else {
      await streamText(response, controller);
    }
  } catch (e) {
    if (e.name === "AbortError") setStatus("Stopped.");
    else { setError(`cannot reach the server: ${e.message}`); setStatus("Nothing generated."); }
  } finally {
    setRunning(null);
  }
}

function showCommand(result) {
  $("command-text").textContent = result.command;
  show($("command"), true);
  $("seed").placeholder = `new each time (last: ${result.settings.seed})`;
  document.dispatchEvent(new CustomEvent("seqgen:result", { detail: result }));  // history.js: its batch
}

// -- text ---------------------------------------------------------------------------------------

async function streamText(response, controller) {
  const meta = JSON.parse(response.headers.get("X-Seqgen-Sample") || "{}");
  if (meta.command) showCommand(meta);
  $("tunes-out").replaceChildren();
  const out = $("text-out");
  out.textContent = "";
  show(out, true);
  if (meta.unknown_symbols && meta.unknown_symbols.length) {
    setError(`the model never saw ${meta.unknown_symbols.map((s) => JSON.stringify(s)).join(", ")} in the prime; they are read as <unk>`);
  }
  setStatus("Writing…");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let count = 0;
  controller.signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const piece = decoder.decode(value, { stream: true });
    out.textContent += piece;
    count += piece.length;
    setStatus(`Writing… ${count.toLocaleString()} characters`);
  }
  setStatus(controller.signal.aborted ? `Stopped after ${count.toLocaleString()} characters.`
                                      : `Done: ${count.toLocaleString()} characters.`);
}

// -- tunes --------------------------------------------------------------------------------------

// The tunes come as lines of JSON (see seqgen/studio/tune_stream.py): what is being drawn, each
// tune as it is ready, then the whole answer.
async function streamTunes(response, controller, started) {
  show($("text-out"), false);
  show($("command"), false);  // the last batch's command: not this one's
  const list = $("tunes-out");
  list.replaceChildren();
  let asked = null, ended = false;
  try {
    for await (const event of jsonLines(response, controller.signal)) {
      ended = event.event === "done" || event.event === "error";
      if (event.event === "progress") {
        asked = event.of;
        setStatus(`Drawing tune ${event.tune} of ${event.of}, attempt ${event.attempt}…`);
      } else if (event.event === "tune") {
        list.append(tuneCard(event.tune));
        if (list.children.length === 1) intoViewOnPhone();  // now there is room to scroll to
      } else if (event.event === "done") {
        showTunes(event, started);
      } else if (event.event === "error") {
        setError(event.error);
        setStatus(`${keptTunes(list.children.length)} before it stopped.`);
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") throw e;
  }
  if (controller.signal.aborted) {
    setStatus(`Stopped: ${keptTunes(list.children.length)}${asked ? ` of ${asked}` : ""}.`);
  } else if (!ended) {
    setStatus(`The server stopped answering: ${keptTunes(list.children.length)}.`);
  }
}

async function* jsonLines(response, signal) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const line of lines) if (line.trim()) yield JSON.parse(line);
  }
}

function keptTunes(n) { return n === 1 ? "1 tune kept" : `${n} tunes kept`; }

// The whole answer: the tunes not shown yet (all of them for a batch opened again), the command
// that makes them again, and the tally.
function showTunes(result, started) {
  showCommand(result);
  show($("text-out"), false);
  const s = result.summary;
  const list = $("tunes-out");
  const shown = new Set([...list.children].map((card) => card.dataset.n));
  for (const tune of result.tunes) if (!shown.has(String(tune.n))) list.append(tuneCard(tune));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const reasons = Object.entries(s.reasons).map(([r, n]) => `${n}× ${r}`).join("; ");
  setStatus(`${s.valid} of ${s.requested} valid · ${s.first_try_valid} on the first try · ${s.attempts} drawn` +
            (reasons ? ` · rejected: ${reasons}` : "") + ` · ${seconds} s`);
}

// On a narrow screen the results are below the form: bring them (status, command, tunes) into view.
function intoViewOnPhone() {
  if (window.matchMedia("(max-width: 820px)").matches) document.querySelector(".output").scrollIntoView({ block: "start" });
}

function tuneCard(tune) {
  const card = document.createElement("article");
  card.className = "tune";
  card.dataset.n = tune.n;
  const header = document.createElement("header");
  const title = document.createElement("h2");
  title.textContent = `${tune.n}. ${tune.title || "Untitled"}`;
  const badge = document.createElement("span");
  badge.className = "badge " + (tune.valid ? (tune.verdict === "valid" ? "valid" : "resampled") : "invalid");
  badge.textContent = tune.verdict;
  header.append(title, badge);
  card.append(header);
  if (tune.reasons.length) {
    const reasons = document.createElement("p");
    reasons.className = "reasons";
    reasons.textContent = tune.reasons.join("; ");
    card.append(reasons);
  }
  const sheet = document.createElement("div");
  sheet.className = "sheet";
  card.append(sheet);
  const bar = card.appendChild(tools(tune));
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "ABC";
  const pre = document.createElement("pre");
  pre.textContent = tune.abc;
  details.append(summary, pre);
  card.append(details);
  // Drawn once the card is in the page, so that abcjs can measure the width it has; drawn as it
  // is played (repeat signs repaired), so that its notes light up in the order they sound.
  requestAnimationFrame(() => {
    if (!window.ABCJS) { sheet.textContent = "(sheet music needs abcjs, which did not load)"; return; }
    const [drawn] = ABCJS.renderAbc(sheet, tune.played_abc || tune.abc,
                                    { responsive: "resize", add_classes: true, paddingleft: 0, ...SeqgenFill.sheetOptions(card) });
    if (soundHere()) SeqgenPlayer.attach(card, sheet, drawn, tune, bar);
    SeqgenFill.attach(card, sheet, drawn, tune, bar);  // fill.js: its bars can be chosen and drawn anew
  });
  return card;
}

function soundHere() { return Boolean(state.sound && state.sound.available); }

function tools(tune) {
  const bar = document.createElement("div");
  bar.className = "tools";
  const play = document.createElement("button");
  play.type = "button";
  play.className = "play";
  play.textContent = "▶ Play";
  play.disabled = true;  // until the sheet is drawn and the player attached to it (player.js)
  play.title = soundHere() ? "the sheet music is being drawn" : (state.sound && state.sound.note) || "no sound here";
  bar.append(play);
  for (const kind of ["abc", "mid", "wav"]) {
    if (!tune.files[kind]) continue;
    const link = document.createElement("a");
    link.href = tune.files[kind];
    link.className = `download-${kind}`;
    link.textContent = `.${kind}`;
    link.setAttribute("download", "");
    bar.append(link);
  }
  return bar;
}

// -- wiring -------------------------------------------------------------------------------------

function stop() { if (state.running) state.running.abort(); }

document.addEventListener("DOMContentLoaded", () => {
  SeqgenPlayer.onError = setError;
  $("checkpoint").addEventListener("change", chooseCheckpoint);
  $("checkpoint-file").addEventListener("change", chooseCheckpoint);
  for (const name of ["meter", "key"]) $(name).addEventListener("change", () => showOther(name));
  $("settings").addEventListener("submit", (e) => { e.preventDefault(); generate(false); });
  $("again").addEventListener("click", () => generate(true));
  $("stop").addEventListener("click", stop);
  $("copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("command-text").textContent));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); generate(false); }
    else if (e.altKey && (e.key === "n" || e.key === "N")) { e.preventDefault(); generate(true); }
    else if (e.key === "Escape") stop();
  });
  loadCheckpoints().catch((e) => setError(`cannot reach the server: ${e.message}`));
});
