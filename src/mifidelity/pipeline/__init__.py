"""The pipeline as plain Python: the stages of a recording and of a transcript, their order, and the rules between.

``stages.py`` holds one typed function per stage and the rules (the session's notes, when a coach's voice
is looked for, the session's date and id, the models it names); ``runs.py`` the order the stages run in,
their timings and the batch of transcripts. Prefect flows (``mifidelity_flows.process_recording``) wrap
each stage function as a named task and hand those to :func:`run_recording` / :func:`run_transcript`;
nothing here imports Prefect, so a test reaches every rule directly.
"""

from mifidelity.pipeline.runs import (RECORDING_STAGES, TRANSCRIPT_STAGES, BatchOutcome, Outcome, RecordingSteps,
                                      Stage, StageClock, TranscriptBatch, TranscriptSteps, ran_now, run_recording,
                                      run_transcript, run_transcript_batch)
from mifidelity.pipeline.stages import (NO_SPEECH_NOTE, RecordingFacts, RecordingJob, RecordingParts, TranscriptJob, load_models,
                                        recording_date, session_id_for, session_notes, stage_models,
                                        wants_voice_check)

__all__ = [
    "NO_SPEECH_NOTE", "RECORDING_STAGES", "TRANSCRIPT_STAGES", "BatchOutcome", "Outcome", "RecordingFacts", "RecordingJob",
    "RecordingParts", "RecordingSteps", "Stage", "StageClock", "TranscriptBatch", "TranscriptJob", "TranscriptSteps",
    "load_models", "ran_now", "recording_date", "run_recording", "run_transcript", "run_transcript_batch",
    "session_id_for", "session_notes", "stage_models", "wants_voice_check",
]
