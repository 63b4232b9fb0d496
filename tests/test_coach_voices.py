"""Coach voice profiles (issue 18): safe names, owner-only files, running mean, what a session may teach."""

import stat

import numpy as np
import pytest

from mifidelity.coach_voices import (
    MAX_CONTRIBUTIONS,
    CoachVoiceCheck,
    VoiceProfiles,
    check_coach_voice,
    learn_coach_voice,
    profile_file_name,
)
from mifidelity.config import RolesConfig
from mifidelity.diarization.voice_profile import load_voice_profile
from mifidelity.errors import MifidelityError
from mifidelity.roles import assign_roles
from mifidelity.types import RoleAssignment, Utterance, VoiceMatch


def unit(seed: int) -> np.ndarray:
    v = np.abs(np.random.default_rng(seed).normal(size=256))
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("name", ["Sam", "Sam Lee", "José Núñez", "o'brien", "dr.smith", "coach_7", "Anne-Marie"])
def test_names_that_make_safe_file_names(name):
    assert profile_file_name(name) == f"{name}.npz"


@pytest.mark.parametrize("name", ["", "../x", "a/b", "a\\b", ".hidden", "..", "x" * 65, "name.", "name ", " lead",
                                  "a\x00b", "tab\there", "-dash", "_under", "a..b", "/etc/passwd"])
def test_bad_names_are_refused(name, tmp_path):
    with pytest.raises(MifidelityError, match="cannot name a voice profile"):
        profile_file_name(name)
    profiles = VoiceProfiles(tmp_path / "voices")
    with pytest.raises(MifidelityError):
        profiles.enroll(name, unit(0))
    with pytest.raises(MifidelityError):
        profiles.forget(name)
    assert not (tmp_path / "voices").exists() or not any((tmp_path / "voices").glob("*.npz"))
    assert not any(tmp_path.parent.glob("x.npz"))


def test_enroll_list_forget_and_owner_only_files(tmp_path):
    profiles = VoiceProfiles(tmp_path / "out" / ".voices")
    assert profiles.list() == [] and profiles.get("Sam") is None
    profiles.enroll("Sam", unit(1))
    profiles.enroll("Ana", unit(2))
    assert [p.name for p in profiles.list()] == ["Ana", "Sam"]
    sam = profiles.get("Sam")
    assert (sam.clips, sam.sessions) == (1, 0) and np.allclose(sam.unit, unit(1))
    assert stat.S_IMODE(profiles.folder.stat().st_mode) == 0o700
    for path in profiles.folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Embeddings only: the file holds no audio, and the diariser's profile option reads it.
    assert np.allclose(load_voice_profile(profiles.path("Sam")), unit(1), atol=1e-6)
    assert profiles.forget("Sam") and not profiles.forget("Sam")
    assert [p.name for p in profiles.list()] == ["Ana"]


def test_default_folder_is_beside_the_sessions_unless_configured(tmp_path):
    assert VoiceProfiles.for_output(tmp_path, RolesConfig()).folder == tmp_path / ".voices"
    configured = RolesConfig(voice_profiles=str(tmp_path / "elsewhere"))
    assert VoiceProfiles.for_output(None, configured).folder == tmp_path / "elsewhere"
    with pytest.raises(MifidelityError, match="--out"):
        VoiceProfiles.for_output(None, RolesConfig())


def test_running_mean_with_a_capped_count_and_each_recording_once(tmp_path):
    profiles = VoiceProfiles(tmp_path)
    first = profiles.learn("Sam", unit(1), "sha-1")
    assert first.sessions == 1 and np.allclose(first.unit, unit(1))
    assert profiles.learn("Sam", unit(2), "sha-1") is None        # the same recording again
    second = profiles.learn("Sam", unit(2), "sha-2")
    assert np.allclose(second.embedding, (unit(1) + unit(2)) / 2)
    for i in range(3, 40):
        profiles.learn("Sam", unit(1), f"sha-{i}")
    before = profiles.get("Sam").embedding
    after = profiles.learn("Sam", unit(99), "sha-new").embedding
    # Past the cap a new session weighs 1 / (MAX_CONTRIBUTIONS + 1): one odd session cannot take over.
    assert np.allclose(after, before + (unit(99) - before) / (MAX_CONTRIBUTIONS + 1))
    assert profiles.get("Sam").sessions == 40


def test_enroll_replace_starts_again(tmp_path):
    profiles = VoiceProfiles(tmp_path)
    profiles.learn("Sam", unit(1), "sha-1")
    profiles.enroll("Sam", unit(2), replace=True)
    sam = profiles.get("Sam")
    assert (sam.sessions, sam.clips) == (0, 1) and np.allclose(sam.unit, unit(2))


def test_a_file_that_is_not_a_profile_is_a_user_error(tmp_path):
    profiles = VoiceProfiles(tmp_path)
    (tmp_path / "Sam.npz").write_bytes(b"not numpy")
    np.savez(tmp_path / "Ana.npz", embedding=np.ones(3))
    with pytest.raises(MifidelityError, match="cannot read the voice profile"):
        profiles.get("Sam")
    assert profiles.list() == []


def test_a_bad_coach_name_in_a_session_is_a_note_not_a_failure(tmp_path):
    check = check_coach_voice(VoiceProfiles(tmp_path), "../../etc", np.zeros(16000, np.float32), 16000, [])
    assert check.match is None and "was not looked for by voice" in check.notes[0]


# -- what a session may teach ------------------------------------------------------------------------------

SESSION = [("S1", "What brings you here today?"), ("S0", "My doctor said I should cut down, I'm worried."),
           ("S1", "It sounds like part of you is concerned."), ("S0", "I want to be around for my kids.")]


def utterances():
    return [Utterance(float(i), i + 1.0, s, t) for i, (s, t) in enumerate(SESSION)]


def check(similarity=None):
    voices = {"S0": unit(0), "S1": unit(1)}
    return CoachVoiceCheck("Sam", voices, None if similarity is None else VoiceMatch("Sam", similarity))


def test_first_confident_session_starts_the_profile(tmp_path):
    profiles = VoiceProfiles(tmp_path)
    roles = assign_roles(utterances())
    assert learn_coach_voice(profiles, check(), roles, "sha-1").startswith("learnt")
    assert np.allclose(profiles.get("Sam").unit, unit(1))   # S1, the coach's voice
    assert learn_coach_voice(profiles, check(), roles, "sha-1") == "not learnt: this recording already counted"


def test_uncertain_disagreeing_or_unrecognised_sessions_teach_nothing(tmp_path):
    profiles = VoiceProfiles(tmp_path)
    unsure = RoleAssignment("S1", {"S1": "coach", "S0": "client"}, 0.6, "language cues")
    assert learn_coach_voice(profiles, check(), unsure, "a").startswith("not learnt: roles uncertain")
    unknown = check({"S0": 0.6, "S1": 0.62})
    roles = assign_roles(utterances(), voice=unknown.match)
    assert learn_coach_voice(profiles, unknown, roles, "b") == \
        "not learnt: the coach's voice was not recognised in this session"
    against = check({"S0": 0.95, "S1": 0.6})     # the voice says S0, what was said says S1
    roles = assign_roles(utterances(), voice=against.match)
    assert roles.coach_speaker == "S0"
    assert learn_coach_voice(profiles, against, roles, "c") == "not learnt: voice and language disagree"
    assert profiles.get("Sam") is None
    agreeing = check({"S0": 0.6, "S1": 0.95})
    assert learn_coach_voice(profiles, agreeing, assign_roles(utterances(), voice=agreeing.match), "d") \
        .startswith("learnt")
