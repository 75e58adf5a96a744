"""Settings with an allowed range, declared once in an ``__init__`` signature, for the command line and for Python.

Annotate an argument with a ranged type (``n_critic: PositiveInt = 1``, ``dropout: Probability = 0.5``, or one made
with :func:`ranged`). LightningCLI (jsonargparse) then refuses a value outside the range while it parses the command
line or a config, naming the setting, and ``--help`` shows the range as the setting's type; the value reaches
``__init__`` as a plain int or float. Python callers get the same check from ``check_settings(ThisClass, locals())``,
the first line of the ``__init__``, as a ValueError that names the class, the setting, its range and its description.

A class that takes some settings as another class does, with the same meaning, adopts their descriptions with the
:func:`described` decorator instead of copying them. This module is the bottom floor: the datamodules, models and
callbacks all use it.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import operator
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import docstring_parser
from jsonargparse.typing import register_type

T = TypeVar("T", bound=type)

COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


class Ranged:
    """Base of the ranged number types. A type stands for ``kind`` (int or float) values that satisfy every
    ``(comparison, limit)`` of ``limits``; it is never instantiated: values stay plain ints and floats."""

    kind: type[int] | type[float]
    limits: tuple[tuple[str, float], ...]
    #: The range as words, e.g. ">= 1" or "in [0, 1)".
    bounds: str

    @classmethod
    def allowed(cls, plural: bool = False) -> str:
        """What the values may be, e.g. "an integer >= 1" ("integers >= 1" with ``plural``)."""
        nouns = ("integers", "an integer") if cls.kind is int else ("numbers", "a number")
        return f"{nouns[0] if plural else nouns[1]} {cls.bounds}"

    @classmethod
    def accepts(cls, value: Any) -> bool:
        """Whether ``value`` is of the kind (an integer of any type for int, any real for float, never a bool) and in
        range."""
        kind = numbers.Integral if cls.kind is int else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        return all(COMPARISONS[comparison](value, limit) for comparison, limit in cls.limits)

    @classmethod
    def parse(cls, value: Any) -> int | float:
        """A command-line string or config value as a plain ``kind``, or a ValueError saying what is allowed."""
        number = value
        if isinstance(value, str):
            try:
                number = cls.kind(value)
            except ValueError:
                pass
        if not cls.accepts(number):
            # The value last: jsonargparse deletes " value " from the messages of Optional settings.
            raise ValueError(f"expected {cls.allowed()}, got {value!r}")
        return cls.kind(number)


@functools.cache
def ranged(
    kind: type[int] | type[float],
    *,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    below: float | None = None,
) -> type[Ranged]:
    """The type of ``kind`` values within the given bounds (one lower and one upper at most), named after its range
    ("int >= 1", "float in [0, 1)"), as ``--help`` shows it."""
    lower = [(comparison, limit) for comparison, limit in ((">=", at_least), (">", above)) if limit is not None]
    upper = [(comparison, limit) for comparison, limit in (("<=", at_most), ("<", below)) if limit is not None]
    if len(lower) > 1 or len(upper) > 1 or not lower + upper:
        raise ValueError("give a range at most one lower bound (at_least or above) and one upper (at_most or below)")
    if lower and upper:
        (low_comparison, low), (high_comparison, high) = lower[0], upper[0]
        bounds = (
            f"in {'[' if low_comparison == '>=' else '('}{low:g}, {high:g}{']' if high_comparison == '<=' else ')'}"
        )
    else:
        comparison, limit = (lower + upper)[0]
        bounds = f"{comparison} {limit:g}"
    namespace = {"kind": kind, "limits": tuple(lower + upper), "bounds": bounds, "__module__": __name__}
    # A subclass of kind, as the annotation reads (and as jsonargparse shows it), though never instantiated.
    number_type = type(f"{kind.__name__} {bounds}", (Ranged, kind), namespace)
    # Valid plain values pass as they are; anything else goes through parse (strings from the command line, ints
    # given for a float setting, bad values).
    register_type(
        number_type,
        serializer=lambda value: value,
        deserializer=number_type.parse,
        type_check=lambda value, cls: type(value) is cls.kind and cls.accepts(value),
    )
    return number_type


PositiveInt = ranged(int, at_least=1)
NonNegativeInt = ranged(int, at_least=0)
PositiveFloat = ranged(float, above=0)
NonNegativeFloat = ranged(float, at_least=0)
#: [0, 1): dropout, label flipping, a held-out share; 1 would leave nothing.
Probability = ranged(float, at_least=0, below=1)
#: (0, 1): an exponential moving average's decay.
OpenUnitInterval = ranged(float, above=0, below=1)
#: A pair or more: a sweep's two ends, a group of samples to take a spread over.
AtLeastTwo = ranged(int, at_least=2)


def check_settings(cls: type, arguments: Mapping[str, Any]) -> None:
    """Raise a ValueError for the first argument of ``cls.__init__`` whose value is outside its ranged type.

    Call it first in ``cls.__init__`` with ``locals()``. Checked are arguments typed ``R``, ``R | None`` and
    ``tuple[R, ...]`` for a ranged type ``R``. The message names the class being built (``self``'s), the setting, what
    it may be and, from the class's docstrings, what it does.
    """
    owner = type(arguments["self"]) if "self" in arguments else cls
    for name, (number_type, optional, sequence) in ranged_parameters(cls.__init__).items():
        value = arguments[name]
        if optional and value is None:
            continue
        if sequence:
            if isinstance(value, (tuple, list)) and all(number_type.accepts(item) for item in value):
                continue
            allowed = f"a sequence of {number_type.allowed(plural=True)}"
        elif number_type.accepts(value):
            continue
        else:
            allowed = number_type.allowed() + (" or None" if optional else "")
        description = setting_descriptions(owner).get(name)
        raise ValueError(
            f"{owner.__name__} {name} must be {allowed}, got {value!r}."
            + (f" {name}: {description}." if description else "")
        )


@functools.cache
def ranged_parameters(function: Callable) -> dict[str, tuple[type[Ranged], bool, bool]]:
    """``function``'s arguments with a ranged type: name -> (the type, whether None is allowed, whether a tuple)."""
    found = {}
    for name, hint in typing.get_type_hints(function).items():
        members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        optional = type(None) in members
        for member in members:
            if typing.get_origin(member) is tuple and typing.get_args(member)[1:] == (Ellipsis,):
                member, sequence = typing.get_args(member)[0], True
            else:
                sequence = False
            if inspect.isclass(member) and issubclass(member, Ranged):
                found[name] = (member, optional, sequence)
    return found


@functools.cache
def setting_descriptions(cls: type) -> dict[str, str]:
    """The ``Args:`` descriptions in the docstrings of ``cls`` and its bases, the nearest class's winning (the
    precedence jsonargparse gives them in ``--help``), each on one line."""
    descriptions: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            params = docstring_parser.parse(klass.__doc__ or "").params
        except docstring_parser.ParseError:  # a base's docstring in another style: it describes none of ours
            continue
        for param in params:
            if param.description:
                descriptions[param.arg_name] = one_line(param.description).rstrip(".")
    return descriptions


def described(*sources: type) -> Callable[[T], T]:
    """A class decorator for a class that takes some settings as the ``sources`` do, meaning the same: its docstring's
    ``Args:`` section (the last section) is ended with the sources' descriptions of the ``__init__`` arguments that it
    does not describe itself. help() and jsonargparse's ``--help`` then show them, and the source holds each once.
    """

    def decorate(cls: T) -> T:
        doc = inspect.cleandoc(cls.__doc__ or "")
        own = {param.arg_name for param in docstring_parser.parse(doc).params}
        taken = list(inspect.signature(cls.__init__).parameters)
        adopted: dict[str, str] = {}
        for source in sources:
            for param in docstring_parser.parse(source.__doc__ or "").params:
                if param.arg_name in taken and param.arg_name not in own and param.description:
                    adopted.setdefault(param.arg_name, one_line(param.description))
        lines = [f"    {name}: {adopted[name]}" for name in taken if name in adopted]
        if not re.search(r"^Args:$", doc, flags=re.MULTILINE):
            lines.insert(0, "\nArgs:")
        cls.__doc__ = "\n".join([doc, *lines])
        return cls

    return decorate


def one_line(text: str) -> str:
    """A docstring's wrapped description on one line."""
    return " ".join(text.split())
