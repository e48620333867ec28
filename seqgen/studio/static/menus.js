// seqgen studio: the form's menus, built from GET /api/checkpoints: the checkpoints one entry per
// run, and the meters and keys of the chosen model. studio.js, loaded after, uses them.
"use strict";

// One entry per run: its best checkpoint (else its newest that loads), the others of the run
// (last.pt) a choice beside it. A checkpoint at the top of the folder is a run of its own.
function runsOf(checkpoints) {
  const runs = new Map();
  for (const c of checkpoints) {
    const name = c.run || "";
    const key = name ? `run:${name}` : `file:${c.id}`;
    if (!runs.has(key)) runs.set(key, { name, members: [] });
    runs.get(key).members.push(c);
  }
  for (const run of runs.values()) {
    const loads = run.members.filter((c) => !c.error);
    run.main = loads.find((c) => c.file === "best.pt") || loads[0] || run.members[0];
  }
  return [...runs.values()];
}

function checkpointLabel(c) {
  const stem = c.run ? c.file.replace(/\.pt$/, "") : c.id;
  if (c.error) return `${stem} (cannot load)`;
  const figures = [c.step != null ? `step ${c.step.toLocaleString()}` : "",
                   c.perplexity != null ? `ppl ${c.perplexity.toFixed(2)}` : ""].filter(Boolean).join(", ");
  return `${stem}${figures ? ` (${figures})` : ""} · ${c.kind}`;
}

// The checkpoint the next generation uses: the run's entry, or the one chosen inside the run.
function checkpointId() {
  const inside = $("checkpoint-file");
  return inside.hidden ? $("checkpoint").value : inside.value;
}

function showRunMembers() {
  const main = state.checkpoints.find((x) => x.id === $("checkpoint").value);
  const run = main ? runsOf(state.checkpoints).find((r) => r.members.includes(main)) : null;
  const inside = $("checkpoint-file");
  inside.replaceChildren();
  for (const c of run ? run.members : []) {
    const option = document.createElement("option");
    option.value = c.id;
    option.textContent = checkpointLabel(c);
    option.disabled = Boolean(c.error);
    inside.append(option);
  }
  inside.value = main ? main.id : "";
  show(inside, Boolean(run) && run.members.length > 1);
}

// Meter and key as menus: what the model's training tunes have, most common first, "any" (the
// default), and "other…" to type a value.
const OTHER = "\u2026other";

function fieldMenu(name, fields) {
  const menu = $(name);
  const before = menu.value === OTHER ? OTHER : menu.value;
  menu.replaceChildren(new Option("any", ""));
  const values = fields ? fields[name] : [];
  if (values.length) {
    const group = document.createElement("optgroup");
    group.label = fields.source === "common" ? "common values (this checkpoint did not count its tunes')"
                                             : "in its training tunes";
    for (const [value, count] of values) group.append(new Option(count == null ? value : `${value} (${count})`, value));
    menu.append(group);
  }
  menu.append(new Option("other…", OTHER));
  menu.value = [...menu.options].some((o) => o.value === before) ? before : "";
  showOther(name);
}

function showOther(name) {
  const other = $(`${name}-other`);
  show(other, $(name).value === OTHER);
  if (!other.hidden && document.activeElement === $(name)) other.focus();
}
