"""The inbox service: plain Python, with Prefect kept outside it.

- :mod:`~mifidelity.service.inbox`: the drop folder (scanning, when a copy has finished, safe moves, notes);
- :mod:`~mifidelity.service.ledger`: the database of recordings (one row per content hash, exclusive claims);
- :mod:`~mifidelity.service.inbox_run`: one scan-claim-process-move run, with processing injected as a
  ``submit`` callable, so it is tested in milliseconds without Prefect;
- :mod:`~mifidelity.service.prefect_server`: a private local Prefect server and deployment helpers
  for `mifidelity watch` and `mifidelity watch-deploy`.

The Prefect flow (``mifidelity_flows.watch_inbox``) only wires these together.
"""
