"""What agents type (unanswered questions, feedback and comments) is kept masked, and not forever (RGPD)."""

from __future__ import annotations

from sqlalchemy import text

from sourcier.feedback import FeedbackStore
from sourcier.settings import Settings, StoreSettings


def test_questions_and_comments_are_kept_without_the_people_they_name(tmp_path):
    feedback = FeedbackStore.of(StoreSettings(path=tmp_path))
    question = "Marie Dupont, au 06 12 34 56 78, a-t-elle droit au congé parental ?"
    feedback.record_unanswered(question, question, "preuves insuffisantes", [])
    feedback.record_feedback(-1, question, "Voir la fiche [1].", ["a:b:0"], comment="Le dossier de M. Bernard Petit")
    kept = " ".join(str(v) for row in feedback.unanswered() + feedback.feedback() for v in row.values())
    assert "Dupont" not in kept and "Petit" not in kept and "12 34 56 78" not in kept
    assert "congé parental" in kept and "M••• D•••" in kept and "M. B••• P•••" in kept
    with feedback.engine.connect() as db:  # not only on reading: the database itself never holds them
        stored = " ".join(str(v) for row in db.execute(text("SELECT * FROM feedback")).all() for v in row)
    assert "Petit" not in stored and "Dupont" not in stored


def test_what_agents_typed_is_deleted_after_the_retention_period(tmp_path):
    settings = Settings(store=StoreSettings(path=tmp_path), quality={"feedback_retention_days": 30})
    feedback = FeedbackStore.for_settings(settings)
    feedback.record_unanswered("Horaires de la piscine ?", "Horaires de la piscine ?", "hors sujet", [])
    feedback.record_feedback(1, "Horaires de la mairie ?", "…", [])
    with feedback.engine.begin() as db:
        db.execute(text("UPDATE unanswered SET asked_at = '2020-01-01T00:00:00+00:00'"))
        db.execute(text("UPDATE feedback SET given_at = '2020-01-01T00:00:00+00:00'"))
    feedback.record_feedback(-1, "Tarifs de la cantine ?", "…", [])
    assert feedback.unanswered() == []
    assert [row["question"] for row in feedback.feedback()] == ["Tarifs de la cantine ?"]
