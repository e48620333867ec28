"""Output that cannot be written ends in one line, never a traceback, and what was written stays:
a closed or full stdout (help and version too), an encoding that cannot hold the text, a folder
name that is not UTF-8, a signal in the middle of a long sample or batch of tunes; a reader gone
stops it quietly; and no noise from matplotlib where its folders cannot be written. Real
processes: closed descriptors, pipes, signals and matplotlib's start-up are what an in-process
runner cannot show."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from seqgen.music.validate import check_tune

from .helpers import TINY, run

SEQGEN = f"{sys.executable} -m seqgen"


def signal_once(proc: subprocess.Popen, ready, signum: int, wait: float = 120) -> str:
    """Send ``signum`` to ``proc`` as soon as ``ready()`` holds (a failure if it ends, or ``wait``
    seconds pass, first); what it then said on stderr."""
    deadline = time.monotonic() + wait
    while not ready():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signum)
    return proc.communicate(timeout=120)[1]


def shell(command: str, **env) -> subprocess.CompletedProcess:
    """``command`` through sh, as a user types it (``>&-`` closes stdout before seqgen starts),
    with ``env`` added to the environment."""
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def assert_one_line(returncode: int, stderr: str, code: int, *words: str) -> None:
    lines = stderr.strip().splitlines()
    assert returncode == code and len(lines) == 1 and lines[0].startswith("error: "), stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("command, words", [
    ("--version >&-", ["standard output is closed"]),
    ("--help >&-", ["standard output is closed"]),
    ("sample {ckpt} --length 20 >&-", ["standard output is closed"]),
    ("--help > /dev/full", ["No space left on device"]),
    ("sample {ckpt} --length 20 --prime 'It’s'", ["encoding (ascii) cannot hold '\\u2019'",
                                                 "PYTHONIOENCODING=utf-8"]),
])
def test_output_that_cannot_be_written_is_one_line(char_run, command, words):
    proc = shell(f"{SEQGEN} {command.format(ckpt=char_run.best_path)}", PYTHONIOENCODING="ascii")
    assert_one_line(proc.returncode, proc.stderr, 1, "cannot write the output", *words)


def reader_gone(*args: str) -> subprocess.CompletedProcess:
    """seqgen ``args`` writing into a real pipe whose reader has gone, as ``| head -1`` once it has
    its line: every write fails with EPIPE (no race with a reader that may not have left yet)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "seqgen", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    finally:
        os.close(write)


@pytest.mark.parametrize("command, code", [
    ("--help", 0), ("--version", 0), ("sample --help", 0), ("studio --help", 0),  # click and rich said exit 1
    ("", 2),  # no command: its help is a usage error's, pipe or not
    ("eval {ckpt}", 0),  # a rich table: rich's own handling said exit 1
    ("sample {ckpt} --length 50", 0), ("sample {ckpt} --length 50 --num-samples 2", 0),
])
def test_a_reader_that_has_gone_stops_any_output_quietly(char_run, command, code):
    proc = reader_gone(*command.format(ckpt=char_run.best_path).split())
    assert (proc.returncode, proc.stderr) == (code, "")


@pytest.mark.parametrize("redirect", ["2>&-", "2> /dev/full"])
def test_messages_that_cannot_be_written_change_nothing_else(char_run, tmp_path, redirect):
    done = shell(f"cd {tmp_path} && {SEQGEN} sample {char_run.best_path} --length 10 --out x.txt {redirect}")
    assert done.returncode == 0 and (tmp_path / "x.txt").stat().st_size > 10  # written: a success
    assert shell(f"{SEQGEN} sample {tmp_path / 'none.pt'} {redirect}").returncode == 1  # a failure still


