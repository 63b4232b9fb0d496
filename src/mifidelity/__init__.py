"""mifidelity: Motivational Interviewing fidelity reports from recorded coaching sessions."""

import os as _os

__version__ = "0.1.0"

# OpenMP threads (torch, CTranslate2) that wait for work sleep instead of spinning. Transcription
# and diarisation run at the same time, and a spinning pool steals the core the other stage needs:
# on two cores shared with other work, ASR alone took 40-56 s with spinning threads and 19-23 s
# with sleeping ones on the same 17-minute recording; the coder 1,735 utterances in 47 s vs 12 s
# (issue 26, docs/benchmarks.md). It must be set before the OpenMP runtime starts (the first import
# of torch or ctranslate2), hence here; a value the user set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
