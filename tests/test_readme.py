"""The README's promises: its Python example runs (with tiny settings), and every seqgen command
it shows is one the command line accepts, option by option."""

import re
import shlex
from pathlib import Path

import pytest
import typer.main

from seqgen.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
TINY = 'max_steps=20, hidden=32, layers=1, seq_len=32, batch_size=8, eval_every=10'


def code_blocks(language: str = "") -> list[str]:
    """The fenced blocks of the README whose fence names ``language`` ("" for none)."""
    blocks, current = [], None
    for line in README.splitlines():
        if line.startswith("```"):
            if current is None:
                current = [] if line[3:].strip() == language else False
            else:
                if current is not False:
                    blocks.append("\n".join(current) + "\n")
                current = None
        elif current not in (None, False):
            current.append(line)
    return blocks


def commands() -> list[list[str]]:
    """Every ``seqgen ...`` line of the README's shell blocks, as arguments (comments dropped)."""
    found = []
    for block in code_blocks():
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                if part.split()[:1] not in (["seqgen"], ["torchrun"]):
                    continue  # not a command line (the file map, say)
                words = shlex.split(part, comments=True)
                if "seqgen" in words:
                    found.append(words[words.index("seqgen") + 1:])
    return found


def test_the_python_example_runs(in_tmp, prose, music_run, capsys):
    (example,) = code_blocks("python")
    assert 'time_budget="5m"' in example and "checkpoints/<music-run>/best.pt" in example
    (in_tmp / "corpus.txt").write_text(prose[:60_000])
    code = example.replace('time_budget="5m"', TINY).replace("checkpoints/<music-run>/best.pt", str(music_run.best_path))
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "ROMEO:" in out and "Score(cross_entropy=" in out


def test_every_command_is_one_the_command_line_accepts():
    group = typer.main.get_command(app)
    found = commands()
    assert len(found) > 30
    for args in found:
        name, rest = args[0], [a for a in args[1:] if not a.startswith("<")]
        assert name in group.commands, args
        command = group.commands[name]
        ctx = command.make_context(name, [a.replace("<run>", "run") for a in rest], resilient_parsing=False,
                                   parent=typer.Context(group))
        assert ctx.params is not None, args


@pytest.mark.parametrize("section", ["Quick start", "Train", "Sample", "More than one process", "From Python",
                                     "Layout", "What is tested where"])
def test_the_sections_a_newcomer_needs_are_there(section):
    assert re.search(rf"^#+ {re.escape(section)}", README, flags=re.M)
