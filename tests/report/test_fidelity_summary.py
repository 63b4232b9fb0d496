"""The MITI 4.2.1 summary, adherence moments and estimates in the report, the overview and the artifacts.

Sessions are built by hand (codes, adherence and a FidelityEstimate), so these tests do not need
the trained models.
"""

import csv
import io
import json
import re

import pytest

from mifidelity.fidelity import QUALITY_BANDS, FidelityEstimate, GlobalScores, session_verdict
from mifidelity.metrics import assess, compute_metrics
from mifidelity.outputs import write_session
from mifidelity.report import render_session_report
from mifidelity.report.artifacts import session_markdown, session_table
from mifidelity.report.codes import utterance_codes
from mifidelity.report.fidelity_summary import non_adherent_moments, quality_band, strengths
from mifidelity.report.overview import write_overview
from mifidelity.report.suggestions import suggestions

from support.reports import ESCAPED, HOSTILE, NETWORK_REF, SCORES, fidelity_session, hand_coded_utterances

def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert match, section_id
    return match.group(0)


def tiles(summary_html: str) -> dict[str, str]:
    """The summary block's tiles by their data-metric, as text without tags."""
    parts = summary_html.split('data-metric="')[1:]
    return {part.split('"', 1)[0]: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", part.split('"', 1)[1])) for part in parts}


@pytest.fixture
def session():
    return fidelity_session()


# ----------------------------------------------------------------------------------------------- the summary block

def test_counts_of_the_hand_built_session(session):
    m = session.metrics
    assert (m.questions, m.reflections, m.complex_reflections) == (2, 1, 1)
    assert (m.affirm, m.seeking_collaboration, m.emphasizing_autonomy, m.persuade, m.confront) == (1, 1, 1, 1, 1)
    assert (m.mi_adherent, m.mi_non_adherent) == (3, 2)


def test_report_leads_with_the_miti_summary(session):
    html = render_session_report(session)
    assert html.index("</header>") < html.index('id="miti-summary"') < html.index('id="scorecard"')
    summary = section(html, "miti-summary")
    found = tiles(summary)
    assert "Technical index 50 of 100" in found["technical"] and "Relational index 60 of 100" in found["relational"]
    for label, value in (("Cultivating change talk", "60"), ("Softening sustain talk", "40"),
                         ("Partnership", "55"), ("Empathy", "65")):
        assert re.search(rf"{label} {value} ", found["technical"] + found["relational"]), label
    assert "100%" in found["pct_complex_reflections"] and "good" in found["pct_complex_reflections"]
    assert "0.50" in found["reflection_to_question"] and "below fair" in found["reflection_to_question"]
    assert re.search(r"MI-adherent 3 ", found["mi_adherent"])
    assert re.search(r"MI-non-adherent 2 ", found["mi_non_adherent"])
    verdict = session_verdict(assess(session.metrics), session.fidelity)
    assert "27%" in verdict and "although the relational index is high (60 of 100; technical 50)" in verdict
    assert verdict.replace("'", "&#39;") in summary and "27%</strong>" in summary and "likely poor" in summary


def test_summary_says_these_are_estimates_and_where_they_come_from(session):
    summary = section(render_session_report(session), "miti-summary")
    note = re.sub(r"\s+", " ", summary)
    assert "estimates, not an expert's rating" in note
    assert "AnnoMI and HLQC" in note and "held out by group" in note and "docs/model-card-fidelity.md" in note
    assert "few coach turns" in note  # the probability says when it has little evidence
    assert "Reads reflections, complex reflections" in note  # what Empathy is built from (fidelity.CONSTRUCTS)
    assert "session-fidelity.json vtest" in note


def test_indices_carry_no_miti_band_or_rating(session):
    summary = section(render_session_report(session), "miti-summary")
    found = tiles(summary)
    for metric in ("technical", "relational"):
        assert "no MITI band" in found[metric] and "0-100" in found[metric]
        for word in ("fair", "good ≥", "of 5", "below"):
            assert word not in found[metric], (metric, word)
        tile_html = summary.split(f'data-metric="{metric}"', 1)[1].split('data-metric="', 1)[0]
        assert 'class="rating' not in tile_html  # no rating badge on an index
    assert "fair ≥ 1, good ≥ 2" in found["reflection_to_question"]  # the counted measures keep MITI's levels
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", summary))
    assert "not MITI's 1-5 global scores" in text and "1 + 4" not in text


def test_likely_good_with_a_low_relational_index_explains_itself_in_the_report():
    scores = GlobalScores(cultivating_change_talk=0.8, softening_sustain_talk=0.7, partnership=0.3, empathy=0.4)
    good = fidelity_session(probability=0.82)
    good.fidelity = FidelityEstimate(scores, 0.82, "session-fidelity.json vtest")
    summary = re.sub(r"\s+", " ", section(render_session_report(good), "miti-summary"))
    verdict = re.search(r'<p class="verdict" id="verdict">(.*?)</p>', summary).group(1).replace("&#39;", "'")
    assert verdict.startswith("An MI expert would most likely rate this session as good MI (estimated probability of good "
                              "MI 82%), although the relational index is low (35 of 100; technical 75): the estimate "
                              "weighs all aspects and the coach's words together.")
    assert "below fair" not in verdict.split("Counted on their own")[0]  # no MITI rating beside the estimated verdict
    assert "Counted on their own" in verdict  # R:Q 0.5 is below fair: said to be the counts alone


def test_session_without_estimate_or_adherence_codes_renders(session):
    old = fidelity_session(probability=None, adherence=False)
    assert old.metrics.mi_adherent is None
    html = render_session_report(old)
    found = tiles(section(html, "miti-summary"))
    assert "not estimated" in found["technical"] and "not estimated" in found["relational"]
    assert "not coded" in found["mi_adherent"] and "not coded" in found["mi_non_adherent"]
    assert 'id="mi-quality"' not in html and "coded before they existed" in html
    assert 'id="non-adherent-title"' not in html and 'data-filter="a-persuade"' not in html
    assert "Reflections per question" in found["reflection_to_question"]  # counted measures still shown
    coded_only = render_session_report(fidelity_session(probability=None))  # adherence codes, no estimate
    found = tiles(section(coded_only, "miti-summary"))
    assert "not estimated" in found["technical"] and re.search(r"MI-non-adherent 2 ", found["mi_non_adherent"])


# ----------------------------------------------------------------------------------------------- try next time, strengths

def test_persuade_and_confront_appear_under_try_next_time_with_the_client_words_before(session):
    html = render_session_report(session)
    next_time = section(html, "next-time")
    pairs = re.findall(r'<div class="pair (persuade|confront)" data-kind="\1">(.*?)</div>', next_time, re.S)
    assert [kind for kind, _ in pairs] == ["persuade", "confront"]
    persuade, confront = (body for _, body in pairs)
    assert persuade.index(f"I like a beer after work {ESCAPED}") < persuade.index(f"You really must stop {ESCAPED}")
    assert confront.index("Everyone drinks where I work.") < confront.index("That is just an excuse.")
    assert 'href="#u5"' in persuade and 'href="#u7"' in confront
    assert "Ask before advising" in next_time and "Roll with it instead of arguing" in next_time


def test_suggestions_rank_confront_and_persuade_among_the_others(session):
    rows = session.utterances.astype(object).where(session.utterances.notna(), None).to_dict(orient="records")
    moments = non_adherent_moments(rows)
    titles = [s.title for s in suggestions(session.metrics, rows, [], count=10, moments=moments)]
    assert "Roll with it instead of arguing" in titles and "Ask before advising" in titles
    assert titles.index("Roll with it instead of arguing") < titles.index("Ask before advising")
    quiet = [s.title for s in suggestions(session.metrics, rows, [], count=10)]
    assert "Ask before advising" not in quiet and "Roll with it instead of arguing" not in quiet
    text = " ".join(s.text for s in suggestions(session.metrics, rows, [], count=10, moments=moments))
    assert "beer" not in text and "excuse" not in text  # suggestions go to Prefect: never transcript text


def test_moments_are_counted_per_coach_volley():
    rows = [("client", "I drink too much.", "change", None),
            ("coach", "You should stop.", "info", "persuade"),
            ("coach", "Just stop buying it.", "info", "persuade"),
            ("client", "Hm.", "neutral", None),
            ("coach", "Stop today.", "info", "persuade")]
    frame = hand_coded_utterances(rows)
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    moments = non_adherent_moments(records)
    assert [(m.client, m.coach) for m in moments] == [(0, (1, 2)), (3, (4,))]
    assert compute_metrics(frame).persuade == len(moments)  # as many moments as MITI counts


def test_strengths_list_affirmations_autonomy_and_collaboration(session):
    html = render_session_report(session)
    block = section(html, "strengths")
    for kind, said in (("affirm", "You have already made a start by coming here."),
                       ("seeking_collaboration", "What would you like us to look at first?"),
                       ("emphasizing_autonomy", "It is your decision what happens next.")):
        match = re.search(rf'<div data-kind="{kind}">(.*?)</div>\s*</div>', block, re.S)
        assert match and said in match.group(1), kind
    assert "Best complex reflections" in block and "You want to be around for your kids." in block
    assert "That is just an excuse." not in block
    rows = session.utterances.astype(object).where(session.utterances.notna(), None).to_dict(orient="records")
    assert [g.kind for g in strengths(rows)] == ["affirm", "seeking_collaboration", "emphasizing_autonomy"]


def test_adherence_codes_tag_and_filter_the_transcript(session):
    assert utterance_codes({"role": "coach", "question": "open", "reflection": "none", "adherence": "seeking_collaboration"}) == [
        "question", "q-open", "adherent", "a-seek"]
    assert utterance_codes({"role": "coach", "adherence": "confront"}) == ["non-adherent", "a-confront"]
    assert utterance_codes({"role": "coach", "adherence": "persuade_with_permission"}) == ["a-permission"]
    assert utterance_codes({"role": "coach", "adherence": "none"}) == ["other"]
    html = render_session_report(session)
    for code in ("adherent", "non-adherent", "a-affirm", "a-seek", "a-autonomy", "a-persuade", "a-confront"):
        assert f'data-filter="{code}"' in html, code
    assert 'id="u7" class="role-coach" data-codes="non-adherent a-confront"' in html
    assert '<span class="tag a-confront">confront</span>' in html
    assert 'class="mark non-adherent"' in html and 'class="mark adherent"' in html


def test_hostile_text_in_a_persuade_moment_and_coach_name_is_escaped(session):
    session.coach = HOSTILE
    html = render_session_report(session)
    assert HOSTILE not in html and "<script>alert" not in html
    assert html.count("<script") == 1 and not NETWORK_REF.search(html)
    assert f"You really must stop {ESCAPED}" in section(html, "next-time")


# ----------------------------------------------------------------------------------------------- overview

def test_overview_lists_lowest_quality_first_with_the_new_columns(tmp_path):
    write_session(fidelity_session("good", 0.91), tmp_path)
    write_session(fidelity_session("unknown", None, adherence=False), tmp_path)
    write_session(fidelity_session("poor", 0.12, coach=HOSTILE), tmp_path)
    write_session(fidelity_session("middle", 0.55, coach="=HYPERLINK(\"x\")"), tmp_path)
    html = write_overview(tmp_path).read_text()
    table = list(csv.DictReader(io.StringIO((tmp_path / "sessions.csv").read_text())))
    assert [row["session_id"] for row in table] == ["poor", "middle", "good", "unknown"]
    poor = table[0]
    assert float(poor["mi_quality_probability"]) == 0.12 and poor["estimated_quality"] == "likely poor"
    assert poor["relational"] == "60" and poor["technical"] == "50" and poor["empathy"] == "65"  # indices 0-100
    assert not any(column.endswith("_rating") and column != "rating" for column in poor)
    assert table[3]["relational"] == ""
    assert poor["mi_adherent"] == "3" and poor["mi_non_adherent"] == "2" and poor["confront"] == "1"
    assert table[3]["mi_quality_probability"] == "" and table[3]["mi_non_adherent"] == ""
    assert table[1]["coach"].startswith("'=")  # still no formula injection
    assert HOSTILE not in html and ESCAPED in html and "beer" not in html
    order = re.findall(r'<tr data-coach="[^"]*" data-rating="[^"]*" data-quality="([^"]+)">\s*<td><a href="\./(\w+)/', html)
    assert order == [("likely poor", "poor"), ("either way", "middle"), ("likely good", "good"), ("not estimated", "unknown")]
    head = html[html.index('<table id="sessions">'):html.index("</thead>")]
    assert 'aria-sort="ascending" data-column="mi_quality_probability"' in head  # the default order, marked
    for column in ("Good MI (estimated probability)", "Technical index (estimated)", "Relational index (estimated)",
                   "MI-adherent", "MI-non-adherent"):
        assert f">{column}</button>" in head, column
    assert head.count("<button") == len(re.findall(r"<th[ >]", head))  # every column sortable
    assert "12% <span" in html
    cells = re.findall(r'<td class="num" data-sort="([\d.]*)">([^<]*)</td>', html)
    assert ("60", "60") in cells and ("50", "50") in cells  # the index cells: a number, no rating beside it
    assert ">Relational index (estimated)</button>" in head and "Mean relational index" in html
    boxes = dict(re.findall(r'data-band="([^"]+)"><strong>(\d+)</strong>', html))
    assert boxes == {"likely poor": "1", "either way": "1", "likely good": "1", "not estimated": "1"}


def test_overview_reads_session_json_written_before_the_indices(tmp_path):
    """Old session.json: MITI-style 1-5 globals (1 + 4 p) with ratings and no "scale": shown as the same indices."""
    write_session(fidelity_session("old", 0.27), tmp_path)
    write_session(fidelity_session("broken", 0.5), tmp_path)
    old = tmp_path / "old" / "session.json"
    summary = json.loads(old.read_text())
    summary["globals"] = {"cultivating_change_talk": 3.4, "softening_sustain_talk": 2.6, "partnership": 3.2,
                          "empathy": 3.6, "technical": 3.0, "technical_rating": "fair", "relational": 3.4,
                          "relational_rating": "below fair"}
    summary["verdict"] = ("An MI expert would most likely rate this session as poor MI (estimated probability of good MI "
                          "27%). Technical 3.00 (fair), relational 3.40 (below fair), estimated on MITI 4.2.1's 1-5 scale.")
    old.write_text(json.dumps(summary))
    broken = tmp_path / "broken" / "session.json"
    summary = json.loads(broken.read_text())
    summary["globals"] = {"technical": "n/a", "relational": 7.5, "empathy": None}  # nothing a 1-5 value can be
    broken.write_text(json.dumps(summary))
    html = write_overview(tmp_path).read_text()
    table = {row["session_id"]: row for row in csv.DictReader(io.StringIO((tmp_path / "sessions.csv").read_text()))}
    assert (table["old"]["technical"], table["old"]["relational"], table["old"]["empathy"]) == ("50", "60", "65")
    assert table["old"]["partnership"] == "55"  # 25 * (3.2 - 1)
    assert all(table["broken"][k] == "" for k in ("technical", "relational", "empathy"))
    assert "technical_rating" not in table["old"]
    assert "although the relational index is high (60 of 100; technical 50)" in table["old"]["verdict"]
    assert "1-5" not in table["old"]["verdict"] and "(below fair)" not in table["old"]["verdict"]  # its verdict, rewritten
    row = html.split('<a href="./old/report.html">', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[4:6] == ["50", "60"]  # technical, relational index: the number alone, no MITI rating
    row = html.split('<a href="./broken/report.html">', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[4:6] == ["–", "–"]


def test_overview_trend_lines_still_run_through_time(tmp_path):
    from datetime import datetime, timedelta, timezone

    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for day, probability in ((0, 0.9), (1, 0.1), (2, 0.5)):
        session = fidelity_session(f"d{day}", probability)
        session.recorded_at = start + timedelta(days=day)
        write_session(session, tmp_path)
    html = write_overview(tmp_path).read_text()
    points = re.findall(r'<a href="\./(d\d)/report.html"><circle cx="([\d.]+)"', html)
    first_plot = points[:3]
    assert [name for name, _ in first_plot] == ["d0", "d1", "d2"]
    assert [float(x) for _, x in first_plot] == sorted(float(x) for _, x in first_plot)


# ----------------------------------------------------------------------------------------------- artifacts, verdict bands

def test_artifacts_carry_the_estimates_without_transcript_text(session):
    markdown = session_markdown(session)
    assert "Probability of good MI (estimated) | 27% | likely poor" in markdown
    assert "Relational index (estimated) | 60 of 100" in markdown and "MI\\-non\\-adherent | 2 |" in markdown
    assert "of 5" not in markdown and "not MITI's 1\\-5 global score" in markdown
    assert "not an expert's rating" in markdown
    assert "beer" not in markdown and "excuse" not in markdown and "<script" not in markdown
    rows = {row["metric"]: row for row in session_table(session)}
    assert rows["probability of good MI (estimated)"]["value"] == 0.27
    assert rows["relational index 0-100 (estimated)"] == {"metric": "relational index 0-100 (estimated)", "value": 60,
                                                          "low": None, "high": None, "rating": "index, no MITI band",
                                                          "source": "session-fidelity.json vtest"}
    assert rows["mi non adherent"]["value"] == 2
    unestimated = session_markdown(fidelity_session(probability=None, adherence=False))
    assert "not estimated" in unestimated and "mi adherent" not in {r["metric"] for r in session_table(
        fidelity_session(probability=None, adherence=False))}


@pytest.mark.parametrize("probability", [0.0, 0.2, 0.29, 0.3, 0.39, 0.4, 0.55, 0.69, 0.7, 0.95, 1.0])
def test_quality_bands_agree_with_the_verdict(session, probability):
    estimate = FidelityEstimate(SCORES, probability, "test")
    verdict = session_verdict(assess(session.metrics), estimate)
    expected = {"likely good": "most likely rate this session as good MI", "either way": "might rate this session either way",
                "likely poor": "most likely rate this session as poor MI"}[quality_band(probability)]
    assert expected in verdict
    assert quality_band(None) == "not estimated" and len(QUALITY_BANDS) == 3
