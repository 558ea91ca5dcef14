"""User-facing errors and the CLI wrapper that turns them into one line and exit code 2."""
import argparse
import contextlib
import functools
import math
import re
import sys

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class UserError(ValueError):
    """A mistake in the user's input (file, row, value, option).

    CLIs print it as one line, ``error: <message>``, and exit with code 2: no traceback.
    The message must name the file, row or value at fault. It is a ``ValueError``, so that an
    API caller can catch the built-in exception it means.
    """


class UserFileNotFound(UserError, FileNotFoundError):
    """A path the user named does not exist: a ``UserError`` (one line under ``cli_main``) that
    is also a ``FileNotFoundError`` for an API caller.

    Example:
        >>> try:
        ...     keras_fer.load("no/such/run")
        ... except FileNotFoundError as e:
        ...     print(e)
        no/such/run: no such run directory or SavedModel
    """


class DiskFull(UserError):
    """No space left on the device (ENOSPC) while writing: the message names the folder, and
    the partial files are removed (``keras_fer.io_utils.disk_full_is_user_error``)."""


VERBOSE_HELP = ("show TensorFlow's start-up log lines (oneDNN, cuInit, absl), which are hidden "
                "by default (keras_fer.quiet)")


# (module, "keras-fer NAME") while keras_fer.cli runs a subcommand: its parsers name themselves
# as the user called them (usage and --help say "keras-fer predict", not "python -m ...")
INVOKED_AS = None


def invoked_as(prog):
    """``prog`` ("python -m MODULE[ ...]") as the user called it, ``keras-fer NAME[ ...]``,
    while ``keras_fer.cli`` runs MODULE; otherwise unchanged."""
    if INVOKED_AS is None or prog is None:
        return prog
    module, command = INVOKED_AS
    head, _, rest = prog.partition(" -m ")[2].partition(" ")
    if not prog.startswith("python -m ") or head != module:
        return prog
    return f"{command} {rest}".rstrip()


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are UserErrors: one line, exit 2 under ``cli_main``.

    Every keras_fer CLI takes ``--verbose`` (``VERBOSE_HELP``): ``keras_fer.quiet`` reads it
    from the command line before TensorFlow is imported; the option only has to be accepted.

    Args:
        verbose_option: add ``--verbose`` (False for a CLI that defines its own).
    """

    def __init__(self, *args, verbose_option=True, **kwargs):
        kwargs["prog"] = invoked_as(kwargs.get("prog"))
        super().__init__(*args, **kwargs)
        if verbose_option:
            self.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)

    def error(self, message):
        raise UserError(message)

    def _get_value(self, action, arg_string):
        return _get_value(self, action, arg_string)


def finite_float(text) -> float:
    """argparse type: a float that is neither NaN nor infinite (``--lr inf`` would train a
    model of NaNs)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def one_line(message) -> str:
    """``message`` as one line without terminal colour codes."""
    return " ".join(_ANSI.sub("", str(message)).split())


_ARGPARSE_GET_VALUE = argparse.ArgumentParser._get_value


def _get_value(parser, action, arg_string):
    # argparse turns any ValueError of a type= function into "invalid <type> value: ..."; a
    # UserError (a ValueError) already names the value at fault, so it passes through as it is.
    # argparse raises its ArgumentError while handling ours, which is thus its __context__.
    try:
        return _ARGPARSE_GET_VALUE(parser, action, arg_string)
    except argparse.ArgumentError as e:
        if isinstance(e.__context__, UserError):
            raise e.__context__ from None
        raise


@contextlib.contextmanager
def _argparse_raises():
    # Every parser a CLI builds (plain argparse ones and their sub-command parsers included)
    # reports its errors as a UserError rather than a usage block and SystemExit, and lets a
    # type= function's UserError through.
    saved = argparse.ArgumentParser.error, argparse.ArgumentParser._get_value
    argparse.ArgumentParser.error = ArgumentParser.error
    argparse.ArgumentParser._get_value = _get_value
    try:
        yield
    finally:
        argparse.ArgumentParser.error, argparse.ArgumentParser._get_value = saved


def is_disk_full(error) -> bool:
    """An OSError ENOSPC (or a quota), or another library's error saying so (TensorFlow's
    SaveV2 raises a ResourceExhaustedError with the OS's message)."""
    import errno

    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "No space left on device" in str(error) or "Disk quota exceeded" in str(error)


def cli_main(func):
    """Decorate a CLI ``main(argv=None) -> int``: UserError -> one line on stderr, exit 2.

    Also turns Ctrl-C into exit code 130 without a traceback. The wrapped function may return
    an int exit code or None (0). Any argparse error inside it is a UserError too. Before it
    runs, TensorFlow's start-up lines are hidden unless ``--verbose`` (``keras_fer.quiet``):
    the one place where keras_fer changes the process's logging, since a CLI owns its process.
    """

    @functools.wraps(func)
    def wrapper(argv=None):
        from keras_fer import quiet  # before the CLI imports TensorFlow

        quiet.install(sys.argv[1:] if argv is None else [str(a) for a in argv])
        try:
            with _argparse_raises():
                code = func(argv)
        except UserError as e:
            print(f"error: {one_line(e)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `... | head` closed our stdout: not an error worth a traceback
            sys.stderr.close()
            return 1
        except Exception as e:  # noqa: BLE001 (re-raised unless it says the disk is full)
            if not is_disk_full(e):
                raise
            # a write that no keras_fer.io_utils.disk_full_is_user_error named
            where = getattr(e, "filename", None) or "a file being written"
            print(f"error: {where}: no space left on the device (disk full)", file=sys.stderr)
            return 2
        return 0 if code is None else int(code)

    return wrapper
