import pandas as pd
import pytest
from pyannote.core import Annotation, Segment

from mifidelity.training.pipeline_accuracy import diarization_error_rate, normalise_words, role_time_accuracy, word_error_rate
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


def test_codes_by_overlap_and_code_agreement():
    from mifidelity.training.pipeline_accuracy import code_agreement, codes_by_overlap

    truth = pd.DataFrame({
        "start": [0.0, 3.0, 6.0], "end": [3.0, 6.0, 9.0], "role": ["coach", "client", "coach"],
        "main_behaviour": ["question", "", "reflection"], "question": ["open", "", "none"],
        "reflection": ["none", "", "complex"], "giving_information": ["false", "", "false"],
        "client_talk": ["", "change", ""],
    })
    # The pipeline split the first turn in two and merged nothing; times are a little off.
    pipeline = pd.DataFrame({"start": [0.1, 1.6, 3.2, 6.1], "end": [1.5, 2.9, 5.8, 8.7],
                             "role": ["coach", "coach", "client", "coach"]})
    reference = codes_by_overlap(pipeline, truth)
    assert list(reference["question"]) == ["open", "open", None, "none"]
    assert list(reference["giving_information"]) == [False, False, None, False]
    coded = reference.copy()
    coded.loc[1, "question"] = "closed"
    coded.loc[2, "client_talk"] = "sustain"
    agreement = code_agreement(reference, coded)
    assert agreement["question"]["n"] == 3 and agreement["question"]["accuracy"] == pytest.approx(2 / 3)
    assert agreement["client_talk"]["accuracy"] == 0.0
    assert agreement["reflection"]["accuracy"] == 1.0 and agreement["reflection"]["macro_f1"] == 1.0
