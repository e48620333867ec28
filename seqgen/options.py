"""One declaration per option: a field of a configuration dataclass carries the option's name,
type, default, help text and check, and the command line, the Python API and the studio's
requests are built from it.

    temperature: float = option(0.8, "Randomness: ...", check=finite(lambda v: v >= 0, "must be 0 or positive"))

Why dataclass fields with ``metadata`` rather than pydantic models: the configurations are
stored in checkpoints as plain dicts, built in the sampling and training paths and compared in
tests as the dataclasses they already are; metadata adds the help and the check without changing
any of that, and without a dependency in the library's core. pydantic stays at the one door
where a request arrives over HTTP (``studio/requests.py`` builds its model from these fields).

Each check is stated once, here as a ``Rule`` on its field; ``problems`` runs them all and
reports every problem at once, named as the option that gives the value (``--top-k``).
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from .errors import UsageError

INTERNAL = {"option": False}  # metadata of a field that is set by the code, never by an option


@dataclass(frozen=True)
class Rule:
    """A check of one value: ``test(value)`` is true when it is right; ``says`` what it must be
    ("must be at least 1"), after the option's name and before what was given."""

    test: Callable[[Any], bool]
    says: str


def at_least(low, says: str | None = None) -> Rule:
    return Rule(lambda v: v >= low, says or f"must be at least {low}")


def not_negative() -> Rule:
    return Rule(lambda v: v >= 0, "must not be negative")


def one_of(choices: Iterable[str], says: str | None = None) -> Rule:
    choices = tuple(choices)
    return Rule(lambda v: v in choices, says or f"must be one of {', '.join(choices)}")


def finite(test: Callable[[float], bool], says: str) -> Rule:
    """A rule for a number that must also be finite (nan and inf fail every comparison's intent)."""
    return Rule(lambda v: math.isfinite(v) and test(v), says)


SEED = Rule(lambda v: 0 <= v < 2 ** 63, "must be a whole number from 0 to 2**63 - 1")


def option(default, help: str, *, check: Rule | None = None, varies: bool = False,
           reader: Callable[[str], Any] | None = None, several: bool = False) -> Any:
    """A configuration field that is an option. ``help`` is the text ``--help`` shows (a
    "[default: ...]" in it replaces the shown default); ``check`` the one check of its value;
    ``varies``: the default depends on the model or level, so the interfaces default to None
    ("the usual one"); ``reader`` turns the command line's text into the value ("10m" -> 600.0);
    ``several``: a list of values may be given too (typed ``float | list[float]``; on the command
    line "0.5,0.8,1.0"), each value checked by ``check``; one value is the value itself."""
    return field(default=default, metadata={"help": help, "check": check, "varies": varies, "reader": reader,
                                            "several": several})


def options(cls) -> list[Field]:
    """The fields of config class ``cls`` that options set, in declaration order."""
    return [f for f in fields(cls) if f.metadata.get("option", True)]


def flag(name: str) -> str:
    """The option that gives field ``name``: ``top_k`` -> ``--top-k``."""
    return "--" + name.replace("_", "-")


def type_text(f: Field) -> str:
    """The field's type as written: "int | None" (a string where annotations are postponed, else
    a class or a union)."""
    return f.type.__name__ if isinstance(f.type, type) else str(f.type).replace("typing.", "")


def kind_of(f: Field) -> str:
    """The field's type as a word: "int", "float", "str" or "bool" (None allowed or not)."""
    return next((k for k in type_text(f).replace(" ", "").split("|") if k != "None"), "str")


