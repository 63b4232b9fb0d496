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
