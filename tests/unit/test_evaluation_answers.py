"""The comparison of recorded answer runs (evaluation.answers)."""

import json

import pytest

from evaluation.answers import hybrid_answers, lists_one_item_per_extract, summary


def test_one_item_per_extract_is_the_shape_of_going_through_the_extracts():
    assert lists_one_item_per_extract("- [1] La déchetterie…\n- [2] Les déchets verts…\n- [3] Les horaires de bus…")
    assert lists_one_item_per_extract("- [1] : Toute manifestation…\n- [2] : Les subventions…\n- [3] : Les salles…")
    assert not lists_one_item_per_extract("- Pièce d'identité [1]\n- Justificatif de domicile [1]\n- Photo [1]")
    assert not lists_one_item_per_extract("- [1] La carte est gratuite.\n- [2] Le délai est de 4 mois.")
    assert not lists_one_item_per_extract("La CMI se demande à la MDPH [1]. Elle est gratuite [2]. Délai : 4 mois [3].")


def test_a_run_is_summarised_with_refusals_counted_as_nothing_found(tmp_path):
    answers = [
        {"question": "a", "expect_abstain": False, "answer": "…", "abstained": False, "key_terms": 1, "supported": 1},
        {"question": "b", "expect_abstain": False, "answer": "Je ne trouve pas…", "abstained": True},
        {"question": "c", "expect_abstain": True, "answer": "Je ne trouve pas…", "abstained": True},
    ]
    run = tmp_path / "run.json"
    run.write_text(json.dumps([{"mode": "hybrid", "answers": answers}]), encoding="utf-8")
    recorded = hybrid_answers(run)
    figures = summary(recorded, common={"a"})
    assert figures["answered"] == "1/2" and figures["unanswerable_refused"] == "1/1"
    assert figures["key_terms_all"] == 0.5 and figures["key_terms_common"] == 1.0
    assert figures["citation_validity"] == 1.0


def test_a_run_without_answers_is_refused_with_a_clear_message(tmp_path):
    run = tmp_path / "run.json"
    run.write_text(json.dumps([{"mode": "hybrid", "answers": []}]), encoding="utf-8")
    with pytest.raises(SystemExit, match="aucune réponse enregistrée"):
        hybrid_answers(run)
    with pytest.raises(SystemExit, match="fichier absent"):
        hybrid_answers(tmp_path / "absent.json")
