"""The one exception type for errors a user can cause (a bad file, a missing model)."""


class MifidelityError(Exception):
    """An error whose message a supervisor can act on; the CLI prints it in one line."""
