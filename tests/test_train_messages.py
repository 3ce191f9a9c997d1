"""The training errors only suggest options that the commands which can raise them really have."""

from __future__ import annotations

import argparse
import ast
import inspect
import re

from mood.training import cli, loop

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


def _subcommand_options(name: str) -> set[str]:
    (commands,) = [a for a in cli.get_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return {option for action in commands.choices[name]._actions for option in action.option_strings}


def test_every_flag_the_training_loop_suggests_is_a_flag_of_every_command_that_trains() -> None:
    suggested = flags_suggested_by_errors(inspect.getsource(loop))
    assert suggested, "the training errors suggest no options any more: this test checks nothing"
    for command in ("scratch", "musicnn"):  # the subcommands whose members run mood.training.loop.fit
        missing = suggested - _subcommand_options(command)
        assert not missing, f"suggested but not options of `python -m mood.training {command}`: {sorted(missing)}"
