import pytest

from mifidelity.errors import MifidelityError
from mifidelity.transcript_input import read_transcript_csv
from mifidelity.types import Utterance


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_roles_text_and_optional_times(tmp_path):
    utterances = read_transcript_csv(
        write(tmp_path, 'role,text,start,end\nTherapist,"Hi, how are you?",0,1.5\nclient,Fine,2,3\n'))
    assert utterances == [Utterance(0.0, 1.5, "coach", "Hi, how are you?", "coach"),
                          Utterance(2.0, 3.0, "client", "Fine", "client")]


def test_times_are_optional_and_empty_text_kept(tmp_path):
    utterances = read_transcript_csv(write(tmp_path, "text,role\nHello,coach\n,client\n"))
    assert len(utterances) == 2 and all(u.start is None and u.end is None for u in utterances)
    assert utterances[1].text == ""


def test_speaker_column_kept_and_empty_times_are_none(tmp_path):
    utterances = read_transcript_csv(write(tmp_path, "speaker,role,text,start,end\nA,coach,Hi,,\nB,client,Yes,1,2\n"))
    assert [u.speaker for u in utterances] == ["A", "B"]
    assert (utterances[0].start, utterances[0].end, utterances[1].start) == (None, None, 1.0)


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
