"""The feedback half of the portal: flagging a code, what the served report shows about flags, and the review.

:class:`FeedbackPages` is mixed into :class:`mifidelity.portal.app.Portal` (it uses the portal's library,
corrections, audit trail and shared responses). What a person sees:

- the form names codes in the report's words (:func:`mifidelity.report.codes.code_value_label`);
- after sending, the report opens at the flagged row with a confirmation (``?sent=<id>``, shown only to
  the coach who sent it), and every flagged row carries a mark with the proposal and its status;
- the report's feedback panel and the review page show each flag with the utterance's words, the turns
  around them, who flagged it when, and the decision, so a supervisor decides without opening the report.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mifidelity.errors import MifidelityError
from mifidelity.portal.audit import Action
from mifidelity.portal.corrections import CORRECTABLE, MAX_COMMENT_LENGTH, Correction
from mifidelity.portal.library import SessionFolder
from mifidelity.portal.pages import Refused, html_response, render, session_url
from mifidelity.portal.security import WebSession
from mifidelity.portal.tables import CorrectionStatus
from mifidelity.report.codes import code_field_label, code_value_label

RECENTLY_DECIDED = 20  # decided corrections listed under the open ones on the review page


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


class FeedbackPages:
    """Routes and page parts about feedback on codes (see the module docstring)."""

    # -- on the served report --------------------------------------------------------------------

    def row_marks(self, items: list[Correction]) -> dict[int, str]:
        """Utterance index -> the mark its transcript row carries (one per correction of that utterance)."""
        marks: dict[int, list[Correction]] = {}
        for c in items:
            marks.setdefault(c.utterance, []).append(c)
        return {index: render("row_mark.html.j2", items=found) for index, found in marks.items()}

    def feedback_panel(self, user: WebSession, session: SessionFolder, items: list[Correction], sent: str | None,
                       bar: dict) -> str:
        """The report's panel: a confirmation of what this user just sent, and every flag of the session."""
        just_sent = next((c for c in items if sent is not None and str(c.id) == sent and c.author == user.account.name
                          and c.status == CorrectionStatus.OPEN), None)
        return render("session_panel.html.j2", items=self.corrections.in_context(self.library, items, around=0),
                      just_sent=just_sent, back=session_url(session.session_id), **bar)

    # -- flagging --------------------------------------------------------------------------------

    def _utterance(self, user: WebSession, session: SessionFolder, index: int):
        rows = self.corrections.utterances(self.library, session)
        if not 0 <= index < len(rows):
            raise Refused(self.not_found(user))
        return rows[index]

    def feedback_page(self, user: WebSession, session: SessionFolder, index: int, message: str = "",
                      status: int = 200) -> Response:
        utterance = self._utterance(user, session, index)
        earlier = [c for c in self.corrections.for_session(session.session_id) if c.utterance == index]
        base = session_url(session.session_id)
        codes = [{"field": field, "name": code_field_label(field), "value": value,
                  "shown": code_value_label(field, value),
                  "options": [{"value": f"{field}={option}", "shown": code_value_label(field, option)}
                              for option in CORRECTABLE[field][1] if option != value]}
                 for field, value in utterance.codes.items()]
        return html_response(render("feedback.html.j2", session=session, utterance=utterance, codes=codes, earlier=earlier,
                                message=message, report_url=base, form_url=f"{base}utterances/{index}/feedback",
                                max_comment=MAX_COMMENT_LENGTH, **self._bar(user)), status)

    def propose(self, request: Request, user: WebSession, session: SessionFolder, index: int,
                fields: dict[str, str]) -> Response:
        utterance = self._utterance(user, session, index)
        field, _, proposed = fields.get("proposal", "").partition("=")
        try:
            made = self.corrections.propose(session, utterance, field, proposed, fields.get("comment", ""),
                                            user.account.name)
        except MifidelityError as exc:
            return self.feedback_page(user, session, index, str(exc), 400)
        self.audit.record(Action.CORRECTION_PROPOSED, user.account.name, _address(request), session.session_id,
                          f"correction {made.id}: u{index} {field} {made.old_value} -> {proposed}")
        return RedirectResponse(f"{session_url(session.session_id)}?sent={made.id}#u{index}", status_code=303)

    # -- deciding --------------------------------------------------------------------------------

    def review(self, user: WebSession) -> Response:
        decided = (self.corrections.with_status(CorrectionStatus.ACCEPTED)
                   + self.corrections.with_status(CorrectionStatus.REJECTED))
        decided = sorted(decided, key=lambda c: c.decided_at, reverse=True)[:RECENTLY_DECIDED]
        groups = [(coach, session_id, self.corrections.in_context(self.library, items))
                  for coach, session_id, items in self.corrections.open_by_session()]
        return html_response(render("review.html.j2", groups=groups, decided=self.corrections.in_context(self.library, decided),
                                back="/corrections", **self._bar(user)))

    def decide(self, request: Request, user: WebSession, correction_id: int, fields: dict[str, str]) -> Response:
        decision = fields.get("decision")
        found = self.corrections.get(correction_id)
        if decision not in ("accept", "reject") or found is None:
            return self.not_found(user)
        try:
            made = self.corrections.decide(correction_id, decision == "accept", user.account.name)
        except MifidelityError as exc:
            return self.message("Already decided", str(exc), 409, user)
        action = Action.CORRECTION_ACCEPTED if decision == "accept" else Action.CORRECTION_REJECTED
        self.audit.record(action, user.account.name, _address(request), made.session_id,
                          f"correction {made.id}: u{made.utterance} {made.field} {made.old_value} -> {made.proposed_value}")
        back = fields.get("back", "")
        safe_back = back if back.startswith("/") and not back.startswith("//") and "\\" not in back else "/corrections"
        return RedirectResponse(safe_back, status_code=303)
