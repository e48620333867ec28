// seqgen studio: new bars for a tune, a new part for a text (POST /api/fill, see
// seqgen/studio/fill_api.py). Click a note of a tune's sheet and its bar is selected (shift-click
// adds bars); "New bar here" asks for alternatives, drawn in place under the tune, each playable;
// "Use this" puts the chosen one in the tune's place. In a text, select a span and "Regenerate
// this part". Uses studio.js's $, state, tuneCard, soundHere, setError and errorOf, menus.js's
// checkpointId, and player.js's SeqgenPlayer; studio.js hands each drawn sheet to attach().
"use strict";

const SeqgenFill = (() => {
  const ALTERNATIVES = 5;  // what the server allows at most (its limits.max_fills)
  const BAR_GAP = " ... ", TEXT_GAP = "[...]";  // how a gap is marked (seqgen/fill/gaps.py)
  const CONTEXT = 80;  // characters shown either side of a text's new part
  const fill = {};
  const entries = new WeakMap();  // a tune's card -> {card, sheet, drawn, tune, tools, selected, checkpoint}
  let asking = false;  // one fill at a time from this page

  // -- bars in the ABC text -----------------------------------------------------------------------

  // What each bar of a tune's body holds between its bar lines, as [start, end) in the text, for
  // the bars with notes. Chord names, annotations, decorations and inline fields are blanked
  // first: their letters are no notes and their bars no bar lines.
  const BAR_LINE = /:*\[?\|+\]?:*(?:\d+(?:[-,]\d+)*)?|:{2,}|\[\d+(?:[-,]\d+)*/g;
  const PROTECTED = /"[^"\n]*"|![^!\n]*!|\+[^+\s]*\+|\[[A-Za-z]:[^\]\n]*\]/g;
  function bars(abc) {
    const body = abc.search(/^K:.*$/m);
    if (body < 0) return [];
    const found = [];
    let pos = abc.indexOf("\n", body) + 1;
    for (const line of abc.slice(pos).split(/(?<=\n)/)) {
      if (!/^[A-Za-z+]:/.test(line)) {
        const music = line.split("%")[0].replace(/\n$/, "").replace(PROTECTED, (m) => " ".repeat(m.length));
        let last = 0;
        for (const m of [...music.matchAll(BAR_LINE), { index: music.length, 0: "" }]) {
          if (/[A-Ga-gz]/.test(music.slice(last, m.index))) found.push([pos + last, pos + m.index]);
          last = m.index + m[0].length;
        }
      }
      pos += line.length;
    }
    return found;
  }

  fill.bars = bars;  // for the page's tests

  const barAt = (spans, char) => spans.findIndex(([start, end]) => start <= char && char < end);

  // The text with each of ``indices`` (bars with notes, counted from 0) written as a gap.
  function gapped(abc, indices) {
    const spans = bars(abc);
    let text = abc;
    for (const i of [...indices].sort((a, b) => b - a)) text = text.slice(0, spans[i][0]) + BAR_GAP + text.slice(spans[i][1]);
    return text;
  }

  const spansOf = (abc, indices) => [...indices].sort((a, b) => a - b).map((i) => bars(abc)[i]);

  // Lights the notes in ``spans`` of the text a sheet was drawn from (abcjs knows where each of
  // its notes was in that text).
  function light(drawn, spans, cls) {
    for (const line of drawn.lines || []) for (const staff of line.staff || []) for (const voice of staff.voices || []) {
      for (const el of voice) {
        const lit = spans.some(([start, end]) => start <= el.startChar && el.startChar < end);
        for (const svg of (el.abselem && el.abselem.elemset) || []) if (svg) svg.classList.toggle(cls, lit);
      }
    }
  }

  // The lines of music of ``abc`` that hold ``spans``, under its header (less its titles) and the
  // fields met on the way: a short tune, so that the alternatives are seen together; and the spans
  // where they are in it. It is what plays, too: the new bar among its neighbours.
  function excerpt(abc, spans) {
    const body = abc.indexOf("\n", abc.search(/^K:.*$/m)) + 1;
    const last = Math.max(...spans.map(([start]) => start));
    let text = abc.slice(0, body).replace(/^[TRC]:.*\n/gm, ""), pos = body;  // no titles: the tune has them
    const moved = [];
    for (const line of abc.slice(body).split(/(?<=\n)/)) {
      const inside = spans.filter(([start]) => pos <= start && start < pos + line.length);
      if (inside.length || (/^[A-Za-z+]:/.test(line) && pos < last)) {
        for (const [start, end] of inside) moved.push([start - pos + text.length, end - pos + text.length]);
        text += line.endsWith("\n") ? line : line + "\n";
      }
      pos += line.length;
    }
    return { text, spans: moved };
  }

  // -- a tune's card ------------------------------------------------------------------------------

  /** abcjs's options for ``card``'s sheet: a click on a note selects its bar. */
  fill.sheetOptions = (card) => ({ clickListener: (el, tuneNumber, classes, analysis, drag, event) => select(card, el, event) });

  /** The card's sheet is drawn: its bars can be chosen. */
  fill.attach = function attach(card, sheet, drawn, tune, tools) {
    if (!drawn || !tune.files) return;  // a tune with no home in the archive cannot be replaced
    const button = document.createElement("button");
    button.type = "button";
    button.className = "new-bar";
    button.hidden = true;
    button.addEventListener("click", () => newBars(entries.get(card)));
    tools.append(button);
    entries.set(card, { card, sheet, drawn, tune, tools, button, selected: new Set(), checkpoint: checkpointId() });
  };

  function select(card, el, event) {
    const entry = entries.get(card);
    if (!entry || asking) return;
    const bar = barAt(bars(drawnText(entry.tune)), el.startChar);
    if (bar < 0) return;
    if (event && event.shiftKey) entry.selected.has(bar) ? entry.selected.delete(bar) : entry.selected.add(bar);
    else entry.selected = new Set([bar]);
    light(entry.drawn, spansOf(drawnText(entry.tune), entry.selected), "fill-selected");
    const n = entry.selected.size;
    entry.button.hidden = !n;
    entry.button.textContent = n > 1 ? `New bars here (${n})` : "New bar here";
    card.dataset.selectedBars = [...entry.selected].sort((a, b) => a - b).join(",");
  }

  const drawnText = (tune) => tune.played_abc || tune.abc;

  async function newBars(entry) {
    if (asking) return;
    const chosen = new Set(entry.selected);
    const panel = alternativesPanel(entry.card, `Drawing ${ALTERNATIVES} alternatives…`);
    entry.button.disabled = true;
    const result = await ask(entry.checkpoint, gapped(entry.tune.abc, chosen), panel);
    entry.button.disabled = false;
    if (!result) return;
    panel.status.textContent = `${result.alternatives.length} alternatives, best first · ${result.command}`;
    for (const alternative of result.alternatives) panel.list.append(tuneChoice(entry, alternative, chosen));
  }

  function tuneChoice(entry, alternative, chosen) {
    const was = spansOf(entry.tune.abc, chosen).map(([start, end]) => entry.tune.abc.slice(start, end).trim());
    const same = alternative.fills.every((bar, i) => bar.trim() === was[i]);
    const use = () => entry.card.replaceWith(tuneCard({ ...alternative, n: entry.tune.n, title: entry.tune.title }));
    const [item, tools] = choiceItem(alternative, use, same ? "as it was" : "");
    const play = document.createElement("button");
    play.type = "button";
    play.className = "play";
    play.textContent = "▶ Play";
    play.disabled = true;
    tools.prepend(play);
    const sheet = document.createElement("div");
    sheet.className = "sheet";
    item.append(sheet);
    requestAnimationFrame(() => {
      const shown = excerpt(drawnText(alternative), spansOf(drawnText(alternative), chosen));
      const [drawn] = ABCJS.renderAbc(sheet, shown.text, { responsive: "resize", add_classes: true, paddingleft: 0, paddingtop: 0, paddingbottom: 0 });
      light(drawn, shown.spans, "fill-new");
      if (soundHere()) SeqgenPlayer.attach(item, sheet, drawn, alternative, tools);  // the lines shown
    });
    return item;
  }

  // -- the request and the alternatives ------------------------------------------------------------

  async function ask(checkpoint, text, panel) {
    asking = true;
    setError("");
    const body = { checkpoint, text, n: ALTERNATIVES };
    if ($("temperature").value.trim() !== "") body.temperature = Number($("temperature").value);
    try {
      const response = await fetch("/api/fill", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (response.ok) return await response.json();
      const message = await errorOf(response);
      setError(message);
      panel.status.textContent = `No alternatives: ${message}`;
    } catch (e) {
      setError(`cannot reach the server: ${e.message}`);
      panel.status.textContent = "No alternatives.";
    } finally {
      asking = false;
    }
    return null;
  }

  // The place under a tune (or the text) where its alternatives are shown: made new each time.
  function alternativesPanel(after, message) {
    const old = after.parentNode.querySelector(`:scope > .alternatives[data-for="${after.dataset.n || "text"}"]`);
    if (old) old.remove();
    const panel = document.createElement("section");
    panel.className = "alternatives";
    panel.dataset.for = after.dataset.n || "text";
    const status = document.createElement("p");
    status.className = "hint";
    status.textContent = message;
    const list = document.createElement("ol");
    panel.append(status, list);
    after.after(panel);
    return { panel, status, list };
  }

  // An alternative's entry, and its bar of tools: "Use this" (which calls ``use``), then what it is.
  function choiceItem(alternative, use, note = "") {
    const item = document.createElement("li");
    item.className = "alternative";
    const tools = document.createElement("div");
    tools.className = "tools";
    const what = document.createElement("span");
    what.className = "hint";
    const verdict = alternative.verdict ? ` · ${alternative.verdict}` : "";
    what.textContent = `${alternative.rank}. score ${alternative.score.toFixed(2)}${verdict}${note ? ` · ${note}` : ""}`;
    tools.append(useButton(use), what);
    item.append(tools);
    return [item, tools];
  }

  function useButton(use) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "use";
    button.textContent = "Use this";
    button.addEventListener("click", () => {
      SeqgenPlayer.stop();
      button.closest(".alternatives").remove();
      use();
    });
    return button;
  }

  // -- a text -------------------------------------------------------------------------------------

  // Where the selection is in the text shown: [start, end), or null when it is not all inside it.
  function selectedSpan(out) {
    const selection = window.getSelection();
    if (!selection.rangeCount || selection.isCollapsed) return null;
    const range = selection.getRangeAt(0);
    if (!out.contains(range.startContainer) || !out.contains(range.endContainer)) return null;
    const before = document.createRange();
    before.selectNodeContents(out);
    before.setEnd(range.startContainer, range.startOffset);
    const start = before.toString().length;
    return [start, start + range.toString().length];
  }

  async function regenerate() {
    const out = $("text-out"), span = fill.textSpan;
    if (!span || asking) return;
    const whole = out.textContent;
    const panel = alternativesPanel(out, `Drawing ${ALTERNATIVES} alternatives…`);
    const result = await ask(fill.textCheckpoint || checkpointId(), whole.slice(0, span[0]) + TEXT_GAP + whole.slice(span[1]), panel);
    if (!result) return;
    panel.status.textContent = `${result.alternatives.length} alternatives, best first · ${result.command}`;
    for (const alternative of result.alternatives) {
      const [item] = choiceItem(alternative, () => { out.textContent = alternative.text; });
      const [made] = alternative.fills;
      const shown = document.createElement("p");
      shown.className = "excerpt";
      const mark = document.createElement("mark");
      mark.textContent = made;
      shown.append("…" + whole.slice(Math.max(0, span[0] - CONTEXT), span[0]), mark, whole.slice(span[1], span[1] + CONTEXT) + "…");
      item.append(shown);
      panel.list.append(item);
    }
  }

  function textSelected() {
    const span = state.running ? null : selectedSpan($("text-out"));
    if (span) fill.textSpan = span;
    $("regenerate").hidden = !span;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.createElement("button");
    button.type = "button";
    button.id = "regenerate";
    button.textContent = "Regenerate this part";
    button.hidden = true;
    button.addEventListener("mousedown", (e) => e.preventDefault());  // the selection stays
    button.addEventListener("click", regenerate);
    $("text-out").before(button);
    document.addEventListener("selectionchange", textSelected);
  });
  document.addEventListener("seqgen:result", (e) => {
    if (e.detail.kind !== "music") fill.textCheckpoint = e.detail.checkpoint;
    const old = document.querySelector('.alternatives[data-for="text"]');
    if (old) old.remove();
  });
  return fill;
})();
