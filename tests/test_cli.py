"""The real command line: exit codes, one-line messages, finding the latest checkpoint."""

import json
import shutil
import subprocess
import sys

import pytest
import torch


from .helpers import TINY, assert_one_line_error, run, seqgen_process


@pytest.fixture
def trained(in_tmp, prose_file):
    """Train through the CLI into ./checkpoints, as a user would."""
    result = run("train", prose_file, *TINY)
    assert result.exit_code == 0, result.stderr
    return next(in_tmp.glob("checkpoints/*/best.pt")).relative_to(in_tmp)


def test_train_sample_eval_latest(trained):
    sample = run("sample", "--length", "30", "--seed", "1", "--prime", "The")
    assert sample.exit_code == 0
    assert sample.stdout.startswith("The") and len(sample.stdout.rstrip("\n")) >= 30
    assert f"using {trained}" in sample.stderr
    again = run("sample", trained, "--length", "30", "--seed", "1", "--prime", "The")
    assert again.stdout == sample.stdout
    result = run("eval", "--json")
    assert result.exit_code == 0 and f"using {trained}" in result.stderr
    scores = json.loads(result.stdout)
    assert {"perplexity", "cross_entropy", "tokens", "bits_per_char"} <= scores.keys()
    assert scores["perplexity"] == pytest.approx(2.718281828 ** scores["cross_entropy"], rel=1e-6)
    assert run("evaluate").exit_code == 0  # the alias


def test_several_samples_and_table(trained, prose_file):
    result = run("sample", "--num-samples", "3", "--length", "20", "--seed", "2")
    assert result.exit_code == 0 and result.stdout.count("=== sample") == 3
    table = run("eval", trained, prose_file)
    assert table.exit_code == 0 and "perplexity" in table.stdout


def test_word_level_through_cli(in_tmp, prose_file):
    result = run("train", prose_file, "--level", "word", "--max-vocab", "500", *TINY)
    assert result.exit_code == 0, result.stderr
    scores = json.loads(run("eval", "--json").stdout)
    assert "bits_per_char" not in scores and scores["tokens"] > 100
    config = torch.load(next(in_tmp.glob("checkpoints/*/best.pt")), weights_only=True)["model_config"]
    assert config["tie"] and config["dropout"] == 0.5  # the word defaults: few tokens per parameter


def test_non_utf8_text_needs_encoding(in_tmp, prose_file):
    latin = in_tmp / "latin.txt"
    text = prose_file.read_text()[:20000].encode("ascii", "ignore").decode()
    latin.write_bytes(text.replace("e", "é").encode("latin-1"))
    assert_one_line_error(run("train", latin, *TINY), 1, "--encoding")
    assert run("train", latin, "--encoding", "latin-1", *TINY).exit_code == 0


@pytest.mark.parametrize("encoding, suggested", [("utf-16", "utf-16"), ("utf-32", "utf-32"),
                                                 ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"),
                                                 ("utf-32-le", "utf-32-le"), ("utf-32-be", "utf-32-be")])
def test_wide_unicode_text_is_not_called_binary(in_tmp, prose_file, encoding, suggested):
    wide = in_tmp / "wide.txt"
    wide.write_bytes(prose_file.read_text()[:20000].encode(encoding))  # utf-16 and utf-32 with a byte-order mark
    result = run("train", wide, *TINY)
    assert_one_line_error(result, 1, f"--encoding {suggested}")
    assert "binary" not in result.stderr
    assert run("train", wide, "--encoding", suggested, *TINY, "--out", "run").exit_code == 0
    binary = in_tmp / "data.bin"
    binary.write_bytes(bytes(range(256)) * 40)  # NULs, but not text in any encoding
    assert_one_line_error(run("train", binary, *TINY), 1, "binary")


ENGLISH = "The cat sat on the mat.\nIt was a sunny day, and the birds sang in the trees.\n" * 40
CHINESE = "自然语言处理是计算机科学领域与人工智能领域中的一个重要方向。它研究人与计算机之间的有效通信。" * 20


