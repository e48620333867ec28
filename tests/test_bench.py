"""The benchmark measures what it names: each rung of the ladder is the model, precision and loop
it says, timings are taken in turns, shares of peak divide by the right peak, and every figure of
the JSON is documented in the README."""

import copy
import os
import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import seqgen.bench
import seqgen.bench.peak
import seqgen.bench.run
import seqgen.bench.sampling
import seqgen.hardware.timing
import seqgen.hardware.device
import seqgen.hardware.machine
import seqgen.hardware.precision
import seqgen.training.step
from seqgen.bench import FULL, TINY, run_bench, table_sections
from seqgen.bench import ladder
from seqgen.bench.ladder import RUNGS, Setting, build_rungs, ladder_figures, zipf_batch
from seqgen.bench.peak import lstm_flops_per_token
from seqgen.bench.reference import ReferenceLM, ReferenceLoop
from seqgen.bench.run import settings
from seqgen.bench.sampling import sampling_models
from seqgen.hardware import timing
from seqgen.hardware.timing import interleave
from seqgen.bench.tokenise import tokenise_speed
from seqgen.cli import app
from seqgen.models.rnn_config import ModelConfig
from seqgen.hardware.device import autocast, resolve_precision
from seqgen.hardware.precision import runs_in
from seqgen.models.rnn import RNNLM
from seqgen.data.vocab import Vocab

from .helpers import needs_bf16, runner

