"""Command-line options built from the configurations' fields, so that each is declared once.

``@config_options(lambda: [SampleConfig, TuneOptions])`` gives a command one ``--option`` per
field, with the field's type, default and help; the command receives their values in its
``**options``. The classes are read each time the command line is built (Typer builds it at each
run), so a model type registered after this module was imported still brings its options.
Values are checked by the configurations' ``validate``, not here: one check per option.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Annotated, Optional

import typer

from ..options import flag, interface_options, read_several


def parameters(classes: Iterable[type], leave_out: Iterable[str] = ()) -> list[inspect.Parameter]:
    """One keyword parameter per option of ``classes`` (the first class to declare a name wins),
    annotated as Typer reads it."""
    out = []
    for f, kind, default in interface_options(classes, leave_out):
        helped = f.metadata.get("help", "")
        names = f"{flag(f.name)}/--no-{flag(f.name)[2:]}" if kind is bool else flag(f.name)  # --tie/--no-tie
        option = typer.Option(names, help=helped, show_default="[default:" not in helped, **_several(f, kind))
        annotation = Annotated[Optional[kind] if default is None else kind, option]
        out.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    return out


def _several(f, kind: type) -> dict:
    """For an option that takes several values: its text read as one value or a list of them."""
    if not f.metadata.get("several"):
        return {}

    def read(text):
        if not isinstance(text, str):  # the default, a value already
            return text
        try:
            return read_several(text, kind.__name__)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    name = kind.__name__.upper()
    return {"parser": read, "metavar": f"{name}[,{name}...]"}


class _Command:
    """A command function whose signature (what Typer reads) is its own parameters, with its
    ``**options`` replaced by the options of the configurations ``sources()`` returns."""

    def __init__(self, fn: Callable, sources: Callable[[], Iterable[type]], leave_out: tuple[str, ...]):
        functools.update_wrapper(self, fn)
        self._fn, self._sources, self._leave_out = fn, sources, leave_out

    @property
    def __signature__(self) -> inspect.Signature:
        own = inspect.signature(self._fn, eval_str=True).parameters.values()
        fixed = [p for p in own if p.kind is not p.VAR_KEYWORD]
        taken = {p.name for p in fixed} | set(self._leave_out)
        arguments = [p for p in fixed if not _is_option(p)]  # positional arguments first, as before
        return inspect.Signature([p.replace(kind=p.KEYWORD_ONLY) for p in arguments]
                                 + parameters(self._sources(), taken)
                                 + [p.replace(kind=p.KEYWORD_ONLY) for p in fixed if _is_option(p)])

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)


def _is_option(p: inspect.Parameter) -> bool:
    return any(isinstance(m, typer.models.OptionInfo) for m in getattr(p.annotation, "__metadata__", ()))


def config_options(sources: Callable[[], Iterable[type]], leave_out: tuple[str, ...] = ()):
    """Decorator: the command takes the options of the configurations ``sources()`` returns
    (but ``leave_out``) in its ``**options``."""
    return lambda fn: _Command(fn, sources, leave_out)