@pytest.mark.parametrize("text, written, asked, suggested", [
    (ENGLISH, "utf-8", "utf-16", "--encoding utf-8"),  # an even number of bytes: it would decode, to CJK
    (ENGLISH, "utf-8", "utf-16-le", "--encoding utf-8"),
    (ENGLISH, "utf-8", "utf-16-be", "--encoding utf-8"),
    (ENGLISH, "utf-8", "utf-32", "--encoding utf-8"),
    (CHINESE, "utf-8", "utf-16", "--encoding utf-8"),
    (ENGLISH.replace("a", "à"), "latin-1", "utf-16", "--encoding latin-1"),
    (ENGLISH, "utf-16-be", "utf-16", "--encoding utf-16-be"),  # no mark: Python's utf-16 reads little-endian
    (ENGLISH, "utf-16-le", "utf-16-be", "--encoding utf-16-le"),
    (ENGLISH, "utf-32-le", "utf-16", "--encoding utf-32-le"),  # it would decode, with a NUL every other letter
    (ENGLISH, "utf-16-le", "utf-32", "--encoding utf-16-le"),
])
def test_text_of_another_encoding_than_the_wide_one_asked_is_refused(in_tmp, text, written, asked, suggested):
    path = in_tmp / "text.txt"
    path.write_bytes(text.encode(written))
    assert len(path.read_bytes()) % 4 == 0  # it decodes, to gibberish, where nothing else stops it
    assert_one_line_error(run("train", path, *TINY, "--encoding", asked), 1, "text.txt", suggested)


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, "吾輩は猫である。名前はまだ無い。", "你好世界"])
@pytest.mark.parametrize("encoding, asked", [("utf-16", "utf-16"), ("utf-16-le", "utf-16"), ("utf-16-le", "utf-16-le"),
                                             ("utf-16-be", "utf-16-be"), ("utf-32", "utf-32"),
                                             ("utf-32-be", "utf-32-be")])
def test_real_wide_text_is_read_with_or_without_a_byte_order_mark(tmp_path, text, encoding, asked):
    from seqgen.data.corpus import read_text_file

    path = tmp_path / "text.txt"
    path.write_bytes(text.encode(encoding))
    assert read_text_file(path, asked) == text


@pytest.mark.parametrize("content, words", [
    (None, ["no such file"]),
    (b"", ["empty"]),
    (b"   \n\t\n  ", ["empty"]),
    (b"\x00\x01\x02binary" * 100, ["binary"]),
    (b"too short\n", ["fewer than one batch"]),
])
def test_bad_corpus(in_tmp, content, words):
    path = in_tmp / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    assert_one_line_error(run("train", path, *TINY), 1, *words)
    assert not (in_tmp / "checkpoints").exists() or not list((in_tmp / "checkpoints").glob("*/*.pt"))


def test_folder_without_text(in_tmp):
    (in_tmp / "empty").mkdir()
    (in_tmp / "empty" / "image.png").write_bytes(b"\x89PNG")
    assert_one_line_error(run("train", in_tmp / "empty", *TINY), 1, "no text files")


def test_folder_of_text_files(in_tmp, prose, prose_file):
    notes = in_tmp / "notes" / "deeper"
    notes.mkdir(parents=True)
    (notes / "a.txt").write_text(prose[:40000])
    shutil.copy(prose_file, in_tmp / "notes" / "b.txt")
    result = run("train", prose_file, in_tmp / "notes", *TINY)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("args, words", [
    (["--seq-len", "0"], ["--seq-len"]),
    (["--hidden", "-5"], ["--hidden"]),
    (["--dropout", "1.5"], ["--dropout"]),
    (["--lr", "-1"], ["--lr"]),
    (["--level", "sentence"], ["--level"]),
    (["--cell", "transformer"], ["--cell"]),
    (["--time-budget", "soon"], ["--time-budget"]),
    (["--seed", "-3"], ["--seed"]),
])
def test_bad_training_options(in_tmp, prose_file, args, words):
    assert_one_line_error(run("train", prose_file, *args), 2, *words)


@pytest.mark.parametrize("args, words", [
    (["--temperature", "-1"], ["--temperature"]),
    (["--temperature", "nan"], ["--temperature"]),
    (["--top-p", "0"], ["--top-p"]),
    (["--top-p", "1.5"], ["--top-p"]),
    (["--top-k", "0"], ["--top-k"]),
    (["--seed", "-1"], ["--seed must be a whole number from 0"]),
    (["--length", "0"], ["--length"]),
    (["--num-samples", "0"], ["--num-samples"]),
    (["--prime", "☃☃"], ["never saw"]),
])
def test_bad_sample_options(trained, args, words):
    assert_one_line_error(run("sample", trained, *args), 2, *words)


def test_no_checkpoint_yet(in_tmp):
    assert_one_line_error(run("sample"), 1, "no checkpoint found", "seqgen train")
    assert_one_line_error(run("eval"), 1, "no checkpoint found")


