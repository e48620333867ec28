// seqgen studio: a tune played in the page by abcjs's own synth, its notes lit as they sound.
// The notes come from the studio itself (/soundfont/, see seqgen/studio/soundfont.py), never from
// another site: without soundFontUrl abcjs would fetch them from GitHub Pages.
"use strict";

const SeqgenPlayer = (() => {
  const SOUNDFONT = "/soundfont/";
  const LIT = "playing";  // the class of the notes sounding now (studio.css)
  const SVG = "http://www.w3.org/2000/svg";
  let audio = null;  // one AudioContext for the page: browsers allow a page only a few
  let current = null;  // the one tune playing or loading its notes: {entry, synth, timer, lit, cursor, qpm}
  const seen = { events: 0 };  // what the page's tests read (status())
  const player = { onError: (message) => console.error(message) };

  function context() {
    if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    return audio;
  }

  function tempoPercent() {
    const value = Number(document.getElementById("tempo") && document.getElementById("tempo").value);
    return value > 0 ? value : 100;
  }

  // The tune's tempo in quarter notes a minute: the server's reading (Q:, else the tune's kind)
  // when it sends one, else abcjs's reading of Q:. abcjs counts in the meter's beats (a dotted
  // quarter in 6/8), so its "qpm" is that many beats a minute.
  function tuneQpm(entry) {
    const tempo = entry.tune.tempo;
    if (tempo && tempo.qpm > 0) return tempo.qpm;
    return entry.visualObj.getBpm() * entry.visualObj.getBeatLength() * 4;
  }

  function abcjsBeats(entry, qpm) { return qpm / (4 * entry.visualObj.getBeatLength()); }

  function label(entry, what) {
    const text = { stopped: "▶ Play", loading: "… Loading", playing: "■ Stop" }[what];
    entry.button.textContent = text;
    entry.button.setAttribute("aria-pressed", what === "stopped" ? "false" : "true");
  }

  function showTempo(run) {
    const shown = document.getElementById("tempo-now");
    if (shown) shown.textContent = run ? `tune ${run.entry.tune.n}: ♩ = ${Math.round(run.qpm)}` : "";
  }

  async function play(entry, from) {
    stop();
    const run = { entry, synth: new ABCJS.synth.CreateSynth(), timer: null, lit: [], cursor: null };
    run.qpm = tuneQpm(entry) * tempoPercent() / 100;
    const beats = abcjsBeats(entry, run.qpm);
    current = run;
    label(entry, "loading");
    try {
      const ctx = context();
      const resumed = ctx.resume();  // asked in the click's own turn: a page's sound starts on a gesture
      await run.synth.init({
        visualObj: entry.visualObj, audioContext: ctx,
        millisecondsPerMeasure: entry.visualObj.millisecondsPerMeasure(beats),
        options: { soundFontUrl: SOUNDFONT, qpm: beats, onEnded: () => { if (current === run) stop(); } },
      });
      await run.synth.prime();
      await resumed;
    } catch (e) {
      if (current === run) { stop(); player.onError(`this tune cannot be played here: ${e.message || e}`); }
      return;
    }
    if (current !== run) return;  // stopped, or another tune started, while its notes loaded
    if (!entry.card.isConnected) { stop(); return; }  // its batch was replaced meanwhile
    run.timer = new ABCJS.TimingCallbacks(entry.visualObj, { qpm: beats, eventCallback: (ev) => follow(run, ev) });
    if (from) run.synth.seek(from);
    run.synth.start();
    run.timer.start(from || undefined);
    label(entry, "playing");
    showTempo(run);
  }

  function stop() {
    const run = current;
    if (!run) return;
    current = null;
    if (run.timer) run.timer.stop();
    try { run.synth.stop(); } catch (e) { /* not started yet: nothing sounds */ }
    unlight(run);
    if (run.cursor) run.cursor.remove();
    label(run.entry, "stopped");
    showTempo(null);
  }

  function unlight(run) {
    for (const el of run.lit) el.classList.remove(LIT);
    run.lit = [];
  }

  // abcjs's timing callback: ``ev`` lists the notes that start now, and where they are drawn;
  // null at the end of the music (the sound's last note still rings, until onEnded).
  function follow(run, ev) {
    if (current !== run) return;
    if (!run.entry.card.isConnected) { stop(); return; }  // its batch was replaced by another
    unlight(run);
    if (!ev) { if (run.cursor) run.cursor.setAttribute("visibility", "hidden"); return; }
    run.lit = ev.elements.flat();
    for (const el of run.lit) el.classList.add(LIT);
    moveCursor(run, ev);
    seen.events += 1;
  }

  function moveCursor(run, ev) {
    if (!run.cursor) {
      run.cursor = document.createElementNS(SVG, "line");
      run.cursor.setAttribute("class", "cursor");
      run.entry.sheet.querySelector("svg").append(run.cursor);
    }
    const x = String(ev.left - 2);
    for (const [name, value] of [["x1", x], ["x2", x], ["y1", ev.top], ["y2", ev.top + ev.height]]) {
      run.cursor.setAttribute(name, value);
    }
  }

  // A new tempo takes effect at once: the playing tune starts again where it was, at that tempo.
  function retempo() {
    const run = current;
    if (!run) return;
    const at = run.timer ? Math.min(run.timer.currentTime / run.timer.lastMoment, 0.99) || 0 : 0;
    play(run.entry, at);
  }

  /** Make ``bar``'s Play button play ``tune`` (drawn in ``sheet`` as ``visualObj``) in the page. */
  player.attach = function attach(card, sheet, visualObj, tune, bar) {
    const button = bar.querySelector("button.play");
    if (!button) return;
    if (!visualObj || !ABCJS.synth.supportsAudio()) {
      button.disabled = true;
      button.title = "this browser cannot play audio";
      return;
    }
    const entry = { card, sheet, visualObj, tune, button };
    button.disabled = false;
    button.title = "Play in the page (the notes light up as they sound)";
    label(entry, "stopped");
    button.addEventListener("click", () => (current && current.entry === entry ? stop() : play(entry, 0)));
    const control = document.getElementById("tempo-control");
    if (control) control.hidden = false;
  };

  player.stop = stop;

  /** What is playing, for the page's tests: state, tune, tempo, the audio clock, events seen,
   * notes played. */
  player.status = () => ({
    state: current ? (current.timer ? "playing" : "loading") : "stopped",
    tune: current ? current.entry.tune.n : null,
    qpm: current ? current.qpm : null,
    duration: current && current.timer ? current.synth.duration : null,
    audio: audio ? audio.state : null,
    time: audio ? audio.currentTime : null,
    events: seen.events,
    notes: current && current.timer ? soundedNotes(current.synth) : null,
  });

  // The notes the synth plays, repeats played out: abcjs's own sequence of the tune.
  function soundedNotes(synth) {
    return (synth.flattened ? synth.flattened.tracks : []).flat().filter((e) => e.cmd === "note").length;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const tempo = document.getElementById("tempo");
    if (tempo) tempo.addEventListener("change", retempo);
  });
  return player;
})();
