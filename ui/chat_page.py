"""The staff's page: ask in French, read an answer that shows where each claim comes from."""

from __future__ import annotations

import itertools

import streamlit as st

from rag.chain import Answer, Source
from rag.citations import split_sentences, supporting_sentences
from sourcier.french import plural
from ui.common import (
    answerer,
    corpus_file,
    escape_markdown,
    explain,
    feedback_store,
    live_documents,
    location,
    settings,
)

TURNS = "turns"


@st.cache_data(max_entries=32, show_spinner=False)
def pdf_page_image(path: str, page: int, modified: float) -> bytes | None:
    import io

    import pypdfium2

    document = pypdfium2.PdfDocument(path)
    try:
        if not 1 <= page <= len(document):
            return None
        image = document[page - 1].render(scale=1.4).to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    finally:
        document.close()


def show_answer_text(answer: Answer) -> None:
    if not answer.sentences:
        st.markdown(escape_markdown(answer.text))
        return
    parts = []
    for sentence in answer.sentences:
        markers = "".join(f" [{n}]" for n in sentence.sources)
        text = escape_markdown(sentence.text) + escape_markdown(markers)
        parts.append(text if sentence.supported else f":orange-background[⚠ {text}]")
    st.markdown(" ".join(parts))
    doubts = [s.doubt for s in answer.sentences if s.doubt and not s.is_abstention]
    if doubts:
        st.caption(
            f"⚠ Passage surligné à contrôler dans le document avant de vous y fier : {doubts[0]}"
            + (f" (et {plural(len(doubts) - 1, 'autre passage', 'autres passages')})" if len(doubts) > 1 else "")
            + "."
        )


def show_source(source: Source, claims: list[str], key: str) -> None:
    where = location(source.page, source.section)
    header = f"[{source.number}] {source.title or source.path}"
    with st.expander(f"{header} — {source.service}" + (f" · {where}" if where else "")):
        highlighted = set(supporting_sentences(source.excerpt, claims)) if claims else set()
        st.markdown(_excerpt_markdown(source.excerpt, highlighted))
        st.caption(f"{source.path}" + (f" — {where}" if where else ""))
        path = corpus_file(source.path)
        if path is None:
            st.caption("Le fichier n'est plus dans le corpus.")
            return
        left, right = st.columns(2)
        left.download_button(
            "Télécharger le document",
            data=path.read_bytes,
            file_name=path.name,
            key=f"download-{key}",
            icon=":material/download:",
        )
        if (
            path.suffix.lower() == ".pdf"
            and source.page
            and right.toggle(f"Afficher la page {source.page}", key=f"page-{key}")
        ):
            image = pdf_page_image(str(path), source.page, path.stat().st_mtime)
            if image:
                st.image(image, caption=f"{path.name}, page {source.page}")


def _excerpt_markdown(excerpt: str, highlighted: set[str]) -> str:
    parts = []
    for sentence in split_sentences(excerpt):
        text = escape_markdown(sentence)
        parts.append(f":blue-background[{text}]" if sentence in highlighted else text)
    return " ".join(parts)


def show_turn(index: int, turn: dict) -> None:
    answer: Answer = turn["answer"]
    with st.chat_message("user"):
        st.markdown(escape_markdown(answer.question))
    with st.chat_message("assistant"):
        if turn.get("error"):
            st.error(turn["error"])
            return
        if answer.abstained:
            st.info(
                "Je ne trouve pas cette information dans les documents disponibles. "
                "Votre question est transmise aux responsables de la documentation."
            )
            if turn.get("services"):
                st.caption(
                    f"La recherche était limitée aux services : {', '.join(turn['services'])}. "
                    "Élargissez-la dans le panneau de gauche."
                )
            if answer.sources:
                st.markdown("**Documents les plus proches :**")
                for source in answer.sources[:3]:
                    where = location(source.page, source.section)
                    st.markdown(
                        f"- {escape_markdown(source.title or source.path)} — {source.service}"
                        + (f", {where}" if where else "")
                    )
            return
        show_answer_text(answer)
        details = [f"Réponse de {answer.model} ({answer.backend})", f"{answer.total_s:.0f} s"]
        if turn.get("services"):
            details.append("services : " + ", ".join(turn["services"]))
        if answer.standalone_question != answer.question:
            details.append(f"recherche avec la question précédente : « {answer.standalone_question} »")
        st.caption(" · ".join(details))
        cited = sorted({n for s in answer.sentences for n in s.sources})
        claims_by_source = {n: [s.text for s in answer.sentences if n in s.sources] for n in cited}
        for source in answer.sources:
            if source.number in cited:
                show_source(source, claims_by_source[source.number], key=f"{index}-{source.number}")
        cited_titles = {s.title or s.path for s in answer.sources if s.number in cited}
        others = dict.fromkeys(s.title or s.path for s in answer.sources if (s.title or s.path) not in cited_titles)
        if others:
            st.caption("Autres documents consultés : " + " ; ".join(others))
        show_feedback(index, turn)