def test_missing_corrupt_and_foreign_checkpoints(in_tmp):
    assert_one_line_error(run("sample", in_tmp / "nope.pt"), 1, "no such checkpoint")
    (in_tmp / "bad.pt").write_bytes(b"garbage")
    assert_one_line_error(run("sample", in_tmp / "bad.pt"), 1, "corrupt")
    torch.save({"weight": torch.zeros(2)}, in_tmp / "plain.pt")
    assert_one_line_error(run("eval", in_tmp / "plain.pt"), 1, "not a seqgen checkpoint")


def test_eval_on_text_without_known_tokens(trained, in_tmp):
    (in_tmp / "alien.txt").write_text("☃☃☃☃☃")
    assert_one_line_error(run("eval", trained, in_tmp / "alien.txt"), 1, "vocabulary")


@pytest.mark.parametrize("gap, both_null", [(3e38, True), (1e3, False)])
def test_eval_json_never_gives_a_perplexity_its_cross_entropy_does_not(char_run, in_tmp, gap, both_null):
    # A finite model whose scores differ by more than a float holds (3e38 - -3e38) scores every
    # token but one as infinitely unlikely; with a gap of 1,000 nats the cross-entropy is a number
    # whose exponential (the perplexity) is past any float: null, as JSON has no infinity.
    payload = torch.load(char_run.best_path, weights_only=True)
    state = payload["model_state"]
    state["head.weight"].zero_()
    state["head.bias"].fill_(-gap if both_null else 0.0)
    state["head.bias"][1] = gap  # <eos>, rare in the held-out text
    torch.save(payload, in_tmp / "extreme.pt")
    done = run("eval", in_tmp / "extreme.pt", "--json")
    assert done.exit_code == 0, done.output
    assert "Infinity" not in done.stdout and "NaN" not in done.stdout
    row = json.loads(done.stdout)
    assert row["perplexity"] is None and row["bits_per_char"] is (None if both_null else row["bits_per_char"])
    assert (row["cross_entropy"] is None) == both_null
    if not both_null:
        assert row["cross_entropy"] > 709 and row["bits_per_char"] > 1000


