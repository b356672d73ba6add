"""What the model is shown of each passage: the sentences that bear on the question, within a token budget."""

from langchain_core.documents import Document

from rag.extracts import HEADER_TOKENS, estimated_tokens, select, split_passage
from rag.prompts import format_extracts

LISTE = Document(
    "Inscription sur les listes électorales. La démarche est gratuite.\n"
    "Vous devez fournir les pièces suivantes :\n"
    "- une pièce d'identité en cours de validité\n"
    "- un justificatif de domicile de moins de 3 mois\n"
    "- le formulaire cerfa n° 12669 rempli\n"
    "La mairie peut vous demander un document complémentaire. Le maire statue dans un délai de 5 jours.",
    metadata={"title": "Listes électorales", "page": 2},
)
CARTE = Document(
    "La carte d'électeur est envoyée avant le scrutin. Elle n'est pas obligatoire pour voter. "
    "Une pièce d'identité est exigée dans les communes de plus de 1 000 habitants.",
    metadata={"title": "Carte électorale", "section": "Voter"},
)


def test_a_passage_splits_into_lines_then_sentences():
    assert split_passage("Un. Deux !\n- trois\n\nQuatre") == ["Un.", "Deux !", "- trois", "Quatre"]


def test_the_sentences_that_share_the_question_words_are_highlighted_with_their_context():
    first, second = select("Quelles pièces faut-il fournir pour s'inscrire ?", [LISTE, CARTE], 100)
    assert first.highlights[0] == "Vous devez fournir les pièces suivantes :"
    # The list a « : » announces comes with it, whole; the sentence on the mayor's delay does not.
    text = first.text
    assert "- un justificatif de domicile de moins de 3 mois" in text and "- le formulaire cerfa" in text
    assert "Le maire statue" not in text and text.endswith("[…]")
    assert second.number == 2


def test_a_list_item_comes_with_the_line_that_opens_its_list():
    (extract,) = select("Quel justificatif de domicile ?", [LISTE], 60)
    assert extract.highlights == ["- un justificatif de domicile de moins de 3 mois"]
    assert "Vous devez fournir les pièces suivantes :" in extract.text
    assert "[…]" in extract.text  # what was left out between them is marked


def test_the_budget_left_goes_to_the_nearest_sentences_highlights_stay_the_relevant_ones():
    (small,) = select("Quel justificatif de domicile ?", [LISTE], 80)
    (large,) = select("Quel justificatif de domicile ?", [LISTE], 1000)
    assert len(small.shown) < len(large.shown) == len(large.sentences)
    assert set(small.shown) <= {1, 2, 3, 4, 5}  # around the list item, not the document's far ends
    assert large.highlights == small.highlights == ["- un justificatif de domicile de moins de 3 mois"]


def test_a_short_best_passage_is_shown_whole_even_its_sentences_that_share_no_word():
    first, second = select("La carte d'électeur est-elle obligatoire ?", [CARTE, LISTE], 200)
    assert first.shown == (0, 1, 2)  # « Une pièce d'identité est exigée … » shares no word of the question
    assert "Elle n'est pas obligatoire pour voter." in first.highlights
    assert second.shown and len(second.shown) < len(second.sentences)  # the rest of the budget, by relevance
    (tight,) = select("La carte d'électeur est-elle obligatoire ?", [CARTE], 60)
    assert 0 < len(tight.shown) < len(tight.sentences)  # over half the budget: its sentences chosen as before


def test_the_budget_is_never_exceeded_and_counted_with_the_given_tokenizer():
    calls = []

    def tokenizer(text: str) -> int:
        calls.append(text)
        return len(text.split())

    for budget in (30, 60, 120):
        extracts = select("pièce d'identité justificatif domicile électeur voter", [LISTE, CARTE], budget, tokenizer)
        spent = sum(sum(tokenizer(e.sentences[i]) + 1 for i in e.shown) + HEADER_TOKENS for e in extracts if e.shown)
        assert 0 < spent <= budget
    assert calls  # the budget was counted with it, not estimated


def test_without_a_shared_word_the_top_passage_opens_the_extracts():
    first, second = select("Horaires de la piscine municipale ?", [LISTE, CARTE], 60, estimated_tokens)
    assert first.shown and first.shown[0] == 0 and not first.highlights
    assert not second.shown


def test_only_extracts_with_something_shown_reach_the_prompt_under_their_own_number():
    extracts = select("carte d'électeur obligatoire pour voter ?", [LISTE, CARTE], 60)
    prompt = format_extracts(extracts)
    assert '<extrait n="2" titre="Carte électorale" lieu="Voter">' in prompt
    assert "Elle n'est pas obligatoire pour voter." in prompt
