"""Voice profile files: what load_voice_profile accepts and the errors a user sees.

Building a profile from speech and using it to name the coach is tested on a
real recording in test_embedding.py.
"""

import stat

import numpy as np
import pytest

from mifidelity.diarization.voice_profile import load_voice_profile, save_voice_profile
from mifidelity.errors import MifidelityError


def test_saved_profile_loads_as_a_unit_vector(tmp_path):
    path = tmp_path / "coach.npy"
    save_voice_profile(np.full(256, 2.0), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a voice is personal data
    profile = load_voice_profile(path)
    assert profile.shape == (256,)
    assert np.linalg.norm(profile) == pytest.approx(1.0)


def test_unreadable_or_wrong_sized_profile_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    with pytest.raises(MifidelityError, match="cannot read voice profile"):
        load_voice_profile(bad)
    with pytest.raises(MifidelityError, match="cannot read voice profile"):
        load_voice_profile(tmp_path / "missing.npy")
    short = tmp_path / "short.npy"
    save_voice_profile(np.ones(10), short)
    with pytest.raises(MifidelityError, match="256 floats"):
        load_voice_profile(short)