def test_real_process_streams_and_exits_cleanly(trained):
    proc = seqgen_process("sample", str(trained), "--length", "20", "--seed", "3", timeout=120)
    assert proc.returncode == 0 and len(proc.stdout) >= 20
    bad = seqgen_process("sample", str(trained), "--top-p", "2", timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_help_explains_every_command():
    for command in ([], ["train"], ["sample"], ["eval"]):
        result = run(*command, "--help")
        assert result.exit_code == 0
    assert "--time-budget" in run("train", "--help").stdout


COMMANDS = ["train", "sample", "eval", "evaluate", "corpora", "export", "check", "studio", "bench"]


@pytest.mark.parametrize("args", [["--version"], ["--help"], *([c, "--help"] for c in COMMANDS)], ids=" ".join)
def test_help_and_version_answer_without_loading_torch(args):
    """Loading torch takes seconds (numpy and music21 a fraction): help and the version need none
    of them. Python's own import log (-X importtime) says what a real process loaded."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "seqgen", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert {"seqgen.cli", "typer"} <= loaded  # the log is read right
    assert not loaded & {"torch", "numpy", "music21", "matplotlib", "fastapi"}


# -- several temperatures, the same seed at each; what the command line prints, from Python too ------

def test_a_list_of_temperatures_prints_the_same_seed_at_each_labelled(char_run):
    import seqgen

    model = seqgen.load(char_run.best_path)
    common = ["--seed", "3", "--length", "40", "--prime", "The"]
    cold, hot = (model.generate(prime="The", length=40, seed=3, temperature=t) for t in (0.5, 1.5))
    listed = run("sample", char_run.best_path, "--temperature", "0.5, 1.5", *common)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout == f"--- temperature 0.5 ---\n{cold}\n\n--- temperature 1.5 ---\n{hot}\n"
    one = run("sample", char_run.best_path, "--temperature", "0.5", *common)
    assert one.stdout == f"{cold}\n"  # one temperature: as before, no heading


def test_a_list_of_temperatures_goes_into_each_out_file_with_its_headings(char_run, in_tmp):
    import seqgen

    model = seqgen.load(char_run.best_path)
    common = ["--seed", "3", "--length", "40", "--prime", "The", "--temperature", "0.5,1.5"]
    printed = run("sample", char_run.best_path, *common).stdout
    assert run("sample", char_run.best_path, *common, "--out", "one.txt").exit_code == 0
    assert (in_tmp / "one.txt").read_text(encoding="utf-8") == printed
    assert run("sample", char_run.best_path, *common, "--num-samples", "2", "--out", "two.txt").exit_code == 0
    cold, hot = (model.generate_many(2, prime="The", length=40, seed=3, temperature=t) for t in (0.5, 1.5))
    for i in (0, 1):  # each file: its sample at each temperature, the prime first
        assert (in_tmp / f"two-{i + 1}.txt").read_text(encoding="utf-8") == (
            f"--- temperature 0.5 ---\n{cold[i]}\n\n--- temperature 1.5 ---\n{hot[i]}\n")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["one.txt", "two-1.txt", "two-2.txt"]


@pytest.mark.parametrize("args, settings", [
    ([], {}),
    (["--num-samples", "2"], {"num_samples": 2}),
    (["--num-samples", "2", "--temperature", "0.5,1.5"], {"num_samples": 2, "temperature": [0.5, 1.5]}),
])
def test_generate_to_file_writes_what_the_command_line_prints(char_run, in_tmp, args, settings):
    import seqgen

    printed = run("sample", char_run.best_path, "--seed", "6", "--length", "30", "--prime", "The", *args)
    assert printed.exit_code == 0, printed.output
    path = seqgen.load(char_run.best_path).generate_to_file("x.txt", seed=6, length=30, prime="The", **settings)
    assert path.read_bytes() == printed.stdout.encode("utf-8")


def test_several_samples_in_out_files_begin_with_their_prime(char_run, in_tmp):
    import seqgen

    done = run("sample", char_run.best_path, "--seed", "2", "--length", "30", "--prime", "The", "--num-samples", "2",
               "--out", "s.txt")
    assert done.exit_code == 0, done.output
    texts = seqgen.load(char_run.best_path).generate_many(2, prime="The", length=30, seed=2)
    assert [(in_tmp / f"s-{i}.txt").read_text(encoding="utf-8") for i in (1, 2)] == [t + "\n" for t in texts]


@pytest.mark.parametrize("value, words", [
    ("0.5,-1", ["--temperature must be 0 (greedy) or positive (got -1.0)"]),
    ("0.5,nan", ["--temperature must be 0 (greedy) or positive (got nan)"]),
    ("1,1.0", ["--temperature gives 1.0 twice"]),
])
def test_a_wrong_temperature_of_a_list_is_one_line(char_run, in_tmp, value, words):
    assert_one_line_error(run("sample", char_run.best_path, "--temperature", value, "--out", "x.txt"), 2, *words)
    assert list(in_tmp.iterdir()) == []


def test_a_temperature_list_that_is_not_numbers_is_refused_saying_how_to_write_it(char_run):
    result = run("sample", char_run.best_path, "--temperature", "0.5,hot")
    assert result.exit_code == 2 and "Traceback" not in result.output + result.stderr
    assert "'hot' is not a number; give one (0.8) or several separated by commas (0.5,0.8,1.0)" in " ".join(
        result.stderr.replace("│", " ").split())


@pytest.mark.filterwarnings("ignore:only .* passed their check")  # the tiny model's luck is not the point here
def test_tunes_at_a_list_of_temperatures_go_into_a_folder_each(music_run, in_tmp):
    import seqgen

    done = run("sample", music_run.best_path, "--tunes", "2", "--seed", "1", "--temperature", "0.5,1",
               "--keep-invalid", "--out", "t")
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (in_tmp / "t").iterdir()) == ["t0.5", "t1.0"]
    assert done.stdout.startswith("--- temperature 0.5 ---\n") and "\n\n--- temperature 1.0 ---\n" in done.stdout
    model = seqgen.load(music_run.best_path)
    for t in (0.5, 1.0):
        files = model.tunes(2, seed=1, temperature=t).write(in_tmp / f"api{t}", keep_invalid=True)
        written = sorted((in_tmp / "t" / f"t{t}").iterdir())
        assert [p.name for p in written] == [p.name for p in files] and files
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(files, written))
    # every folder is checked before any tune is drawn: an earlier batch in the last one is refused first
    shutil.rmtree(in_tmp / "t" / "t0.5")
    assert_one_line_error(run("sample", music_run.best_path, "--tunes", "2", "--temperature", "0.5,1", "--out", "t"),
                          1, "t1.0 already holds tunes of an earlier batch")
    assert not any((in_tmp / "t" / "t0.5").glob("*.abc"))


def test_tunes_printed_at_a_list_of_temperatures_are_labelled(music_run):
    done = run("sample", music_run.best_path, "--seed", "1", "--temperature", "0.5,1")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("--- temperature 0.5 ---\nX:1\n")
    assert "\n\n--- temperature 1.0 ---\nX:1\n" in done.stdout