README = Path(__file__).resolve().parents[1] / "README.md"
CPU = torch.device("cpu")
MIXED = "bf16" if runs_in("bf16", "cpu") else None  # what the mixed rung runs in here


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # Tiny models gain nothing from a second thread, and on a shared two-core machine a thread
    # that waits for a descheduled partner turns each millisecond step into a time slice.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def figures():
    """``seqgen bench --quick --json`` through the real CLI, at the tiny sizes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(seqgen.bench, "sizes_for", lambda quick: TINY)
        result = runner.invoke(app, ["bench", "--quick", "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def documented_keys() -> set[str]:
    """The keys of the README's Benchmark table; ``key`` (`_min`, `_max`) stands for three."""
    section = README.read_text(encoding="utf-8").split("### Benchmark", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    keys = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names = re.findall(r"`([^`]+)`", line.split("|")[1])
            keys.update([names[0]] + [names[0] + suffix for suffix in names[1:]])
    return keys


def test_every_figure_is_documented_and_every_documented_key_is_a_figure(figures):
    assert set(figures) == documented_keys()


def test_rungs_run_the_model_precision_and_softmax_they_name(monkeypatch):
    ran = []
    real_autocast = seqgen.training.step.autocast
    monkeypatch.setattr(seqgen.training.step, "autocast", lambda device, precision: (ran.append(precision),
                                                                             real_autocast(device, precision))[1])
    default, large = settings(TINY, 6000)[1:]  # a vocabulary for which "auto" would pick the adaptive softmax
    for setting in (default, large):
        x, y = zipf_batch(setting.model.vocab_size, 2, 5)
        steps, skipped = build_rungs(setting, CPU, MIXED, "no bf16 here", x, y)
        assert list(steps) == [r for r in setting.rungs if r != "seqgen_mixed" or MIXED]
        assert set(skipped) == (set() if MIXED else {"seqgen_mixed"})
        m = setting.model
        ref = steps["reference"].__self__.model
        assert (ref.head.weight is ref.embed.weight) == m.tie
        assert ref.drop.p == ref.rnn.dropout == m.dropout and ref.rnn.num_layers == m.layers
        built = {name: steps[name].__self__ for name in steps if name != "reference"}
        expected = {"seqgen_fp32": ("fp32", False, m.tie), "seqgen_mixed": (MIXED, False, m.tie),
                    "seqgen_adaptive": (MIXED or "fp32", True, False)}
        for name, loop in built.items():
            precision, adaptive, tie = expected[name]
            cfg = loop.model.config
            assert loop.stepper.precision == precision
            assert bool(cfg.adaptive_cutoffs) == adaptive and cfg.tie == tie
            assert (cfg.vocab_size, cfg.hidden, cfg.layers, cfg.dropout) == (m.vocab_size, m.hidden, m.layers, m.dropout)
            ran.clear()
            steps[name]()
            assert ran == [precision]  # the step itself ran under that autocast


def test_the_settings_are_the_models_seqgen_train_builds():
    char, default, large = settings(FULL, 18_000)
    assert char.model == ModelConfig(vocab_size=67) and not char.model.adaptive_cutoffs
    word = ModelConfig.for_level("word")
    word.vocab_size = 18_000
    assert default.model == word and default.model.tie and default.model.dropout == 0.5
    assert not default.model.adaptive_cutoffs  # `--level word` trains a full softmax
    assert large.model.adaptive_cutoffs and not large.model.tie  # what auto picks untied
    assert large.adaptive_rung and not default.adaptive_rung and not char.adaptive_rung


def test_a_vocabulary_within_the_shortlist_skips_the_adaptive_rung_and_says_why():
    setting = Setting("word_large", ModelConfig(vocab_size=500, hidden=8, layers=1, tie=False), 2, 4, adaptive_rung=True)
    values, skipped = ladder_figures(setting, CPU, MIXED, "no bf16 here", repeats=1, warmup=0)
    assert values["word_large_seqgen_adaptive_tokens_per_s"] is None
    assert values["word_large_speedup_adaptive"] is None
    assert "shortlist" in skipped["word_large_seqgen_adaptive"]


def test_the_reference_step_is_the_examples_manual_sgd_after_clipping_to_a_quarter():
    torch.manual_seed(0)
    V, B, T = 40, 3, 7
    ref = ReferenceLM(V, 16, 2, dropout=0.0)
    with torch.no_grad():
        ref.head.weight.mul_(30)  # large gradients, so that clipping to 0.25 changes them
    twin = copy.deepcopy(ref)
    x, y = zipf_batch(V, B, T)
    loop = ReferenceLoop(ref, x, y)
    log_probs, _ = twin(x.t().contiguous(), twin.init_hidden(B))
    F.nll_loss(log_probs, y.t().reshape(-1)).backward()
    grads = [p.grad for p in twin.parameters()]
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    assert norm > 1.0
    expected = [p.detach() - 20.0 * g * (0.25 / (norm + 1e-6)) for p, g in zip(twin.parameters(), grads)]
    given = []  # the state each forward pass starts from
    forward = ref.forward
    ref.forward = lambda x, hidden: (given.append(hidden), forward(x, hidden))[1]
    loop.step()
    for p, e in zip(ref.parameters(), expected):
        assert torch.allclose(p, e, atol=1e-6)
    state = loop.hidden
    loop.step()
    # The second batch starts where the first ended, cut from the first batch's graph.
    assert all(torch.equal(a, b) and not a.requires_grad for a, b in zip(given[1], state))
    assert state[0].abs().sum() > 0


@pytest.mark.parametrize("tie", [False, True])
def test_seqgen_and_the_reference_compute_the_same_loss(tie):
    V, H, L = 50, 32, 2
    ref = ReferenceLM(V, H, L, dropout=0.0, tie=tie)
    model = RNNLM(ModelConfig(vocab_size=V, hidden=H, layers=L, dropout=0.0, tie=tie, softmax="full"))
    model.load_state_dict(ref.state_dict())  # same parameter names and shapes
    x, y = torch.randint(0, V, (4, 12)), torch.randint(0, V, (4, 12))
    log_probs, _ = ref(x.t().contiguous(), ref.init_hidden(4))
    expected = F.nll_loss(log_probs, y.t().reshape(-1))
    loss, _ = model.loss(x, y)
    assert torch.allclose(loss, expected, atol=1e-5)


@needs_bf16
@pytest.mark.parametrize("tie", [False, True])
def test_seqgen_in_bf16_computes_the_references_loss_within_bf16s_rounding(tie):
    V, H, L = 50, 32, 2
    ref = ReferenceLM(V, H, L, dropout=0.0, tie=tie)
    model = RNNLM(ModelConfig(vocab_size=V, hidden=H, layers=L, dropout=0.0, tie=tie, softmax="full"))
    model.load_state_dict(ref.state_dict())
    x, y = torch.randint(0, V, (4, 12)), torch.randint(0, V, (4, 12))
    log_probs, _ = ref(x.t().contiguous(), ref.init_hidden(4))
    expected = F.nll_loss(log_probs, y.t().reshape(-1))
    loss, _ = model.loss(x, y)
    # The mixed-precision path training takes where the hardware has bf16: the same loss within
    # bf16's rounding (8 bits of mantissa), and the same gradients' direction.
    with autocast(CPU, "bf16"):
        fast, _ = model.loss(x, y)
    assert abs(fast.item() - expected.item()) < 0.01 * expected.item()
    fast.backward()
    fast_grad = model.head.weight.grad.clone()
    model.zero_grad()
    loss.backward()
    cos = F.cosine_similarity(fast_grad.flatten(), model.head.weight.grad.flatten(), dim=0)
    assert cos > 0.99


class SteadyClock:
    """A clock that moves a second each time it is read: every timed call takes one second, and
    times settle at once."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_functions_are_timed_round_robin_after_their_warm_up():
    calls = []
    times = interleave({name: (lambda name=name: calls.append(name)) for name in "ABC"}, repeats=3, warmup=2,
                       clock=SteadyClock())
    # two warm-up rounds, one round to set each best and SETTLE_RUN not faster, three timed
    assert calls == list("ABC") * (2 + 1 + timing.SETTLE_RUN + 3)
    assert times == {name: [1.0, 1.0, 1.0] for name in "ABC"}


def test_functions_are_timed_only_once_all_have_settled():
    # B speeds up over its first calls (as a big model's step does); A is steady from the start.
    # Timing begins when B has settled, and A is called in every round meanwhile.
    now = [0.0]
    b_times = iter([9, 7, 5, 3, 2, 2, 2, 2.05, 2, 2, 2])
    fns = {"A": lambda: now.__setitem__(0, now[0] + 1.0), "B": lambda: now.__setitem__(0, now[0] + next(b_times))}
    times = interleave(fns, repeats=2, warmup=1, clock=lambda: now[0])
    assert times == {"A": [1.0, 1.0], "B": [2.0, 2.0]}
    assert next(b_times) == 2  # one warm-up (9); 7 5 3 2, then 2 2 2.05 none 5 % faster: settled; two timed


def test_a_settled_time_is_the_best_once_calls_stop_getting_faster():
    """Calls that speed up for a while (a big model's first steps) are timed until three in a row
    gain nothing: the fastest counts, not the fastest of the first three timed."""
    durations = iter([9, 9, 8, 6, 5, 4, 4.1, 3.9, 4, 100])  # two warm-up calls, then settling at ~4
    now = [0.0]

    def call():
        now[0] += next(durations)

    assert timing.settled_seconds(call, clock=lambda: now[0]) == pytest.approx(3.9)
    assert next(durations) == 100  # stopped after 4.1, 3.9, 4: none 5 % faster than 4

    speeding_up = iter([9.0, 9.0] + [8.0 * 0.9 ** k for k in range(100)])  # never settles
    calls = [0]

    def faster():
        calls[0] += 1
        now[0] += next(speeding_up)

    best = timing.settled_seconds(faster, clock=lambda: now[0])
    assert calls[0] == timing.WARM_UP_CALLS + timing.MAX_SETTLING
    assert best == pytest.approx(8.0 * 0.9 ** (timing.MAX_SETTLING - 1))


def test_gpu_timings_wait_for_the_gpu():
    # A GPU returns before it computes: the clock must be read after synchronising (no GPU needed).
    assert seqgen.hardware.timing.synchronizer(torch.device("cuda")) is torch.cuda.synchronize
    syncs = []
    interleave({"A": lambda: syncs.append("call")}, repeats=2, warmup=0, sync=lambda: syncs.append("sync"),
               clock=SteadyClock())
    assert syncs == ["sync", "call", "sync"] * (1 + timing.SETTLE_RUN + 2)


def test_the_ladders_rungs_are_timed_in_turns(monkeypatch):
    calls = []
    real = ladder.build_rungs

    def recording(*args):
        steps, skipped = real(*args)
        return {name: (lambda name=name, step=step: (calls.append(name), step())) for name, step in steps.items()}, skipped

    monkeypatch.setattr(ladder, "build_rungs", recording)
    large = settings(TINY, 2100)[2]
    values, _ = ladder_figures(large, CPU, MIXED, "no bf16 here", repeats=2, warmup=1)
    ran = [rung for rung in RUNGS if rung != "seqgen_mixed" or MIXED]
    rounds = len(calls) // len(ran)  # one warm-up, until each settled, two timed
    assert calls == ran * rounds and rounds >= 1 + 1 + timing.SETTLE_RUN + 2
    assert all(values[f"word_large_{rung}_tokens_per_s"] > 0 for rung in ran)


def fixed_times(fns, repeats, warmup, sync=None):
    """interleave() as if every call took 1, 2 and 4 seconds: rates are then work/2, work/4, work."""
    return {name: [1.0, 2.0, 4.0] for name in fns}


def test_rates_are_work_over_seconds_and_speedups_are_ratios_of_medians(monkeypatch):
    monkeypatch.setattr(ladder, "interleave", fixed_times)
    large = settings(TINY, 2100)[2]
    values, _ = ladder_figures(large, CPU, "bf16", "", repeats=3, warmup=0)
    tokens = large.batch * large.seq_len
    for rung in RUNGS:
        key = f"word_large_{rung}_tokens_per_s"
        assert (values[key + "_min"], values[key], values[key + "_max"]) == (tokens / 4, tokens / 2, tokens)
    assert values["word_large_speedup_adaptive"] == 1.0
    monkeypatch.setattr(seqgen.bench.sampling, "interleave", fixed_times)
    values, _ = seqgen.bench.sampling.sampling_figures(8, 1, 20, {1: 5, 64: 3}, repeats=3, warmup=0)
    for name in ("int8", "fp32"):
        assert values[f"sample_{name}_chars_per_s_batch1"] == 5 / 2
        assert values[f"sample_{name}_chars_per_s_batch64_max"] == 64 * 3
    monkeypatch.setattr(seqgen.bench.peak, "interleave", fixed_times)
    assert seqgen.bench.peak.matmul_gflops(8, 4, 2, "fp32", CPU, repeats=3, min_seconds=0) == 2 * 8 * 4 * 2 / 2 / 1e9


def test_the_run_says_where_and_how_it_ran(figures):
    assert figures["device"] == "cpu" and figures["sizes"] == "tiny" and figures["threads"] >= 1
    assert (figures["repeats"], figures["warmup"]) == (TINY.repeats, TINY.warmup)
    assert figures["load_average"] is None or figures["load_average"] >= 0
    assert all(figures[f"matmul_{k}_gflops"] > 0 for k in ("fp32", "bf16", "peak", "recurrent"))
    assert f"({TINY.peak_rows}x{TINY.hidden}) @ ({TINY.hidden}x{4 * TINY.hidden})" in figures["matmul_shapes"]
    assert figures["word_vocab"] == TINY.word_vocab
    mixed_skipped = set() if MIXED else {f"{p}_seqgen_mixed" for p in ("char", "word_default", "word_large")}
    assert set(figures["skipped"]) == mixed_skipped


def test_a_word_corpus_sizes_the_word_models(monkeypatch):
    monkeypatch.setattr(seqgen.bench.run, "_tokenising", lambda mb: {})
    monkeypatch.setattr(seqgen.bench.run, "sampling_figures", lambda *args: ({}, {}))
    text = "the cat sat on the mat\nthe dog sat on the log\n"
    V = len(Vocab.build([text], "word"))
    f = run_bench(TINY, "cpu", word_text=text)
    assert f["word_vocab"] == V and f["word_default_model"].startswith(f"V={V} ")
    assert "shortlist" in f["skipped"]["word_large_seqgen_adaptive"]  # too few words for it


def test_the_share_of_peak_divides_by_the_peak_of_the_precision_that_ran(figures):
    p = figures["precision"]
    assert p == resolve_precision("auto", CPU)
    assert figures["matmul_peak_gflops"] == figures[f"matmul_{p}_gflops"]
    rung = "seqgen_fp32" if p == "fp32" else "seqgen_mixed"
    char = settings(TINY, 2100)[0]
    gflops = figures[f"char_{rung}_tokens_per_s"] * lstm_flops_per_token(char.model) / 1e9
    assert figures["char_gflops"] == pytest.approx(gflops)
    assert figures["char_share_of_peak"] == pytest.approx(gflops / figures[f"matmul_{p}_gflops"])


def no_lower_precision(monkeypatch):
    """A CPU on which only fp32 runs."""
    for module in (seqgen.hardware.device, seqgen.hardware.precision, seqgen.bench.run):
        monkeypatch.setattr(module, "runs_in", lambda p, device_type: p == "fp32")


def test_without_bf16_the_mixed_rung_is_skipped_and_the_share_is_of_the_fp32_peak(monkeypatch):
    no_lower_precision(monkeypatch)
    monkeypatch.setattr(seqgen.bench.run, "_tokenising", lambda mb: {})
    monkeypatch.setattr(seqgen.bench.run, "sampling_figures", lambda *args: ({}, {}))
    f = run_bench(TINY, "cpu")
    assert f["precision"] == "fp32" and f["matmul_peak_gflops"] == f["matmul_fp32_gflops"]
    assert f["char_share_of_peak"] == pytest.approx(f["char_gflops"] / f["matmul_fp32_gflops"])
    for prefix in ("char", "word_default", "word_large"):
        assert f[f"{prefix}_seqgen_mixed_tokens_per_s"] is None and f[f"{prefix}_speedup_mixed"] is None
        assert "bf16" in f["skipped"][f"{prefix}_seqgen_mixed"]
    assert f["word_large_seqgen_adaptive_tokens_per_s"] > 0  # on top of fp32, then
    assert f["mixed_precision"] is None


def test_where_bf16_runs_but_is_slower_seqgen_trains_in_fp32_and_the_ladder_still_shows_bf16(monkeypatch):
    monkeypatch.setattr(seqgen.bench.run, "resolve_precision", lambda name, device: "fp32")
    monkeypatch.setattr(seqgen.bench.run, "runs_in", lambda p, device_type: p in ("fp32", "bf16"))
    monkeypatch.setattr(seqgen.bench.run, "ladder_figures", lambda setting, dev, mixed, *a: ({}, {"mixed": mixed}))
    monkeypatch.setattr(seqgen.bench.run, "_share_of_peak", lambda *a: {})
    monkeypatch.setattr(seqgen.bench.run, "_tokenising", lambda mb: {})
    monkeypatch.setattr(seqgen.bench.run, "sampling_figures", lambda *args: ({}, {}))
    f = run_bench(TINY, "cpu")
    assert (f["precision"], f["mixed_precision"], f["skipped"]) == ("fp32", "bf16", {"mixed": "bf16"})


def test_the_run_records_the_machine_so_that_two_runs_can_be_told_apart(figures, monkeypatch):
    assert figures["cpu_model"] and figures["torch"] == torch.__version__
    assert figures["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(figures["cpu_flags"]) <= set(seqgen.hardware.machine.FLAGS)
    assert figures["isa_caps"] == {k: v for k, v in os.environ.items() if k in seqgen.hardware.machine.ISA_CAPS}
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert seqgen.hardware.machine.describe()["isa_caps"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    notes = seqgen.bench.table_notes(figures)
    assert notes[0].startswith(figures["cpu_model"]) and figures["cpu_capability"] in notes[0]


def test_every_timed_figure_has_min_median_max_in_order(figures):
    spreads = [key[:-4] for key in figures if key.endswith("_min")]
    assert {f"sample_{p}_chars_per_s_batch{b}" for p in ("int8", "fp32") for b in (1, 64)} <= set(spreads)
    for key in spreads:
        if figures[key] is not None:
            assert 0 < figures[key + "_min"] <= figures[key] <= figures[key + "_max"], key
    for batch in (1, 64):
        ratio = figures[f"sample_int8_chars_per_s_batch{batch}"] / figures[f"sample_fp32_chars_per_s_batch{batch}"]
        assert figures[f"sample_int8_speedup_batch{batch}"] == pytest.approx(ratio)


def test_sampling_is_timed_with_int8_weights_and_in_fp32():
    model = RNNLM(ModelConfig(vocab_size=20, hidden=8, layers=2))
    models, why_not = sampling_models(model)
    assert why_not is None and models["fp32"] is model
    assert "quantized" in type(models["int8"].rnn).__module__


def test_device_cuda_without_a_gpu_is_one_line_and_exit_code_2(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(seqgen.bench, "run_bench", lambda *a, **k: pytest.fail("benchmarked anyway"))
    result = runner.invoke(app, ["bench", "--quick", "--device", "cuda"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "cuda" in lines[0], result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_the_table_reads_each_ladder_top_to_bottom(figures, monkeypatch):
    sections = dict(table_sections(figures))
    assert [title for title in sections if "tokens/s" in title] == [
        "char model (tokens/s)", "word, default model (tokens/s)", "word, large vocabulary (tokens/s)"]
    large = [label for label, *_ in sections["word, large vocabulary (tokens/s)"]]
    assert large[:2] == ["pytorch/examples loop (fp32, SGD)", "seqgen step, fp32"]
    assert large[2].startswith("+ ") and large[3] == "+ adaptive softmax" and len(large) == 4
    monkeypatch.setattr(seqgen.bench, "run_bench", lambda *a, **k: figures)
    result = runner.invoke(app, ["bench", "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.index("pytorch/examples loop") < text.index("seqgen step, fp32") < text.index("+ adaptive softmax")
    assert figures["word_large_model"] in text


def test_flop_count_of_a_one_layer_lstm():
    cfg = ModelConfig(vocab_size=10, hidden=4, embed=3, layers=1)
    # forward: gates 2*4*4*(3+4) = 224, head 2*4*10 = 80; training ~3x forward
    assert lstm_flops_per_token(cfg) == 3 * (224 + 80)
    # tied: the head reads E = 3 after a projection from H = 4
    tied = ModelConfig(vocab_size=10, hidden=4, embed=3, layers=1, tie=True, softmax="full")
    assert lstm_flops_per_token(tied) == 3 * (224 + 2 * 3 * 10 + 2 * 4 * 3)


def test_tokenising_is_measured_in_a_fresh_process_then_from_the_cache(tmp_path, monkeypatch):
    # The fresh process times this seqgen, not another one its working folder would import.
    (tmp_path / "seqgen").mkdir()
    (tmp_path / "seqgen" / "__init__.py").write_text("raise ImportError('another seqgen')\n")
    monkeypatch.chdir(tmp_path)
    tok = tokenise_speed("some real text\n", target_mb=1)
    assert tok["tokens"] >= 1_000_000 and tok["tokenise_s"] > 0 and tok["tokenise_peak_mb"] > 1
    assert tok["tokenise_cached_s"] > 0