def test_a_folder_name_that_is_not_utf8_is_written_as_its_bytes(in_tmp, prose_file):
    name = os.fsdecode(b"run\xff")
    result = run("train", prose_file, *TINY, "--out", name)
    assert result.exit_code == 0, result.output
    assert (in_tmp / name / "loss.png").stat().st_size > 0
    table = subprocess.run([sys.executable, "-m", "seqgen", "eval", f"{name}/best.pt"], capture_output=True,
                           timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})  # strict, as en_US.UTF-8
    assert table.returncode == 0 and b"run\xff/best.pt" in table.stdout, table.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "interrupted"),
                                                 (signal.SIGTERM, 143, "terminated")])
def test_a_stopped_sample_keeps_what_it_wrote_and_says_how_far(char_run, tmp_path, signum, code, said):
    proc = subprocess.Popen([sys.executable, "-m", "seqgen", "sample", str(char_run.best_path), "--length",
                             "100000000", "--out", "big.txt", "--seed", "1"], cwd=tmp_path, stderr=subprocess.PIPE,
                            text=True)
    # the sample streams into its file
    err = signal_once(proc, lambda: any(p.stat().st_size > 2000 for p in tmp_path.glob(".big.*")), signum)
    found = re.fullmatch(rf"error: {said} after ([\d,]+) of 100,000,000 tokens: big.txt holds the ([\d,]+) "
                         r"characters written so far\n", err)
    assert proc.returncode == code and found, err
    text = (tmp_path / "big.txt").read_text(encoding="utf-8")
    assert len(text) - 1 == int(found[2].replace(",", "")) >= 2000 and text.endswith("\n")
    assert found[1] == found[2]  # a character model: a token is a character
    assert [p.name for p in tmp_path.iterdir()] == ["big.txt"]  # no temporary file left


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "interrupted"),
                                                 (signal.SIGTERM, 143, "terminated")])
def test_stopped_samples_side_by_side_keep_what_they_drew(char_run, tmp_path, signum, code, said):
    # Three samples drawn side by side were written at the end: a signal lost all of them.
    proc = subprocess.Popen([sys.executable, "-m", "seqgen", "sample", str(char_run.best_path), "--length",
                             "3000000", "--num-samples", "3", "--out", "big.txt", "--seed", "1"], cwd=tmp_path,
                            stderr=subprocess.PIPE, text=True)
    err = signal_once(proc, lambda: len([p for p in tmp_path.glob(".big-*") if p.stat().st_size > 2000]) == 3, signum)
    found = re.fullmatch(rf"error: {said} after ([\d,]+) of 3,000,000 tokens: big-1.txt to big-3.txt hold the 3 "
                         r"samples as far as they were drawn\n", err)
    assert proc.returncode == code and found, err
    texts = [(tmp_path / f"big-{i}.txt").read_text(encoding="utf-8") for i in (1, 2, 3)]
    assert all(len(t) > 2000 and t.endswith("\n") for t in texts) and len(set(texts)) == 3
    assert abs(len(texts[0]) - 1 - int(found[1].replace(",", ""))) <= 1  # a character model: a token is a character
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big-1.txt", "big-2.txt", "big-3.txt"]  # no temporary file


@pytest.mark.slow
@pytest.mark.parametrize("signum, code, said, more", [(signal.SIGINT, 130, "interrupted", []),
                                                       (signal.SIGTERM, 143, "terminated", ["--keep-invalid"])])
