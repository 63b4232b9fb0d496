"""The served portal: coaches read their own reports, supervisors read all and settle feedback on codes.

`mifidelity serve OUT` runs :func:`mifidelity.portal.app.create_app` under uvicorn. The portal
reads an output folder (the one `process`, `code` and `watch` write) and never writes into it:
accounts, web sessions, corrections and the audit trail live in the inbox ledger's database, in
tables of their own (:mod:`~mifidelity.portal.tables`).

- :mod:`~mifidelity.portal.tables`: the portal's tables and the store that opens them;
- :mod:`~mifidelity.portal.accounts`: users, roles and salted scrypt password hashes;
- :mod:`~mifidelity.portal.security`: web sessions, CSRF tokens, login throttling, response headers;
- :mod:`~mifidelity.portal.library`: which session folders exist and who may see them (untrusted names);
- :mod:`~mifidelity.portal.pages`: the served report and overview (the static files plus the portal's bar);
- :mod:`~mifidelity.portal.corrections`: feedback on codes, the supervisor's decisions, the training export;
- :mod:`~mifidelity.portal.audit`: who logged in, failed to, viewed, changed what;
- :mod:`~mifidelity.portal.app`: the ASGI application (routes only; the rules live in the modules above).

Nothing here logs transcript text: log lines carry user names, session ids and routes only.
"""
