"""Fitting and cross-validating the models that production code only loads.

Nothing here runs in the pipeline; the coders (:mod:`mifidelity.coding`) and the session
estimates (:mod:`mifidelity.fidelity`) read the artifacts these commands write. AnnoMI
and mi-forum stay outside the repository; pass their folders. From the repository root::

    python -m mifidelity.coding.training.train       # the behaviour coder -> coding/artifacts/minilm-context.npz
    python -m mifidelity.coding.training.evaluate    # its cross-validation (and out-of-fold probabilities)
    python -m mifidelity.coding.training.adherence train|evaluate  # the adherence coder -> coding/artifacts/adherence.npz
    python -m mifidelity.coding.training.fidelity    # the session estimates -> artifacts/session-fidelity.json

Modules: :mod:`.data` (AnnoMI with majority-vote labels), :mod:`.train`, :mod:`.evaluate`,
:mod:`.adherence_data` (the adherence coder's examples and embeddings), :mod:`.adherence`,
:mod:`.fidelity`. The adherence examples written for this project are in ``training_data/``.
"""
