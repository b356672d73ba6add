"""The guard that ends an answer at its first repeated line (the 1.5B model looped on « - De 2 manières : »)."""

from rag.repeats import RepeatGuard


def stream(pieces: list[str]) -> tuple[str, str, bool]:
    guard = RepeatGuard()
    shown = ""
    for piece in pieces:
        shown += guard.feed(piece)
        if guard.repeated:
            break
    shown += guard.finish()
    return shown, guard.text, guard.repeated


def tokens(text: str) -> list[str]:
    return [text[i : i + 3] for i in range(0, len(text), 3)]


def test_the_first_repeated_line_ends_the_answer_and_is_never_shown():
    looped = "- Le taux est de 3,90 € par heure [1].\n- La gratification peut être versée de 2 manières :\n" + (
        "- De 2 manières :\n" * 40
    )
    shown, text, repeated = stream(tokens(looped))
    expected = "- Le taux est de 3,90 € par heure [1].\n- La gratification peut être versée de 2 manières :\n"
    assert repeated and shown == text == expected + "- De 2 manières :\n"


def test_a_list_written_twice_keeps_its_first_writing_markers_aside():
    twice = "Il faut :\n- une pièce d'identité [1] ;\n- un justificatif de domicile [2].\n"
    shown, text, repeated = stream(tokens(twice + twice.replace("[1]", "[3]").replace("Il faut :\n", "")))
    assert repeated and shown == text == twice


def test_a_line_that_starts_like_an_earlier_one_is_shown_once_it_differs():
    answer = "- Le dossier est déposé en mairie [1].\n- Le dossier est instruit en deux mois [1].\n"
    shown, text, repeated = stream(tokens(answer))
    assert not repeated and shown == text == answer
    # Still held back when the model stops mid-line, then shown: it repeats nothing.
    shown, text, repeated = stream(tokens("- Le dossier est déposé [1].\n- Le dossier"))
    assert not repeated and shown == text == "- Le dossier est déposé [1].\n- Le dossier"
    # Blank lines are not lines of the answer.
    assert stream(["Oui [1].\n\nNon [2].\n\n"]) == ("Oui [1].\n\nNon [2].\n\n", "Oui [1].\n\nNon [2].\n\n", False)
