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


def test_backchannel_column_read_as_utterances_csv_writes_it(tmp_path):
    utterances = read_transcript_csv(write(
        tmp_path, "role,text,backchannel\ncoach,So you want to cut down,False\nclient,mm-hmm,True\n"
                  "coach,and keep the weekends,false\nclient,Yes,\n"))
    assert [u.backchannel for u in utterances] == [False, True, False, False]


def test_backchannel_must_be_true_or_false(tmp_path):
    with pytest.raises(MifidelityError, match="backchannel must be true or false; row 3 is 'maybe'"):
        read_transcript_csv(write(tmp_path, "role,text,backchannel\ncoach,Hi,false\nclient,mm,maybe\n"))


def test_coded_transcript_keeps_a_backchannel_out_of_the_volleys(tmp_path):
    """`mifidelity code` on a processed session's utterances.csv counts it as `process` did."""
    from mifidelity.coding import get_coder
    from mifidelity.config import CodingConfig
    from mifidelity.metrics import compute_metrics
    from mifidelity.session import code_utterances, utterances_frame

    text = ("role,text,backchannel\ncoach,So you want to cut down on drinking.,false\nclient,mm-hmm,{flag}\n"
            "coach,You'd like to keep the weekends free.,false\nclient,Yes that's right,false\n")
    coder = get_coder(CodingConfig(engine="rules"))
    coded = {flag: code_utterances(utterances_frame(read_transcript_csv(write(tmp_path, text.format(flag=flag)))), coder)
             for flag in ("true", "false")}
    assert coded["true"]["backchannel"].tolist() == [False, True, False, False]
    assert coded["true"].loc[1, "client_talk"] == "neutral"
    reflections = {flag: compute_metrics(table).reflections for flag, table in coded.items()}
    # With the back-channel both statements are one volley (one reflection counted); without, two.
    assert reflections == {"true": 1, "false": 2}


def test_find_transcripts_expands_folders_to_their_csv_files(tmp_path):
    from mifidelity.transcript_input import find_transcripts

    (tmp_path / "b").mkdir()
    for name in ("b/two.csv", "one.CSV", "notes.txt", "b/audio.wav"):
        (tmp_path / name).write_text("role,text\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "one.CSV")
    explicit = tmp_path / "notes.txt"
    found = [p.relative_to(tmp_path).as_posix() for p in find_transcripts([tmp_path, explicit])]
    assert found == ["b/two.csv", "one.CSV", "notes.txt"]  # a file named on its own is taken as it is
    assert find_transcripts([tmp_path / "b" / "audio.wav"]) == [tmp_path / "b" / "audio.wav"]