def test_stopped_tunes_keep_the_tunes_written_and_say_how_many(music_run, tmp_path, signum, code, said, more):
    # Tunes are drawn side by side and were written at the end: a signal lost every one of them.
    proc = subprocess.Popen([sys.executable, "-m", "seqgen", "sample", str(music_run.best_path), "--tunes", "200",
                             "--seed", "1", "--out", "t", *more], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    out = tmp_path / "t"
    err = signal_once(proc, (out / "001.abc").exists, signum, wait=240)  # each tune written once its number is sure
    found = re.fullmatch(rf"error: {said} after (\d+) of 200 tunes: t holds the \1 valid tunes written so far"
                         r"( and (\d+) invalid)?\n", err)
    assert proc.returncode == code and found, err
    valid, invalid = int(found[1]), int(found[3] or 0)
    names = {p.name for p in out.iterdir()}
    abc = [f"{n:03d}.abc" for n in range(1, valid + 1)] + \
        [f"{n:03d}-invalid.abc" for n in range(valid + 1, valid + invalid + 1)]
    assert 1 <= valid < 200 and {n for n in names if n.endswith(".abc")} == set(abc), sorted(names)
    assert all(re.fullmatch(r"\d{3}(-invalid)?\.(abc|mid)", n) for n in names), sorted(names)  # no temporary file
    for name in abc[:valid]:
        assert check_tune((out / name).read_text(encoding="utf-8")).valid, name


def test_sigterm_ends_any_command_in_one_line(char_run):
    proc = subprocess.Popen([sys.executable, "-m", "seqgen", "sample", str(char_run.best_path), "--length",
                             "100000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.read(2000)  # streaming to standard output
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert_one_line(proc.returncode, err, 143, "terminated")


@pytest.mark.parametrize("signum, code, reason", [(signal.SIGINT, 130, "interrupted"),
                                                   (signal.SIGTERM, 143, "terminated")])
@pytest.mark.parametrize("loaded", ["typer", "seqgen.models.registry", "torch.nn"])
def test_a_signal_while_the_command_line_loads_is_one_line(char_run, signum, code, reason, loaded):
    # -X importtime prints a line as each module has loaded: the signal comes once typer has (the
    # command line loading), once the model types' registry has (typer reading the options, which
    # ends a Ctrl-C in silence), or once torch.nn has, in the middle of loading torch (where an
    # exception can turn into another or be lost).
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "seqgen", "sample", str(char_run.best_path),
                             "--length", "100000000"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, proc.kill)  # a module that never shows up must not hang the suite
    watchdog.start()
    said = []
    for line in proc.stderr:
        said.append(line)
        if re.search(rf"\|\s+{re.escape(loaded)}$", line):
            break
    proc.send_signal(signum)
    # The rest through the same reader: communicate() would read the pipe itself, past what the
    # reader had already taken in after the last line (a line's first characters, now and then).
    err = proc.stderr.read()
    proc.wait(timeout=60)
    watchdog.cancel()
    assert re.search(rf"\|\s+{re.escape(loaded)}$", said[-1].rstrip())  # sent while loading, as meant
    messages = [line for line in said + err.splitlines(keepends=True) if not line.startswith("import time:")]
    assert_one_line(proc.returncode, "".join(messages), code, reason)


# The signal's exception landing inside a constructor, at the one moment the suite once caught by
# chance: a ZipFile checking the checkpoint has opened its file and not yet set its other
# attributes, so its finaliser fails when freed ("Exception ignored in: ... ZipFile.__del__").
CUT_SHORT = """
import sys, zipfile
from seqgen.cli import main
from seqgen.errors import Terminated

class Threading:
    def RLock(self):
        raise {exception}

zipfile.threading = Threading()
sys.argv = ["seqgen", "sample", sys.argv[1], "--length", "10"]
main()
"""


@pytest.mark.parametrize("exception, code, reason", [("KeyboardInterrupt", 130, "interrupted"),
                                                     ("Terminated()", 143, "terminated")])
def test_a_signal_that_cuts_an_object_short_is_still_one_line(char_run, exception, code, reason):
    proc = subprocess.run([sys.executable, "-c", CUT_SHORT.format(exception=exception), str(char_run.best_path)],
                          capture_output=True, text=True, timeout=120)
    assert_one_line(proc.returncode, proc.stderr, code, reason)


def test_other_finalisers_still_fail_aloud_after_a_signal():
    # Only the finalisers of what the signal cut short are excused: another object's failing
    # finaliser is still reported, after the one line.
    script = """
import gc, sys
from seqgen.cli.common import friendly

class Broken:
    def __del__(self):
        raise ValueError("a finaliser that fails on its own")

class CutShort:
    def __init__(self):
        raise KeyboardInterrupt
    def __del__(self):
        self.missing

@friendly
def command():
    keep = Broken()
    CutShort()

try:
    command()
except BaseException:  # typer.Exit, the command's exit code
    pass
gc.collect()
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.stderr.startswith("error: interrupted\n"), proc.stderr
    assert "a finaliser that fails on its own" in proc.stderr and "missing" not in proc.stderr, proc.stderr


def test_matplotlib_is_quiet_where_its_folders_cannot_be_written(tmp_path, prose_file):
    (tmp_path / "not-a-folder").write_text("")
    temp = tmp_path / "temp"
    temp.mkdir()
    proc = shell(f"{SEQGEN} train {prose_file} {' '.join(TINY)} --out {tmp_path / 'run'}",
                 XDG_CACHE_HOME=str(tmp_path / "not-a-folder"), XDG_CONFIG_HOME=str(tmp_path / "config"),
                 TMPDIR=str(temp))
    assert proc.returncode == 0, proc.stderr
    assert not re.search("MPLCONFIGDIR|Matplotlib created|mkdir -p failed", proc.stderr), proc.stderr
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    assert list(temp.iterdir()) == []  # its temporary folder removed at exit


TUNE = "X:1\nT:Reel\nM:4/4\nL:1/8\nK:D\n|:DFAd fdAF|GBdg fdAF|DFAd fdAF|GBAG FDD2:|\n"


def json_lines(stdout: bytes) -> list:
    """What a --json command wrote: valid UTF-8 (strict), one JSON value a line or one in all."""
    text = stdout.decode("utf-8")
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines()]


def test_check_json_is_utf8_whatever_the_file_names(tmp_path):
    (tmp_path / os.fsdecode(b"reel\xe9.abc")).write_text(TUNE)  # a Latin-1 name: not UTF-8
    (tmp_path / "café.abc").write_text(TUNE)
    proc = subprocess.run([sys.executable, "-m", "seqgen", "check", str(tmp_path), "--json"], capture_output=True,
                          timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert proc.returncode == 0, proc.stderr
    files = sorted(os.path.basename(r["file"]) for r in json_lines(proc.stdout))
    assert files == ["café.abc", "reel\\xe9.abc"]  # readable where it can be; each other byte as \xNN


def test_eval_json_is_utf8_whatever_the_checkpoint_name(char_run, tmp_path):
    import shutil

    odd = tmp_path / os.fsdecode(b"model\xff.pt")
    shutil.copy(char_run.best_path, odd)
    proc = subprocess.run([sys.executable, "-m", "seqgen", "eval", str(odd), "--json"], capture_output=True,
                          timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert proc.returncode == 0, proc.stderr
    [row] = json_lines(proc.stdout)
    assert row["checkpoint"].endswith("model\\xff.pt") and row["perplexity"] > 1


def test_tables_print_the_text_of_tunes_as_written(tmp_path):
    """A rejected tune's reason quotes it, and a sampled meter reads "M:x:k}C2" now and then: rich
    took ":x:" for an emoji code and printed a cross mark in its place."""
    from collections import Counter

    from seqgen.cli.display import err, out
    from seqgen.cli.music import tune_table
    from seqgen.music.tunes import TuneBatch

    batch = TuneBatch(attempts=2, reasons=Counter({"M:x:k}C2 is not a meter": 1, "T:[bold]:smile: names no key": 1}))
    for console in (err, out):
        with console.capture() as captured:
            console.print(tune_table(batch, 2, tmp_path / ":thumbs_up:", keep_invalid=False))
        text = captured.get()
        assert "M:x:k}C2" in text and "[bold]:smile:" in text and ":thumbs_up:" in text, text
