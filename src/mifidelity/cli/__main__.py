"""``python -m mifidelity.cli``: the same as the ``mifidelity`` command."""

from mifidelity.cli import main

main()
