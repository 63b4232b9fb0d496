"""The `mifidelity` command line: argument parsing and printing only; the work is in the library.

One module per group of commands (:mod:`.process`, :mod:`.models`, :mod:`.watch`, :mod:`.serve`,
:mod:`.users`, :mod:`.corrections`, :mod:`.coaches`), what they share in :mod:`.common`; this
module only assembles the application.
"""

from __future__ import annotations

import typer

from mifidelity.cli.models import models_app
from mifidelity.cli.process import code, process
from mifidelity.cli.watch import watch, watch_deploy
from mifidelity.cli.serve import audit, serve
from mifidelity.cli.users import users_app
from mifidelity.cli.corrections import corrections_app
from mifidelity.cli.coaches import coaches_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="MI fidelity reports from recorded coaching sessions.")
app.command()(process)
app.command()(code)
app.add_typer(models_app, name="models", help="List the engines and models on this machine; convert models.")
app.command("watch")(watch)
app.command("watch-deploy")(watch_deploy)
app.command("serve")(serve)
app.add_typer(users_app, name="users", help="Portal accounts: add, list, remove, passwd.")
app.add_typer(corrections_app, name="corrections", help="Feedback on codes from the portal: export the accepted ones.")
app.command("audit")(audit)
app.add_typer(coaches_app, name="coaches", help="Coach voice profiles: enroll from a clip, list, forget.")


def main() -> None:
    app()
