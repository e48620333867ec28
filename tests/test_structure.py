"""The shape of the house: no import cycles (imports inside functions count too), and modules a
reader can take in."""

import ast
from pathlib import Path

import seqgen

ROOT = Path(seqgen.__file__).parent


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``path`` imports, wherever in the file the import is."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # "from . import checkpoint" imports the module seqgen.training.checkpoint
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def import_cycles(root: Path) -> list[list[str]]:
    """Groups of modules of the package at ``root`` that import each other, in a circle."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph = {name: imports(path, root, set(files)) for name, path in files.items()}
    # Tarjan's strongly connected components: a component of more than one module is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles():
    assert import_cycles(ROOT) == []


def crafted_package(folder: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``folder`` with a subpackage ``sub`` and the given modules."""
    package = folder / "pkg"
    (package / "sub").mkdir(parents=True)
    for name, text in {"__init__.py": "", "sub/__init__.py": "", **files}.items():
        (package / name).write_text(text)
    return package


def test_the_check_sees_a_cycle_hidden_in_a_function(tmp_path):
    package = crafted_package(tmp_path, {"a.py": "from .sub import b\n", "sub/b.py": "def f():\n    from .. import a\n",
                                         "c.py": "import pkg.a\n"})
    assert import_cycles(package) == [["pkg.a", "pkg.sub.b"]]


def test_modules_stay_short():
    long = {module_name(p, ROOT): n for p in ROOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > 330}
    assert long == {}


# The house, floor by floor from the ground up: a module imports only from its own floor and the
# floors below. "pkg.*" is a package and everything in it. The data layer reads and encodes with
# whatever format it is handed; music brings its ABC format to the registry (formats), which sits
# above both, and training and scoring, which choose a corpus's format, sit above the registry.
LAYERS = [
    ("foundation", ["seqgen.errors", "seqgen.signals", "seqgen.options", "seqgen.atomic", "seqgen.cache",
                    "seqgen.hardware.*", "seqgen.config", "seqgen.evaluate", "seqgen.arguments"]),
    ("data", ["seqgen.data.*"]),
    ("models", ["seqgen.models.*"]),
    ("generation", ["seqgen.sample"]),
    ("music", ["seqgen.music.*"]),
    ("formats", ["seqgen.formats"]),
    ("filling", ["seqgen.fill.*"]),
    ("training", ["seqgen.training.*"]),
    ("doors", ["seqgen.scoring", "seqgen.api", "seqgen.train_call", "seqgen.sample_output"]),
    ("interfaces", ["seqgen", "seqgen.__main__", "seqgen.cli.*", "seqgen.studio.*", "seqgen.bench.*"]),
]


def floor_of(module: str, layers: list[tuple[str, list[str]]]) -> int | None:
    """The index in ``layers`` of the floor that holds ``module`` (None when no floor does)."""
    for floor, (_, names) in enumerate(layers):
        for name in names:
            package = name.removesuffix(".*")
            if module == name or (name.endswith(".*") and (module == package or module.startswith(package + "."))):
                return floor
    return None


def upward_imports(root: Path, layers: list[tuple[str, list[str]]]) -> list[str]:
    """Each import of the package at ``root`` that runs to a higher floor, and each module on no floor."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    problems = [f"{m} is on no floor of the layers: give it one" for m in sorted(files) if floor_of(m, layers) is None]
    for name, path in sorted(files.items()):
        here = floor_of(name, layers)
        for target in sorted(imports(path, root, set(files))):
            there = floor_of(target, layers)
            if here is not None and there is not None and there > here:
                problems.append(f"{name} ({layers[here][0]}) imports {target} ({layers[there][0]})")
    return problems


def test_no_import_runs_up_the_house():
    assert upward_imports(ROOT, LAYERS) == []


def test_the_data_layer_knows_nothing_of_music():
    files = {module_name(p, ROOT): p for p in ROOT.rglob("*.py")}
    data = [m for m in files if floor_of(m, LAYERS) in (0, 1)]  # the token cache's folder helper among them
    assert "seqgen.data.tokens" in data and "seqgen.cache" in data
    music = {m for m in files if m == "seqgen.music" or m.startswith("seqgen.music.")}
    assert {m: imports(files[m], ROOT, set(files)) & music for m in data} == {m: set() for m in data}


def test_the_check_sees_an_import_that_runs_up(tmp_path):
    package = crafted_package(tmp_path, {"low.py": "def f():\n    from .sub import high\n",
                                         "sub/high.py": "from .. import low\n", "stray.py": ""})
    layers = [("ground", ["pkg", "pkg.low"]), ("roof", ["pkg.sub.*"])]
    assert upward_imports(package, layers) == ["pkg.stray is on no floor of the layers: give it one",
                                               "pkg.low (ground) imports pkg.sub.high (roof)"]


def test_the_loop_knows_no_model_type_and_nothing_of_plotting():
    modules = {module_name(p, ROOT) for p in ROOT.rglob("*.py")}
    for name in ("loop", "step", "run"):
        imported = imports(ROOT / "training" / f"{name}.py", ROOT, modules)
        assert not {m for m in imported if m.startswith("seqgen.models.") and m != "seqgen.models.base"}, name
    assert "seqgen.training.plot" not in imports(ROOT / "training" / "loop.py", ROOT, modules)
