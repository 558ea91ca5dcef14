"""User-facing errors and the CLI wrapper that turns them into one line and exit code 2."""
import argparse
import functools
import sys


class UserError(Exception):
    """A mistake in the user's input (file, row, value, option).

    CLIs print it as one line, ``error: <message>``, and exit with code 2: no traceback.
    The message must name the file, row or value at fault.
    """


VERBOSE_HELP = ("show TensorFlow's start-up log lines (oneDNN, cuInit, absl), which are hidden "
                "by default (keras_fer.quiet)")


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are UserErrors: one line, exit 2 under ``cli_main``.

    Every keras_fer CLI takes ``--verbose`` (``VERBOSE_HELP``): ``keras_fer.quiet`` reads it
    from the command line before TensorFlow is imported; the option only has to be accepted.

    Args:
        verbose_option: add ``--verbose`` (False for a CLI that defines its own).
    """

    def __init__(self, *args, verbose_option=True, **kwargs):
        super().__init__(*args, **kwargs)
        if verbose_option:
            self.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)

    def error(self, message):
        raise UserError(message)


def cli_main(func):
    """Decorate a CLI ``main(argv=None) -> int``: UserError -> one line on stderr, exit 2.

    Also turns Ctrl-C into exit code 130 without a traceback. The wrapped function may return
    an int exit code or None (0).
    """

    @functools.wraps(func)
    def wrapper(argv=None):
        try:
            code = func(argv)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `... | head` closed our stdout: not an error worth a traceback
            sys.stderr.close()
            return 1
        return 0 if code is None else int(code)

    return wrapper
