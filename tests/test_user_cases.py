"""What a new user and a hostile tester met, through the real command line or a real process:
nothing is lost or overwritten unasked, nothing produces nothing with exit 0, and nothing that
cannot apply is silently ignored."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqgen.training import checkpoint
from seqgen.cli import app

from .helpers import TINY, assert_one_line_error, run, seqgen_process


@pytest.fixture
def trained(in_tmp, prose_file):
    assert run("train", prose_file, *TINY, "--out", "run").exit_code == 0
    return in_tmp / "run"


# -- sampling ---------------------------------------------------------------------------------------


def test_sampling_starts_from_the_state_training_sees(trained, monkeypatch):
    from seqgen.models.rnn import RNNLM

    first_inputs = []
    real = RNNLM.next_scores

    def spy(self, x, hidden=None):
        if hidden is None:
            first_inputs.append(x[0].tolist())
        return real(self, x, hidden)

    monkeypatch.setattr(RNNLM, "next_scores", spy)
    assert run("sample", trained / "best.pt", "--length", "5", "--precision", "fp32").exit_code == 0
    payload = checkpoint.load(trained / "best.pt")
    held_out = payload["data"]["val_ids"].tolist()
    newline = payload["vocab"]["tokens"].index("\n")
    (context,) = first_inputs
    assert len(context) > 100 and context[-1] in (1, newline)  # a stretch of held-out text, to a line's end
    assert any(held_out[i:i + len(context)] == context for i in range(len(held_out) - len(context) + 1))


def test_seeds_are_independent_streams():
    from seqgen.sample import stream_seed

    seeds = {(s, r): stream_seed(s, r) for s in range(1, 4) for r in range(5)}
    assert len(set(seeds.values())) == len(seeds)  # round 1 of seed 1 is not round 0 of seed 2
    assert stream_seed(1, 0) == stream_seed(1, 0)


def test_unk_is_never_written(trained):
    from seqgen import api

    model = api.load(trained / "best.pt")
    with torch.no_grad():
        model.network.head.bias[0] = 100.0  # the model now thinks <unk> is by far the likeliest
    text = model.generate(length=200, temperature=1.0, seed=1, precision="fp32")
    assert "<unk>" not in text and len(text) == 200


@pytest.mark.parametrize("args", [["--temperature", "1e308"], ["--temperature", "3e38", "--top-p", "0.5"],
                                  ["--temperature", "1e308", "--top-k", "3"], ["--top-p", "1e-300"],
                                  ["--temperature", "1e308", "--top-k", "1000000000000", "--top-p", "1e-45"]])
def test_extreme_settings_never_write_unk(trained, args):
    done = run("sample", trained / "best.pt", "--length", "60", "--seed", "1", *args)
    assert done.exit_code == 0 and "<unk>" not in done.stdout and len(done.stdout) == 61, done.output


def test_top_k_and_top_p_keep_their_meaning_at_any_temperature(trained):
    greedy = run("sample", trained / "best.pt", "--temperature", "0", "--length", "60", "--prime", "The").stdout
    for args in (["--temperature", "1e308", "--top-k", "1"], ["--temperature", "1e308", "--top-p", "1e-300"]):
        assert run("sample", trained / "best.pt", *args, "--length", "60", "--prime", "The").stdout == greedy


def test_a_tiny_temperature_is_greedy_not_nan(trained):
    tiny = run("sample", trained / "best.pt", "--temperature", "1e-45", "--length", "60", "--prime", "The")
    greedy = run("sample", trained / "best.pt", "--temperature", "0", "--length", "60", "--prime", "The")
    assert tiny.exit_code == 0 and tiny.stdout == greedy.stdout and "<unk>" not in tiny.stdout


def test_samples_go_to_files_never_over_old_ones(trained):
    one = run("sample", trained / "best.pt", "--length", "40", "--seed", "1", "--out", "story.txt")
    assert one.exit_code == 0 and len((trained.parent / "story.txt").read_text()) == 41
    assert run("sample", trained / "best.pt", "--length", "40", "--seed", "1").stdout == \
        (trained.parent / "story.txt").read_text()  # the same sample as on the terminal
    three = run("sample", trained / "best.pt", "--length", "20", "--num-samples", "3", "--out", "s.txt")
    assert three.exit_code == 0
    assert sorted(p.name for p in trained.parent.glob("s-*.txt")) == ["s-1.txt", "s-2.txt", "s-3.txt"]
    before = (trained.parent / "story.txt").read_text()
    assert_one_line_error(run("sample", trained / "best.pt", "--out", "story.txt"), 1, "exists", "--overwrite")
    assert (trained.parent / "story.txt").read_text() == before
    assert run("sample", trained / "best.pt", "--out", "story.txt", "--overwrite", "--length", "5").exit_code == 0


@pytest.mark.slow
def test_an_endless_sample_streams_in_constant_memory(in_tmp, prose_file):
    # A word model: each step's scores are some 2,000 floats (a character model's, under 100), so a
    # tensor kept per step shows in a few thousand steps (~50 MB over the 40,000 characters read
    # between the two readings), far past the 20 MB allowed for the allocator's slack.
    assert run("train", prose_file, *TINY, "--level", "word", "--out", "words").exit_code == 0
    proc = subprocess.Popen([sys.executable, "-m", "seqgen", "sample", str(in_tmp / "words" / "best.pt"),
                             "--length", "1000000000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def rss_after(chars: int) -> int:
            proc.stdout.read(chars)
            with open(f"/proc/{proc.pid}/status") as fh:
                return int(next(line for line in fh if line.startswith("VmRSS")).split()[1])

        early = rss_after(5_000)
        late = rss_after(40_000)
        assert late - early < 20_000, (early, late)  # kB: no growth with the length drawn
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("args, words", [
    (["--length", "1000000000000", "--num-samples", "2"], ["at most 10,000,000"]),
    (["--tunes", "2"], ["--tunes does not apply", "text model"]),
    (["--wav"], ["--wav", "does not apply"]),
])
def test_sampling_options_that_cannot_apply_or_are_too_big(trained, args, words):
    assert_one_line_error(run("sample", trained / "best.pt", *args), 2, *words)


def test_full_output_is_one_line_and_exit_1(trained):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "seqgen", "sample", str(trained / "best.pt"), "--length", "20000"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == "error: cannot write the output: No space left on device"


# -- training ---------------------------------------------------------------------------------------


def test_a_run_folder_is_never_replaced_unasked(trained, prose_file):
    before = (trained / "best.pt").read_bytes(), (trained / "metrics.jsonl").read_text()
    assert_one_line_error(run("train", prose_file, *TINY, "--out", trained), 2, "already holds a run", "--resume")
    assert ((trained / "best.pt").read_bytes(), (trained / "metrics.jsonl").read_text()) == before
    again = run("train", prose_file, *TINY, "--max-steps", "3", "--out", trained, "--overwrite")
    assert again.exit_code == 0, again.stderr
    assert [r["step"] for r in map(json.loads, (trained / "metrics.jsonl").read_text().splitlines())] == [3]


@pytest.mark.filterwarnings("default::seqgen.errors.SeqgenWarning")  # the leftovers replaced, with a warning
def test_a_folder_left_by_a_failed_first_save_can_be_run_again(in_tmp, prose_file, monkeypatch):
    import errno

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(checkpoint, "write_bytes", disk_full)
        failed = run("train", prose_file, *TINY, "--out", "run")
    assert failed.exit_code == 1 and "could not save checkpoint" in failed.stderr.splitlines()[-1]
    assert "nothing was saved" in failed.stderr.splitlines()[-1]
    left = sorted(p.name for p in (in_tmp / "run").iterdir() if not p.name.startswith("."))
    assert left == ["metrics.jsonl"]  # no checkpoint: nothing to resume
    again = run("train", prose_file, *TINY, "--out", "run")
    assert again.exit_code == 0, again.stderr
    assert "warning: run held metrics.jsonl of a run that saved no checkpoint; the new run replaces" in again.stderr
    assert (in_tmp / "run" / "last.pt").is_file()
    assert [r["step"] for r in map(json.loads, (in_tmp / "run" / "metrics.jsonl").read_text().splitlines())] == [3, 6]
    (in_tmp / "run" / "last.pt").unlink()  # a run with only its best checkpoint: the hint names that one
    assert_one_line_error(run("train", prose_file, *TINY, "--out", "run"), 2, "--resume run/best.pt")


def test_a_run_resumes_from_any_folder(in_tmp, prose_file, monkeypatch):
    import shutil

    shutil.copy(prose_file, in_tmp / "prose.txt")
    assert run("train", "prose.txt", *TINY, "--out", "run").exit_code == 0  # a source given relative
    assert checkpoint.load(in_tmp / "run" / "last.pt")["data"]["sources"] == [str(in_tmp / "prose.txt")]
    (in_tmp / "elsewhere").mkdir()
    monkeypatch.chdir(in_tmp / "elsewhere")
    more = run("train", "--resume", in_tmp / "run" / "last.pt", "--max-steps", "9")
    assert more.exit_code == 0, more.stderr
    # A checkpoint of an earlier seqgen, with its sources relative to where it was started:
    old = checkpoint.load(in_tmp / "run" / "last.pt")
    old["data"]["sources"] = ["prose.txt"]
    torch.save(old, in_tmp / "run" / "old.pt")
    assert_one_line_error(run("train", "--resume", in_tmp / "run" / "old.pt", "--max-steps", "12"), 1,
                          "prose.txt: no such file or folder in", "relative to the folder it was started in")
    monkeypatch.chdir(in_tmp)
    (in_tmp / "prose.txt").unlink()
    assert_one_line_error(run("train", "--resume", in_tmp / "run" / "last.pt", "--max-steps", "12"), 1,
                          f"{in_tmp / 'prose.txt'}: no such file or folder", "put it back")


def test_resuming_from_best_never_drops_a_later_last(in_tmp, prose_file):
    assert run("train", prose_file, *TINY, "--max-steps", "3", "--out", "run").exit_code == 0
    early = (in_tmp / "run" / "best.pt").read_bytes()  # step 3
    assert run("train", "--resume", "run/last.pt", "--max-steps", "9").exit_code == 0
    (in_tmp / "run" / "best.pt").write_bytes(early)  # as when validation loss rose after step 3
    last = (in_tmp / "run" / "last.pt").read_bytes()
    assert_one_line_error(run("train", "--resume", "run/best.pt", "--max-steps", "12"), 2,
                          "last.pt is further along (step 9)", "--overwrite")
    assert (in_tmp / "run" / "last.pt").read_bytes() == last
    assert run("train", "--resume", "run/best.pt", "--max-steps", "12", "--overwrite").exit_code == 0
    steps = [r["step"] for r in map(json.loads, (in_tmp / "run" / "metrics.jsonl").read_text().splitlines())]
    assert steps == sorted(steps) and steps[-1] == 12  # no step of the dropped branch remains


def test_time_budget_on_resume_means_more_time(trained):
    assert checkpoint.load(trained / "last.pt")["progress"]["step"] == 6
    assert_one_line_error(run("train", "--resume", trained / "last.pt"), 2, "already reached its limit",
                          "--time-budget")
    more = run("train", "--resume", trained / "last.pt", "--max-steps", "1000000", "--time-budget", "2s")
    assert more.exit_code == 0, more.stderr
    assert checkpoint.load(trained / "last.pt")["progress"]["step"] > 6


def test_a_run_that_reached_max_steps_says_that_more_time_does_not_lift_it(trained):
    result = run("train", "--resume", trained / "last.pt", "--time-budget", "5s")
    assert_one_line_error(result, 2, "--max-steps 6", "give a larger --max-steps", "--time-budget alone does not lift it")
    assert "give --max-steps, --epochs or --time-budget" not in result.stderr


@pytest.mark.parametrize("args, words", [
    (["--hidden", "64"], ["cannot change --hidden (the run has 32, given 64) when resuming"]),
    (["--level", "word", "--layers", "3"], ["--layers (the run has 1, given 3), --level (the run has char, given word)"]),
])
def test_resume_refuses_settings_it_cannot_apply(trained, args, words):
    assert_one_line_error(run("train", "--resume", trained / "last.pt", "--max-steps", "20", *args), 2, *words)
    # the run's own settings, given again, are no change
    assert run("train", "--resume", trained / "last.pt", "--max-steps", "8", *TINY[:8]).exit_code == 0


@pytest.mark.parametrize("args, words", [
    (["--model", "ngram", "--hidden", "64"], ["--hidden does not apply to --model ngram"]),
    (["--model", "ngram", "--cell", "gru", "--max-steps", "5"], ["--cell, --max-steps do not apply"]),
    (["--time-budget", "0s"], ["--time-budget must be a positive duration"]),
    (["--level", "word", "--max-vocab", "1"], ["no tokens besides <unk> and <eos>"]),
    (["--level", "word", "--min-count", "1000000"], ["no tokens besides"]),
    (["--hidden", "100000"], ["parameters and needs about", "TB of memory", "lower --hidden"]),
])
def test_training_options_that_cannot_apply(in_tmp, prose_file, args, words):
    assert_one_line_error(run("train", prose_file, *args), 2, *words)
    assert not (in_tmp / "checkpoints").exists()


def test_the_last_progress_line_is_the_last_step(in_tmp, prose_file):
    proc = seqgen_process("train", prose_file, "--hidden", "32", "--layers", "1", "--seq-len", "16", "--batch-size", "8",
                  "--max-steps", "37", "--eval-every", "100", "--out", "run", cwd=in_tmp)
    assert proc.returncode == 0, proc.stderr
    bars = [line for line in proc.stderr.splitlines() if line.lstrip().startswith("step ") and "tok/s" in line]
    assert bars and bars[-1].split()[1] == "37" and "100%" in bars[-1], proc.stderr
    assert "stopped (max-steps) at step 37 after 37 steps" in proc.stderr


def test_every_option_shows_its_default():
    import typer.main

    command = typer.main.get_command(app)
    ctx = typer.Context(command)
    for name, sub in command.commands.items():
        for param in sub.params:
            if param.param_type_name != "option" or param.name == "help":
                continue
            help_text = param.get_help_record(typer.Context(sub, parent=ctx))[1]
            assert "default:" in help_text, (name, param.name, help_text)


# -- inputs that are not what they seem --------------------------------------------------------------


@pytest.mark.parametrize("source, words", [("/dev/zero", "a device"), ("/dev/urandom", "a device"), ("fifo", "a pipe")])
def test_pipes_and_devices_are_refused_at_once(in_tmp, source, words):
    if source == "fifo":
        os.mkfifo(in_tmp / "fifo")
    started = time.monotonic()
    proc = seqgen_process("train", source, cwd=in_tmp, timeout=60)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and words in proc.stderr, proc.stderr
    assert time.monotonic() - started < 30


def test_a_file_given_twice_or_through_links_is_trained_on_once(in_tmp, prose_file):
    import shutil

    shutil.copy(prose_file, "prose.txt")
    os.symlink("prose.txt", "link.txt")
    os.link("prose.txt", "hard.txt")
    os.mkdir("folder")
    os.symlink(in_tmp / "prose.txt", "folder/inside.txt")
    once = run("train", "prose.txt", *TINY, "--out", "once")
    many = run("train", "prose.txt", "prose.txt", "link.txt", "hard.txt", "./prose.txt", "folder", *TINY,
               "--out", "many")
    assert once.exit_code == 0 and many.exit_code == 0, many.stderr
    assert "read once what was given again" in " ".join(many.stderr.split()) and "link.txt (the same file" in \
        " ".join(many.stderr.split())
    first, again = (checkpoint.load(in_tmp / run_ / "last.pt")["data"] for run_ in ("once", "many"))
    assert again["sources"] == [str(in_tmp / "prose.txt")] and again["train_tokens"] == first["train_tokens"]
    assert torch.equal(again["val_ids"], first["val_ids"])  # no held-out text also in the training part


@pytest.mark.slow
def test_ctrl_c_while_reading_stops_at_once(in_tmp, tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "fresh-cache")}  # tunes not checked yet: a long read
    proc = subprocess.Popen([sys.executable, "-m", "seqgen", "train", "builtin:oneills"], cwd=in_tmp, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "error: interrupted", err
    assert "Traceback" not in err


def test_a_rewritten_file_is_read_again_by_a_new_run(in_tmp, prose):
    corpus = in_tmp / "t.txt"
    corpus.write_text(prose[:30_000])
    stamp = corpus.stat().st_mtime_ns
    assert run("train", corpus, *TINY, "--out", "a").exit_code == 0
    corpus.write_text(prose[:30_000].replace("e", "E"))  # the same size, other text
    os.utime(corpus, ns=(stamp, stamp))
    assert run("train", corpus, *TINY, "--out", "b").exit_code == 0
    vocab = checkpoint.load(in_tmp / "b" / "best.pt")["vocab"]["tokens"]
    assert "E" in vocab and "e" not in vocab


DAMAGE = {
    "NaN weights": lambda p: p["model_state"]["embed.weight"].__setitem__((0, 0), float("nan")),
    "vocabulary shorter than the embedding": lambda p: p["vocab"]["tokens"].pop(),
    "no vocabulary level": lambda p: p["vocab"].pop("level"),
    "unknown vocabulary level": lambda p: p["vocab"].__setitem__("level", "sentence"),
    "data not a dict": lambda p: p.__setitem__("data", [1, 2, 3]),
    "no held-out ids": lambda p: p["data"].pop("val_ids"),
    "empty held-out ids": lambda p: p["data"].__setitem__("val_ids", torch.zeros(0, dtype=torch.int32)),
    "held-out ids out of range": lambda p: p["data"]["val_ids"].__setitem__(0, 10_000),
    "duplicate vocabulary entries": lambda p: p["vocab"]["tokens"].__setitem__(5, p["vocab"]["tokens"][4]),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_is_refused_by_every_command(trained, damage):
    payload = torch.load(trained / "best.pt", weights_only=True)
    DAMAGE[damage](payload)
    torch.save(payload, trained / "damaged.pt")
    for command in (["sample"], ["eval", "--json"], ["train", "--max-steps", "20", "--resume"]):
        assert_one_line_error(run(*command, trained / "damaged.pt"), 1, "damaged")
