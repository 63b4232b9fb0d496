import pytest

from mifidelity.config import RolesConfig
from mifidelity.errors import MifidelityError
from mifidelity.roles import UNCERTAIN_BELOW, apply_roles, assign_roles, uncertainty_note
from mifidelity.types import RoleAssignment, Utterance

SESSION = [
    ("S1", "Hi, thanks for coming in. What brings you here today?"),
    ("S0", "My doctor said I should cut down on drinking, and I guess I'm worried about it."),
    ("S1", "It sounds like part of you is concerned about your health."),
    ("S0", "Yeah. I mean, I don't drink that much, but my wife says I do."),
    ("S1", "How do you feel about what she says?"),
    ("S0", "I think she might be right, honestly. I want to be around for my kids."),
    ("S1", "So your family is a big reason you want to change."),
]


def utts(pairs):
    return [Utterance(float(i), float(i) + 1, s, t) for i, (s, t) in enumerate(pairs)]


def test_coach_found_from_language():
    result = assign_roles(utts(SESSION))
    assert result.coach_speaker == "S1"
    assert result.roles == {"S1": "coach", "S0": "client"}
    assert result.confidence > 0.8


def test_labels_do_not_matter():
    swapped = [("S0" if s == "S1" else "S1", t) for s, t in SESSION]
    assert assign_roles(utts(swapped)).coach_speaker == "S0"


def test_override_by_speaker_and_channel():
    assert assign_roles(utts(SESSION), RolesConfig(coach_speaker="S0")).coach_speaker == "S0"
    result = assign_roles(utts(SESSION), RolesConfig(coach_channel=1), {"S0": 0, "S1": 1})
    assert result.coach_speaker == "S1" and result.confidence == 1.0


def test_bad_override_is_a_clear_error():
    with pytest.raises(MifidelityError, match="not among the speakers"):
        assign_roles(utts(SESSION), RolesConfig(coach_speaker="SPEAKER_07"))
    with pytest.raises(MifidelityError, match="channel"):
        assign_roles(utts(SESSION), RolesConfig(coach_channel=1))


def test_single_speaker_and_no_speech():
    one = assign_roles(utts([("S0", "I talk alone.")]))
    assert one.coach_speaker == "S0" and one.confidence == 0.5
    assert assign_roles([]).coach_speaker is None


def test_apply_roles_sets_every_role():
    result = assign_roles(utts(SESSION))
    roles = [u.role for u in apply_roles(utts(SESSION), result)]
    assert roles == ["coach", "client"] * 3 + ["coach"]


def test_uncertainty_note_below_the_cut_off_only():
    assert uncertainty_note(assign_roles(utts(SESSION))) is None
    guess = RoleAssignment("S0", {"S0": "coach", "S1": "client"}, UNCERTAIN_BELOW - 0.01, "language cues")
    assert "uncertain (confidence 0.69)" in uncertainty_note(guess) and "roles.coach_speaker" in uncertainty_note(guess)
    sure = RoleAssignment("S0", {"S0": "coach", "S1": "client"}, UNCERTAIN_BELOW, "language cues")
    assert uncertainty_note(sure) is None


def test_apply_roles_keeps_backchannels():
    heard = [Utterance(0.0, 5.0, "S0", "I walk a lot.", None), Utterance(2.0, 2.3, "S1", "Mm-hmm.", None, True)]
    result = RoleAssignment("S1", {"S1": "coach", "S0": "client"}, 0.9, "language cues")
    assert [(u.role, u.backchannel) for u in apply_roles(heard, result)] == [("client", False), ("coach", True)]


# -- by voice first (issue 18) -------------------------------------------------------------------------------

from mifidelity.roles import VOICE_MIN_SIMILARITY  # noqa: E402
from mifidelity.types import VoiceMatch  # noqa: E402

CLIENT_ASKS = [  # S0 is the coach, but S1 (the client) asks the questions
    ("S1", "Can I ask you something? How long have you done this work?"),
    ("S0", "About twelve years. I started in a clinic."),
    ("S1", "What would you do if you were me?"),
    ("S0", "I would want to know what matters most first."),
    ("S1", "Do you think people like me manage to cut down?"),
]


def test_a_sure_voice_decides_against_the_language_cues_and_says_so():
    assert assign_roles(utts(CLIENT_ASKS)).coach_speaker == "S1"   # the language cues alone are wrong
    result = assign_roles(utts(CLIENT_ASKS), voice=VoiceMatch("Sam", {"S0": 0.93, "S1": 0.68}))
    assert (result.coach_speaker, result.method) == ("S0", "voice") and result.confidence > 0.99
    assert result.evidence["voice"]["coach_speaker"] == "S0" and result.evidence["language"]["coach_speaker"] == "S1"
    assert len(result.notes) == 1 and "By voice S0 is coach Sam" in result.notes[0] and "the voice decided" in \
        result.notes[0]


WEAK = [("S1", "So how are things?"), ("S0", "Things are fine, I think."), ("S1", "Good to hear."), ("S0", "Yes.")]


def test_voice_and_language_agreeing():
    result = assign_roles(utts(SESSION), voice=VoiceMatch("Sam", {"S1": 0.9, "S0": 0.7}))
    assert (result.coach_speaker, result.method, result.notes) == ("S1", "voice", [])
    unsure = assign_roles(utts(WEAK), voice=VoiceMatch("Sam", {"S1": 0.82, "S0": 0.81}))
    assert unsure.method == "voice and language cues"
    assert unsure.confidence > max(unsure.evidence["voice"]["confidence"], unsure.evidence["language"]["confidence"])


def test_an_unsure_voice_against_sure_language_loses_and_lowers_the_confidence():
    result = assign_roles(utts(WEAK), voice=VoiceMatch("Sam", {"S0": 0.83, "S1": 0.82}))
    assert (result.coach_speaker, result.method) == ("S1", "language cues")
    assert result.confidence < result.evidence["language"]["confidence"]
    assert "what was said decided" in result.notes[0]


def test_a_voice_not_in_the_session_leaves_it_to_the_language():
    result = assign_roles(utts(SESSION), voice=VoiceMatch("Sam", {"S0": VOICE_MIN_SIMILARITY - 0.1, "S1": 0.5}))
    assert (result.coach_speaker, result.method) == ("S1", "language cues")
    assert not result.evidence["voice"]["recognised"] and "was not recognised" in result.notes[0]
    one_voice = assign_roles(utts(SESSION), voice=VoiceMatch("Sam", {"S0": 0.9}))
    assert one_voice.method == "language cues" and "too little speech" in one_voice.notes[0]


def test_configuration_still_overrides_the_voice():
    result = assign_roles(utts(SESSION), RolesConfig(coach_speaker="S0"), voice=VoiceMatch("Sam", {"S1": 0.95, "S0": 0.5}))
    assert (result.coach_speaker, result.method) == ("S0", "configured speaker")


def test_backchannels_say_nothing_of_a_role():
    heard = utts(SESSION) + [Utterance(20.0, 20.3, "S0", "What? Do you? How?", None, True)] * 5
    assert assign_roles(heard).confidence == assign_roles(utts(SESSION)).confidence
