import pytest

from mifidelity.errors import MifidelityError
from mifidelity.transcript_input import read_transcript_csv


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_roles_text_and_optional_times(tmp_path):
    frame = read_transcript_csv(write(tmp_path, 'role,text,start,end\nTherapist,"Hi, how are you?",0,1.5\nclient,Fine,2,3\n'))
    assert list(frame["role"]) == ["coach", "client"]
    assert list(frame["text"]) == ["Hi, how are you?", "Fine"]
    assert list(frame["start"]) == [0.0, 2.0]


def test_times_are_optional_and_empty_text_kept(tmp_path):
    frame = read_transcript_csv(write(tmp_path, "text,role\nHello,coach\n,client\n"))
    assert len(frame) == 2 and frame["start"].isna().all()
    assert frame.loc[1, "text"] == ""


@pytest.mark.parametrize("content,message", [
    ("speaker,words\na,b\n", "missing: role, text"),
    ("role,text\nnurse,hello\n", "row 2 has role 'nurse'"),
    ("role,text,start\ncoach,hi,soon\n", "start must hold seconds"),
])
def test_bad_transcripts(tmp_path, content, message):
    with pytest.raises(MifidelityError, match=message):
        read_transcript_csv(write(tmp_path, content))


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(MifidelityError, match="not found"):
        read_transcript_csv(tmp_path / "nope.csv")
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00\x00garbage\x00")
    with pytest.raises(MifidelityError):
        read_transcript_csv(path)
