"""Fitting, cross-validating and measuring the models that production code only loads.

Nothing here runs in the pipeline, and nothing in the runtime imports it (tests/test_architecture.py):
the coders (:mod:`mifidelity.coding`) and the session estimates (:mod:`mifidelity.fidelity`) read the
artifacts these commands write. Its own packages (matplotlib, jiwer, pyannote.metrics) come with the
``train`` extra: ``pip install 'mifidelity[train]'``. AnnoMI, mi-forum and HLQC stay outside the
repository; pass their folders (the defaults are ``../shared/data/...``)::

    python -m mifidelity.training.train       # the behaviour coder -> coding/artifacts/minilm-context.npz
    python -m mifidelity.training.evaluate    # its cross-validation (and out-of-fold probabilities)
    python -m mifidelity.training.adherence train|evaluate  # the adherence coder -> coding/artifacts/adherence.npz
    python -m mifidelity.training.fidelity    # the session estimates -> artifacts/session-fidelity.json

Modules: :mod:`.data` (AnnoMI with majority-vote labels), :mod:`.train`, :mod:`.evaluate`, :mod:`.scores`,
:mod:`.adherence_data` (the adherence coder's examples and embeddings), :mod:`.adherence`,
:mod:`.fidelity` (+ :mod:`.session_data`, :mod:`.hlqc`, :mod:`.fidelity_report`), and
:mod:`.pipeline_accuracy` (WER, DER, role time and code agreement of a whole run against a reference;
used by the tests and the benchmarks). The adherence examples written for this project are in
``training_data/`` (package data, so an installed package can train).
"""