def read_several(text: str, kind: str):
    """The command line's text of a ``several`` option: one value ("0.8" -> 0.8), or a list of
    them separated by commas ("0.5,0.8" -> [0.5, 0.8]); ValueError saying what it must look like."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            values.append(PYTHON_TYPES[kind](part))
        except ValueError:
            one, several = _EXAMPLES.get(kind, ("1", "1,2,3"))
            raise ValueError(f"{part!r} is not {_KIND_NAMES[kind]}; give one ({one}) or several separated by "
                             f"commas ({several})") from None
    return values[0] if len(values) == 1 else values


_EXAMPLES = {"float": ("0.8", "0.5,0.8,1.0")}


def interface_default(f: Field):
    """The default the interfaces show: None where it varies, is read from text, or is none."""
    if f.metadata.get("varies") or f.metadata.get("reader") or f.default is MISSING:
        return None
    return f.default


PYTHON_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def interface_options(classes: Iterable[type], leave_out: Iterable[str] = ()) -> list[tuple[Field, type, Any]]:
    """The option fields of the config ``classes`` as an interface (the command line, the studio's
    requests) takes them, the first class to declare a name winning: each field with the Python
    type its value comes in (text where the field has a reader: "10m") and its shown default."""
    seen, out = set(leave_out), []
    for cls in classes:
        for f in options(cls):
            if f.name not in seen:
                seen.add(f.name)
                kind = str if f.metadata.get("reader") else PYTHON_TYPES[kind_of(f)]
                out.append((f, kind, interface_default(f)))
    return out


def problems(config) -> list[str]:
    """Every problem of ``config``'s fields: a value not of its type, then each field's check.
    Whole numbers of other kinds (numpy's) become ``int``, numbers ``float``, in place."""
    found = []
    for f in fields(config):
        name = flag(f.name)
        try:
            value = typed(name, getattr(config, f.name), type_text(f))
        except UsageError as exc:
            found.append(str(exc))
            continue
        setattr(config, f.name, value)
        rule = f.metadata.get("check")
        values = value if isinstance(value, list) else [value]  # a several option's list: each checked
        wrong = [v for v in values if rule is not None and v is not None and not rule.test(v)]
        if wrong:
            found.append(f"{name} {rule.says} (got {wrong[0]!r})")
        twice = [v for i, v in enumerate(values) if v in values[:i]]
        if twice:
            found.append(f"{name} gives {twice[0]!r} twice; give each value once")
    return found


def check(found: list[str]) -> None:
    """Raise one UsageError naming every problem found."""
    if found:
        raise UsageError("; ".join(found))


def check_types(config) -> None:
    """UsageError naming each field of a config dataclass whose value is not of its declared type
    (``int``, ``float``, ``str``, ``bool``, or one of them or None), as the option that gives it.
    Python callers pass values through unchecked: a "16" where a count belongs would fail deep in
    torch."""
    found = []
    for f in fields(config):
        try:
            setattr(config, f.name, typed(flag(f.name), getattr(config, f.name), type_text(f)))
        except UsageError as exc:
            found.append(str(exc))
    check(found)


def typed(name: str, value, kind: str):
    """``value`` as the type ``kind`` names ("int", "float", "str", "bool", "int | None", ...;
    another kind is not checked); UsageError naming ``name`` when it is not one."""
    kinds = kind.replace(" ", "").split("|")
    if value is None and "None" in kinds:
        return value
    listed = next((k[5:-1] for k in kinds if k.startswith("list[") and k.endswith("]")), None)
    if listed and isinstance(value, (list, tuple)):  # a several option given a list: each value typed
        if not value:
            raise UsageError(f"{name} is an empty list; give one value or a list of several")
        return [typed(name, v, listed) for v in value]
    kinds = [k for k in kinds if not k.startswith("list[")]
    if "bool" in kinds:
        ok = isinstance(value, bool)
    elif "int" in kinds or "float" in kinds:
        whole = "int" in kinds
        ok = isinstance(value, numbers.Integral if whole else numbers.Real) and not isinstance(value, bool)
        value = (int(value) if whole else float(value)) if ok else value
    elif "str" in kinds:
        ok = isinstance(value, str)
    else:
        return value
    if not ok:
        want = next(k for k in kinds if k != "None")
        several = f" or a list of {_KIND_NAMES[want].split(' ', 1)[1]}s" if listed else ""
        raise UsageError(f"{name} must be {_KIND_NAMES[want]}{several}{' or None' if 'None' in kinds else ''} "
                         f"(got {type(value).__name__} {value!r:.40})")
    return value


_KIND_NAMES = {"bool": "True or False", "int": "a whole number", "float": "a number", "str": "a string"}


def keywords(cls, args: tuple, given: dict, leave_out: tuple[str, ...] = ()) -> dict:
    """The settings an API call was given for config class ``cls``: positional ones in field order
    (``leave_out`` skipped), then by name; UsageError naming any that ``cls`` has no field for.
    A field that ``varies`` given as None is left out: the config's own default then holds."""
    names = [f.name for f in options(cls) if f.name not in leave_out]
    if len(args) > len(names):
        raise UsageError(f"at most {len(names)} settings by position ({', '.join(names)}); got {len(args)}")
    taken = dict(zip(names, args))
    twice = sorted(set(taken) & set(given))
    unknown = sorted(set(given) - set(names))
    if twice or unknown:
        raise UsageError("; ".join([f"{n} is given twice" for n in twice] + [_unknown(n, names) for n in unknown]))
    varies = {f.name for f in options(cls) if f.metadata.get("varies")}
    return {k: v for k, v in {**taken, **given}.items() if not (k in varies and v is None)}


def _unknown(name: str, names: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, names, n=1)
    return f"unknown setting {name}" + (f" (did you mean {close[0]}?)" if close else f"; known: {', '.join(names)}")


def signature(fn: Callable, classes: Iterable[type], leave_out: tuple[str, ...] = ()) -> inspect.Signature:
    """``fn``'s signature with its ``*args``/``**settings`` replaced by the options of ``classes``
    as keyword parameters: what ``help()`` and editors show for the API's generated keywords."""
    own = [p for p in inspect.signature(fn).parameters.values()
           if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    taken = {p.name for p in own}
    extra = []
    for cls in classes:
        for f in options(cls):
            if f.name not in taken | set(leave_out):
                taken.add(f.name)
                shown = type_text(f) + (" | None" if f.metadata.get("varies") else "")
                extra.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=interface_default(f),
                                               annotation=shown))
    return inspect.Signature(own + extra)
