import pandas as pd
import pytest
from pyannote.core import Annotation, Segment

from mifidelity.evaluation import diarization_error_rate, normalise_words, role_time_accuracy, word_error_rate
from mifidelity.types import SpeakerTurn


def test_wer_ignores_case_punctuation_and_hyphens():
    assert normalise_words("Mm-hmm. So, you're READY?") == "mm hmm so youre ready"
    assert word_error_rate("I want to stop.", "i want to stop") == 0.0
    assert word_error_rate("I want to stop", "I want to go") == pytest.approx(0.25)


def test_role_time_accuracy_counts_uncovered_speech_as_wrong():
    truth = pd.DataFrame({"start": [0.0, 2.0], "end": [2.0, 4.0], "role": ["coach", "client"]})
    assert role_time_accuracy(truth, truth) == pytest.approx(1.0)
    half = pd.DataFrame({"start": [0.0], "end": [2.0], "role": ["coach"]})
    assert role_time_accuracy(truth, half) == pytest.approx(0.5, abs=0.01)
    swapped = truth.assign(role=["client", "coach"])
    assert role_time_accuracy(truth, swapped) == 0.0


def test_der_is_label_permutation_invariant():
    reference = Annotation()
    reference[Segment(0, 5)] = "coach"
    reference[Segment(5, 10)] = "client"
    turns = [SpeakerTurn(0, 5, "SPEAKER_01"), SpeakerTurn(5, 10, "SPEAKER_00")]
    assert diarization_error_rate(reference, turns)["diarization error rate"] == 0.0
    wrong = [SpeakerTurn(0, 10, "SPEAKER_00")]
    assert diarization_error_rate(reference, wrong)["diarization error rate"] == pytest.approx(0.5)
