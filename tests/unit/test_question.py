"""Reading the question without a model: follow-ups and the specifics the passages must mention."""

from rag.question import is_follow_up, lack_sentence, missing_specifics, retrieval_query, specifics

ELECTORAL = "Quel justificatif de domicile faut-il pour s'inscrire sur la liste électorale ?"


def test_a_follow_up_is_searched_with_the_question_it_follows():
    history = [(ELECTORAL, "Un justificatif de moins de 3 mois [1].")]
    follow_up = "Et pour une personne qui vient de devenir française ?"
    assert is_follow_up(follow_up)
    assert retrieval_query(follow_up, history) == f"{ELECTORAL} {follow_up}"
    again = history + [(follow_up, "…")]
    assert retrieval_query("Et pour un étudiant ?", again).startswith(ELECTORAL)


def test_a_new_question_is_searched_alone():
    question = "Combien coûte une concession funéraire dans le cimetière communal ?"
    assert not is_follow_up(question)
    assert retrieval_query(question, [(ELECTORAL, "…")]) == question
    assert is_follow_up("Combien de temps dure-t-elle ?")


def test_specifics_are_names_years_and_relative_dates():
    found = [s.text for s in specifics("Quels sont les horaires de la piscine de Béthune en 2026 ?")]
    assert found == ["Béthune", "2026"]
    assert [s.text for s in specifics("Quel est le menu de la cantine lundi prochain ?")] == ["lundi prochain"]
    assert specifics("Comment devenir Français par mariage ?") == []


def test_an_abbreviation_the_question_spells_out_is_not_a_specific():
    # The fiche says « recherche dans l'intérêt des familles », not « Rif »: the answer must not say it lacks « Rif ».
    assert specifics("Peut-on encore demander une recherche dans l'intérêt des familles (Rif) ?") == []
    bracketed = specifics("Horaires de la piscine de Béthune (Pas-de-Calais) ?")
    assert [s.text for s in bracketed] == ["Béthune", "Pas-de-Calais"]


def test_missing_specifics_are_said_before_any_rule():
    passages = ["La piscine municipale ouvre de 9 h à 19 h.", "À Béthune, le centre aquatique…"]
    assert missing_specifics("Horaires de la piscine de Béthune ?", passages) == []
    missing = missing_specifics("Horaires de la piscine de Tourcoing lundi prochain ?", passages)
    assert lack_sentence(missing) == "Les documents disponibles ne mentionnent ni « Tourcoing » ni « lundi prochain »."
    assert lack_sentence(missing[:1]) == "Les documents disponibles ne mentionnent pas « Tourcoing »."


def test_a_specific_is_found_however_its_words_are_joined():
    passages = ["En Alsace-Moselle, le préavis de démission suit le droit local."]
    assert missing_specifics("préavis et droit local Alsace Moselle", passages) == []
    assert missing_specifics("préavis à Saint Denis", passages)[0].text == "Saint Denis"
