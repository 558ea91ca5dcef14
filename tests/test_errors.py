"""API errors are the built-in exceptions they mean: a UserError is a ValueError, a missing path
also a FileNotFoundError; under a CLI both are still one line and exit code 2."""
import argparse

import pytest

import keras_fer
import keras_fer.data
from keras_fer.errors import ArgumentParser, UserError, UserFileNotFound, cli_main
from keras_fer.io_utils import read_json
from keras_fer.predict.core import to_rgb


def test_user_error_is_a_value_error_and_a_missing_path_a_file_not_found_error():
    assert issubclass(UserError, ValueError)
    assert issubclass(UserFileNotFound, UserError)
    assert issubclass(UserFileNotFound, FileNotFoundError)
    assert str(UserFileNotFound("x.json: file not found")) == "x.json: file not found"


@pytest.mark.parametrize("call", [
    lambda missing: keras_fer.load(missing),
    lambda missing: keras_fer.data.load(missing),
    lambda missing: read_json(missing / "config.json"),
    lambda missing: to_rgb(missing / "face.png"),  # what detect_emotions(path) reads it with
], ids=["load", "data.load", "read_json", "image"])
def test_a_missing_path_given_to_the_api_is_a_file_not_found_error(tmp_path, call):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere") as info:
        call(missing)
    assert isinstance(info.value, UserError)


def test_a_cli_still_prints_one_line_for_a_missing_path(capsys):
    @cli_main
    def main(argv=None):
        raise UserFileNotFound("runs/x: no such run directory")

    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: runs/x: no such run directory\n"


@pytest.mark.parametrize("parser_class", [ArgumentParser, argparse.ArgumentParser])
def test_a_type_functions_user_error_keeps_its_message(capsys, parser_class):
    """argparse reports a ValueError of a ``type=`` function as "invalid ... value"; a UserError,
    a ValueError now, already names the value and keeps its own line."""
    def coding(text):
        raise UserError(f"--classes {text!r}: not a preset")

    @cli_main
    def main(argv=None):
        parser = parser_class(prog="x")
        parser.add_argument("--classes", type=coding)
        parser.parse_args(argv)

    assert main(["--classes", "raf"]) == 2
    assert capsys.readouterr().err == "error: --classes 'raf': not a preset\n"
    if parser_class is ArgumentParser:  # outside a CLI too
        parser = ArgumentParser(prog="x")
        parser.add_argument("--classes", type=coding)
        with pytest.raises(UserError, match="^--classes '1': not a preset$"):
            parser.parse_args(["--classes", "1"])
