"""The one base class of mistakes a user can fix (a wrong path, config key, file or checkpoint).

Scripts print such an error as one line `error: ...` and exit with code 2 (`speechkit.cli.run`); any
other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """An input the user gave cannot be used; the message names it and says what to do."""
