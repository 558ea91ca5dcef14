"""The keras-fer command: its subcommands are the python -m modules; mistakes are one line."""
import pytest


def test_help_lists_every_subcommand(capsys):
    from keras_fer.cli import COMMANDS, main

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("train", "evaluate", "tune", "visualize", "export", "predict", "release",
                 "bench", "experiments", "data"):
        assert f"\n  {name} " in out
    assert len(COMMANDS) == 13


@pytest.mark.parametrize("argv, message", [
    ([], "error: no subcommand given (keras-fer --help lists them)"),
    (["trian"], "error: unknown subcommand 'trian' (choose from data, augment, models, train, "),
])
def test_mistakes_are_one_line_and_exit_2(argv, message, capsys):
    from keras_fer.cli import main

    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert captured.err.startswith(message)


def test_subcommand_runs_its_module_with_the_arguments(capsys):
    from keras_fer.cli import main

    assert main(["evaluate", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: keras-fer evaluate ")
    assert main(["tuning", "--bogus"]) == 2  # the alias of tune; its parser's one-line error
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: unrecognized arguments: --bogus"]


@pytest.mark.parametrize("name", ["predict", "train", "tune", "tuning", "data", "export", "models"])
def test_every_subcommand_names_itself_as_called(name, capsys):
    from keras_fer import errors
    from keras_fer.cli import ALIASES, main

    command = f"keras-fer {ALIASES.get(name, name)}"
    assert main([name, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: {command} [-h]")
    assert errors.INVOKED_AS is None  # python -m names itself as before, after it
    assert errors.invoked_as("python -m keras_fer.predict") == "python -m keras_fer.predict"


def test_a_nested_parser_keeps_its_command_and_python_m_its_name(capsys):
    from keras_fer.cli import main
    from keras_fer.data.cli import main as data_main

    assert main(["data", "prepare", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: keras-fer data prepare [-h]")
    with pytest.raises(SystemExit):
        data_main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m keras_fer.data [-h]")
