"""The LPA's RPC entrypoints, mixed into AssessmentsService: each only translates (parse the command,
run the use case in one unit of work, or read a view)."""
from __future__ import annotations

from services.assessments.lpa import frameworks, rounds, views, work
from shared.contracts.commands.lpa import (AddLpaEvidence, FormLpaTeam, ImportLpaFramework, ImportLpaScores,
                                           OpenLpaRound, PublishLpaRound, ReturnLpaAssessment, SaveFollowUpPlan,
                                           SaveSelfAssessment, ScoreLpa)
from shared.service_base import rpc, run_command
from shared.validation import parse


def _page(limit, offset) -> dict:
    return {"limit": max(1, min(int(limit), 1000)), "offset": max(0, int(offset))}


class LpaEntrypoints:
    # --- commands ---------------------------------------------------------------------------------
    @rpc
    def lpa_import_framework(self, payload: dict) -> dict:
        return run_command(self.uow, frameworks.import_framework, parse(ImportLpaFramework, payload))

    @rpc
    def lpa_open_round(self, payload: dict) -> dict:
        return run_command(self.uow, self.app.bind(rounds.open_round), parse(OpenLpaRound, payload))

    @rpc
    def lpa_save_self_assessment(self, payload: dict) -> dict:
        return run_command(self.uow, work.save_self_assessment, parse(SaveSelfAssessment, payload))

    @rpc
    def lpa_add_evidence(self, payload: dict) -> dict:
        return run_command(self.uow, work.add_evidence, parse(AddLpaEvidence, payload))

    @rpc
    def lpa_form_team(self, payload: dict) -> dict:
        return run_command(self.uow, work.form_team, parse(FormLpaTeam, payload))

    @rpc
    def lpa_score(self, payload: dict) -> dict:
        return run_command(self.uow, work.score, parse(ScoreLpa, payload))

    @rpc
    def lpa_import_scores(self, payload: dict) -> dict:
        return run_command(self.uow, work.import_scores, parse(ImportLpaScores, payload))

    @rpc
    def lpa_return(self, payload: dict) -> dict:
        return run_command(self.uow, work.return_assessment, parse(ReturnLpaAssessment, payload))

    @rpc
    def lpa_publish(self, payload: dict) -> dict:
        return run_command(self.uow, self.app.bind(rounds.publish_round), parse(PublishLpaRound, payload))

    @rpc
    def lpa_save_follow_up(self, payload: dict) -> dict:
        return run_command(self.uow, work.save_follow_up, parse(SaveFollowUpPlan, payload))

    # --- views ------------------------------------------------------------------------------------
    @rpc
    def lpa_frameworks(self) -> dict:
        with self.uow.database.session() as session:
            return frameworks.frameworks_list(session)

    @rpc
    def lpa_framework(self, year_be: int) -> dict:
        with self.uow.database.session() as session:
            return frameworks.framework_view(session, int(year_be))

    @rpc
    def lpa_rounds(self) -> dict:
        with self.uow.database.session() as session:
            return views.rounds_list(session)

    @rpc
    def lpa_round(self, year_be: int) -> dict:
        with self.uow.database.session() as session:
            return views.round_view(session, int(year_be))

    @rpc
    def lpa_checklist(self, year_be: int, province_code=None, district_code=None, unit_code=None, self_state=None,
                      score_state=None, limit=100, offset=0) -> dict:
        with self.uow.database.session() as session:
            return views.checklist(session, int(year_be), province_code=province_code, district_code=district_code,
                                   unit_code=unit_code, self_state=self_state, score_state=score_state,
                                   **_page(limit, offset))

    @rpc
    def lpa_assessment(self, assessment_id: str, viewer: dict) -> dict:
        with self.uow.database.session() as session:
            return views.assessment_view(session, assessment_id, viewer)

    @rpc
    def lpa_evidence(self, evidence_id: str, viewer: dict) -> dict:
        with self.uow.database.session() as session:
            return views.evidence_file(session, evidence_id, viewer)

    @rpc
    def lpa_teams(self, year_be: int, province_code=None, person=None) -> dict:
        with self.uow.database.session() as session:
            return views.teams(session, int(year_be), province_code=province_code, person=person)

    @rpc
    def lpa_follow_ups(self, unit_code=None, province_code=None, district_code=None, state=None, follow_up_id=None,
                       limit=100, offset=0) -> dict:
        with self.uow.database.session() as session:
            return views.follow_ups(session, unit_code=unit_code, province_code=province_code,
                                    district_code=district_code, state=state, follow_up_id=follow_up_id,
                                    **_page(limit, offset))
