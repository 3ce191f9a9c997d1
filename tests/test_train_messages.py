"""The training script's error messages only suggest options it really has."""

from __future__ import annotations

import ast
import inspect
import re

from mood.training import train

FLAG = re.compile(r"--[a-z][a-z-]*")


def _strings(node: ast.AST) -> list[str]:
    """Every string literal under ``node`` (the literal parts of f-strings included)."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def flags_suggested_by_errors(source: str) -> set[str]:
    """The ``--flags`` that the messages of the ``raise`` statements in ``source`` mention."""
    raises = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Raise)]
    return {flag.rstrip("-") for r in raises for text in _strings(r) for flag in FLAG.findall(text)}


def test_the_flag_finder_reads_raise_messages_only() -> None:
    source = """
def f(x):
    print("--not-an-error")
    if x:
        raise ValueError(f"loss became {x}; lower --max-lr or try another --seed")
    raise RuntimeError("no flag here")
"""
    assert flags_suggested_by_errors(source) == {"--max-lr", "--seed"}


def test_every_flag_an_error_suggests_exists() -> None:
    suggested = flags_suggested_by_errors(inspect.getsource(train))
    assert suggested, "the training errors suggest no options any more: this test checks nothing"
    options = {option for action in train.get_parser()._actions for option in action.option_strings}
    assert suggested <= options, f"suggested but not options of mood.training.train: {sorted(suggested - options)}"