def show_feedback(index: int, turn: dict) -> None:
    answer: Answer = turn["answer"]
    rating = st.feedback("thumbs", key=f"rating-{index}")
    if rating is None:
        return
    value = 1 if rating == 1 else -1
    store = feedback_store()
    if turn.get("feedback_rating") != value:
        turn["feedback_id"] = store.record_feedback(
            value,
            answer.question,
            answer.text,
            [s.chunk_id for s in answer.sources],
            backend=answer.backend,
            model=answer.model,
        )
        turn["feedback_rating"] = value
    with st.form(key=f"comment-form-{index}", border=False):
        comment = st.text_input(
            "Un commentaire pour les responsables de la documentation ? (facultatif)", key=f"comment-{index}"
        )
        if st.form_submit_button("Envoyer le commentaire") and comment.strip():
            store.update_comment(turn["feedback_id"], comment)
            st.success("Merci, votre commentaire est transmis.")


def ask(question: str, services: list[str]) -> None:
    turns = st.session_state[TURNS]
    history = [(t["answer"].question, t["answer"].text) for t in turns if not t.get("error")]
    where = {"service": {"$in": services}} if services else None
    with st.chat_message("user"):
        st.markdown(escape_markdown(question))
    result: dict = {}
    with st.chat_message("assistant"):
        try:
            events = answerer().stream(question, history, where)
            # Finding the passages and reading them takes the model a while on a CPU: say so until it writes.
            with st.spinner("Je cherche dans les documents et je lis les passages pertinents…"):
                first = next(events)

            def pieces():
                for event in itertools.chain([first], events):
                    if isinstance(event, Answer):
                        result["answer"] = event
                    else:
                        yield event

            st.write_stream(pieces())
        except Exception as error:  # shown in French; details in the server log
            result["error"] = explain(error)
            result.setdefault("answer", Answer(question=question, standalone_question=question))
    turns.append({"answer": result["answer"], "error": result.get("error"), "services": services})
    st.rerun()


def render() -> None:
    st.session_state.setdefault(TURNS, [])
    try:
        live = live_documents()
    except Exception as error:
        st.error(f"L'index est inaccessible : {explain(error)}")
        st.stop()
    indexed = {path: r for path, r in live.documents.items() if r.chunks and r.doc_id not in live.excluded}
    if not indexed:
        st.warning(
            "Aucun document n'est encore indexé. Un administrateur peut ajouter des documents et lancer "
            "l'indexation depuis la page **Administration** (ou lancer « make ingest » sur le serveur)."
        )
        st.stop()
    services = sorted({r.service or "general" for r in indexed.values()})

    with st.sidebar:
        chosen = st.multiselect(
            "Chercher seulement dans les services", services, key="services", placeholder="Tous les services"
        )
        if st.button("Nouvelle conversation", icon=":material/add_comment:", width="stretch"):
            st.session_state[TURNS] = []
            st.rerun()

    st.title("Sourcier")
    turns = st.session_state[TURNS]
    if not turns:
        st.markdown(
            f"Posez vos questions sur les procédures de la collectivité. Je réponds à partir de "
            f"**{len(indexed)} documents internes** ({', '.join(services)}), en citant pour chaque affirmation "
            "le document et la page. Si les documents ne contiennent pas la réponse, je le dis. "
            "Tout reste sur le serveur de la collectivité."
        )
        examples = settings().ui.example_questions
        if examples:
            st.markdown("**Exemples :**")
            for number, example in enumerate(examples):
                if st.button(example, key=f"example-{number}"):
                    st.session_state["pending_question"] = example
    for index, turn in enumerate(turns):
        show_turn(index, turn)

    question = st.chat_input("Posez votre question…") or st.session_state.pop("pending_question", None)
    if question and question.strip():
        ask(question.strip(), chosen)


render()
