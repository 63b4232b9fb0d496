"""The pipeline's rules, without Prefect: a session's notes, its date and id, when a coach's voice is looked for."""

import os
import threading
from datetime import datetime

import numpy as np
import pytest

from mifidelity.alignment import attribution_note
from mifidelity.coach_voices import CoachVoiceCheck
from mifidelity.config import PipelineConfig
from mifidelity.pipeline import (NO_SPEECH_NOTE, recording_date, session_id_for, session_notes, stage_models,
                                 wants_voice_check)
from mifidelity.roles import uncertainty_note
from mifidelity.types import Alignment, Diarization, RoleAssignment, SpeakerTurn, StageInfo, Transcript, Word

WORDS = [Word(0.0, 0.4, "Hello"), Word(0.5, 0.9, "there.")]
TURNS = [SpeakerTurn(0.0, 1.0, "SPEAKER_00"), SpeakerTurn(1.0, 2.0, "SPEAKER_01")]


def transcript(words=WORDS) -> Transcript:
    return Transcript(list(words), "en", StageInfo("faster-whisper", "tiny.en", "1"))


def diarization(notes=("One speaker talked over the other.",)) -> Diarization:
    return Diarization(TURNS, StageInfo("embedding", "resemblyzer", "1"), notes=list(notes))


def roles(confidence: float, notes=("Voice and language disagree.",)) -> RoleAssignment:
    return RoleAssignment("SPEAKER_00", {"SPEAKER_00": "coach", "SPEAKER_01": "client"}, confidence, "language cues",
                          notes=list(notes))


def alignment(unattributed_words: int = 0) -> Alignment:
    return Alignment([], unattributed_seconds=1.5 * unattributed_words, unattributed_words=unattributed_words,
                     unattributed_places=min(unattributed_words, 1))


def voices(notes=("The coach was not looked for by voice: no profile.",)) -> CoachVoiceCheck:
    return CoachVoiceCheck("Robin", {"SPEAKER_00": np.ones(3) / np.sqrt(3)}, None, list(notes))


def test_notes_in_order_diariser_voice_roles_attribution_uncertainty():
    unsure, unattributed = roles(0.55), alignment(3)
    notes = session_notes(transcript=transcript(), diarization=diarization(), alignment=unattributed, roles=unsure,
                          voices=voices())
    assert notes == ["One speaker talked over the other.", "The coach was not looked for by voice: no profile.",
                     "Voice and language disagree.", attribution_note(unattributed), uncertainty_note(unsure)]
    assert all(notes)


def test_no_speech_replaces_the_uncertainty_note():
    notes = session_notes(transcript=transcript([]), diarization=diarization(()), alignment=alignment(),
                          roles=roles(0.5, ()))
    assert notes == [NO_SPEECH_NOTE] and uncertainty_note(roles(0.5, ())) is not None


def test_a_clean_confident_session_without_a_voice_check_has_no_notes():
    assert session_notes(transcript=transcript(), diarization=diarization(()), alignment=alignment(),
                         roles=roles(0.95, ())) == []


def test_the_inputs_notes_are_not_changed():
    diarized, decided = diarization(), roles(0.55)
    session_notes(transcript=transcript(), diarization=diarized, alignment=alignment(2), roles=decided,
                  voices=voices())
    assert diarized.notes == ["One speaker talked over the other."] and decided.notes == ["Voice and language disagree."]


def test_a_recording_is_dated_by_its_files_modification_time(tmp_path):
    path = tmp_path / "session.mp3"
    path.write_bytes(b"not decoded here")
    stamp = datetime(2026, 3, 14, 9, 26, 53).timestamp()
    os.utime(path, (stamp, stamp))
    date = recording_date(path)
    assert date == datetime.fromtimestamp(stamp).astimezone() and date.tzinfo is not None
    assert recording_date(str(path)) == date


def test_session_id_is_the_one_given_else_the_file_stem():
    assert session_id_for("/inbox/Robin/2026-03-14 visit.m4a") == "2026-03-14 visit"
    assert session_id_for("/inbox/Robin/visit.m4a", "robin-2026-03-14-1") == "robin-2026-03-14-1"


@pytest.mark.parametrize("coach,voice,checked", [("Robin", True, True), ("Robin", False, False), (None, True, False),
                                                 ("", True, False)])
def test_the_voice_is_looked_for_only_with_a_coach_and_roles_voice(coach, voice, checked):
    config = PipelineConfig.model_validate({"roles": {"voice": voice}})
    assert wants_voice_check(coach, config) is checked


def test_models_name_the_recogniser_and_the_diariser():
    heard, diarized = transcript(), diarization()
    assert stage_models(heard, diarized) == {"transcription": heard.info, "diarization": diarized.info}


def test_a_stage_made_one_recording_at_a_time_never_runs_for_two_lanes_at_once():
    import time

    from mifidelity.pipeline.stages import one_recording_at_a_time

    inside, most = [0], [0]
    lock = threading.Lock()

    @one_recording_at_a_time
    def stage(seconds):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(seconds)
        with lock:
            inside[0] -= 1
        return seconds

    @one_recording_at_a_time
    def other_stage():
        return stage(0.01)  # one stage may call another in the same lane

    lanes = [threading.Thread(target=stage, args=(0.05,)) for _ in range(3)]
    lanes.append(threading.Thread(target=other_stage))
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    assert most[0] == 1 and stage.__name__ == "stage"
