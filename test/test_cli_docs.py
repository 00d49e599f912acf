"""README, --help and the argument parsers agree.

Every `s2r-depth` command line in the README parses with the real parser; every option the
README names exists; every subcommand is documented; every option has help, and an option
with a default says which.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from s2r_depth_ros.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
# Options of other programs the README shows (ros2 run, colcon, torchrun, trtexec).
FOREIGN_OPTIONS = {"--ros-args", "--params-file", "--packages-select", "--nproc_per_node",
                   "--onnx", "--fp16", "--saveEngine"}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def readme_command_lines() -> list[str]:
    """`s2r-depth ...` invocations: code-block lines and inline code spans."""
    text = README.read_text()
    lines = []
    # A shell line continued with a trailing backslash is one command.
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith((".venv/bin/s2r-depth ", "s2r-depth ")):
            lines.append(line)
    # Inline spans with arguments; `s2r-depth train` alone names a command, it runs nothing.
    lines += [span for span in re.findall(r"`((?:\.venv/bin/)?s2r-depth [^`]+)`", text)
              if len(span.split()) > 2]
    return [line for line in lines if "..." not in line]


def test_readme_has_command_lines():
    assert len(readme_command_lines()) >= 12


@pytest.mark.parametrize("line", readme_command_lines())
def test_every_readme_command_line_parses(line):
    argv = shlex.split(line)[1:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse reports the bad option on stderr
        pytest.fail(f"README line does not parse ({exc.code}): {line}")
    assert args.command == argv[0]


def test_every_option_the_readme_names_exists():
    known = set(FOREIGN_OPTIONS)
    for parser in subcommands().values():
        for action in parser._actions:
            known.update(action.option_strings)
    named = set(re.findall(r"(?<![\w-])--[a-zA-Z][\w-]*", README.read_text()))
    assert named - known == set(), "README names options no parser has"


def test_every_subcommand_is_documented_with_a_description():
    readme = README.read_text()
    for name, parser in subcommands().items():
        assert f"s2r-depth {name}" in readme or f"`{name}`" in readme, name
        assert parser.description, f"{name} has no description"


def test_every_option_has_help_and_states_its_default():
    missing = []
    for name, parser in subcommands().items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            option = f"{name} {action.option_strings[0]}"
            if not action.help:
                missing.append(f"{option}: no help")
                continue
            has_default = action.default not in (None, False, True, argparse.SUPPRESS) and \
                not action.required and not isinstance(action, argparse._StoreConstAction)
            if has_default and "default" not in action.help.lower():
                missing.append(f"{option}: default {action.default!r} not in its help")
    assert missing == []


def test_output_is_called_output_everywhere_and_out_stays_an_alias(tmp_path):
    commands = subcommands()
    for name, parser in commands.items():
        strings = {s for a in parser._actions for s in a.option_strings}
        if any(s.startswith("--out") for s in strings):
            assert {"--output", "-o"} <= strings, name
    for argv in (["synth", "--n", "1", "--out", "x"], ["train", "--config", "c", "--out", "x"],
                 ["synth", "--n", "1", "-o", "x"], ["train", "--config", "c", "--output", "x"]):
        assert build_parser().parse_args(argv).output == "x"


def test_domain_means_outdoor_or_indoor_everywhere():
    for name, parser in subcommands().items():
        for action in parser._actions:
            if "--domain" in action.option_strings:
                assert "outdoor" in action.help and "indoor" in action.help, name
    args = build_parser().parse_args(["predict", "x.png", "-o", "o", "--domain", "indoor"])
    assert args.domain == "suncg"  # the official files' name for it
    assert build_parser().parse_args(["predict", "x.png", "-o", "o", "--domain",
                                      "vkitti"]).domain == "vkitti"


def test_export_offers_only_options_that_change_the_export():
    strings = {s for a in subcommands()["export"]._actions for s in a.option_strings}
    assert {"--model", "--official-dir", "--domain", "--format", "--output"} <= strings
    assert not strings & {"--device", "--precision", "--resize", "--threads", "--backend"}


def test_first_line_of_an_error_never_fails_on_an_empty_message():
    from s2r_depth_ros.errors import first_line

    assert first_line(ValueError("one\ntwo")) == "one"
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(RuntimeError("  \n ")) == "RuntimeError"
