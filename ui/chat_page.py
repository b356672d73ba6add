"""The staff's page: ask in French, read an answer that shows where each claim comes from."""

from __future__ import annotations

import contextlib
import re
import time

import streamlit as st

from ingest.live import index_stamp
from rag.chain import Answer, Source, Stage
from rag.citations import INFERRED_MARK, INFERRED_NOTE, split_sentences, supporting_sentences
from rag.conversation import Conversation, Turn, TurnState, new_conversation_id, valid_conversation_id
from rag.question import LACK_PREFIX
from sourcier.access import Reader
from sourcier.audit import AuditKind
from sourcier.french import location, plural, service_name
from ui.common import (
    answerer,
    conversations,
    escape_markdown,
    explain,
    feedback_store,
    live_documents,
    readable_documents,
    readable_file,
    settings,
    without_links,
)
from ui.identity import audit_log, require

_LIST_ITEM = re.compile(r"^\s*(?:[-•*–]|\d{1,2}[.)])\s+")
CONVERSATION = "conversation"  # the query parameter that names the conversation
FEEDBACK = "feedback_given"
PAGES_VIEWED = "pages_viewed"


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


def layout(answer: Answer, render) -> str:
    """The checked sentences put back as paragraphs and lists (`render` writes one sentence, without its bullet)."""
    text, in_list = "", False
    for sentence in answer.sentences:
        item = _LIST_ITEM.match(sentence.text)
        written = render(sentence, sentence.text[item.end() :] if item else sentence.text)
        # Lists stay lists: an item starts its own line, and the text after a list a new paragraph.
        text += f"\n- {written}" if item else (f"\n\n{written}" if in_list else f" {written}")
        in_list = bool(item)
    return text.strip()


def _with_markers(sentence, words: str) -> str:
    """« … 3 mois [1]. »: the markers before the final full stop, as the model wrote them."""
    markers = "".join(f" [{n}]" for n in sentence.sources) + (INFERRED_MARK if sentence.inferred else "")
    stop = words[-1] if words and words[-1] in ".!?…" else ""
    return words[: len(words) - len(stop)] + markers + stop


def show_answer_text(answer: Answer) -> None:
    for reason in dict.fromkeys(answer.withheld):
        st.error(reason, icon=":material/block:")
    if not answer.sentences:
        st.markdown(escape_markdown(answer.text))
        return

    def highlighted(sentence, words: str) -> str:
        text = escape_markdown(_with_markers(sentence, words))
        return text if sentence.supported else f":orange-background[⚠ {text}]"

    st.markdown(layout(answer, highlighted))
    if any(s.inferred for s in answer.sentences):
        st.caption(f"{INFERRED_MARK} {INFERRED_NOTE}")
    doubts = [s.doubt for s in answer.sentences if s.doubt and not s.is_abstention]
    if doubts:
        st.caption(
            f"⚠ Passage surligné à contrôler dans le document avant de vous y fier : {doubts[0]}"
            + (f" (et {plural(len(doubts) - 1, 'autre passage', 'autres passages')})" if len(doubts) > 1 else "")
            + "."
        )


def show_source(source: Source, claims: list[str], key: str, reader: Reader) -> None:
    where = location(source.page, source.section)
    # Titles, paths and headings come from documents: as Markdown, a title could show a remote image or a link.
    header = f"[{source.number}] {without_links(source.title or source.path)}"
    place = f" · {without_links(where)}" if where else ""
    with st.expander(f"{header} — {service_name(source.service)}{place}"):
        highlighted = set(supporting_sentences(source.excerpt, claims)) if claims else set()
        st.markdown(_excerpt_markdown(source.excerpt, highlighted))
        st.caption(without_links(source.path + (f" — {where}" if where else "")))
        path = readable_file(reader, source.path)
        if path is None:
            st.caption("Le fichier n'est plus dans le corpus, ou ne vous est plus ouvert.")
            return
        left, right = st.columns(2)
        left.download_button(
            "Télécharger le document",
            data=path.read_bytes,
            file_name=path.name,
            key=f"download-{key}",
            icon=":material/download:",
            on_click=audit_log().record,
            args=(AuditKind.DOWNLOAD, reader),
            kwargs={"document": source.path},
        )
        if (
            path.suffix.lower() == ".pdf"
            and source.page
            and right.toggle(f"Afficher la page {source.page}", key=f"page-{key}")
        ):
            image = pdf_page_image(str(path), source.page, path.stat().st_mtime)
            viewed = st.session_state.setdefault(PAGES_VIEWED, set())  # once per page and session, not per rerun
            if image and (source.path, source.page) not in viewed:
                viewed.add((source.path, source.page))
                audit_log().record(AuditKind.PAGE_VIEW, reader, document=source.path, page=source.page)
            if image:
                st.image(image, caption=f"{path.name}, page {source.page}")


def _excerpt_markdown(excerpt: str, highlighted: set[str]) -> str:
    parts = []
    for sentence in split_sentences(excerpt):
        text = escape_markdown(sentence)
        parts.append(f":blue-background[{text}]" if sentence in highlighted else text)
    return " ".join(parts)


def show_found(sources: list[Source]) -> None:
    shown = [s for s in sources if s.highlights]
    if not shown:
        return
    lines = ["**Extraits trouvés** — ce n'est pas encore la réponse :"]
    for source in shown:
        where = location(source.page, source.section)
        lines.append(
            f"- **[{source.number}] {escape_markdown(source.title or source.path)}** — {service_name(source.service)}"
            + (f" · {where}" if where else "")
        )
        lines += [f"  > :blue-background[{escape_markdown(' '.join(h.split()))}]" for h in source.highlights[:2]]
    st.markdown("\n".join(lines))


def show_turn(index: int, turn: Turn, reader: Reader) -> None:
    with st.chat_message("user"):
        st.markdown(escape_markdown(turn.question))
    with st.chat_message("assistant"):
        if turn.state is TurnState.WAITING:
            st.caption("En attente : je réponds d'abord à la question précédente.")
            return
        if turn.state is TurnState.ANSWERING:
            # Reading the passages takes the model seconds on a CPU: say what is happening, and show the extracts
            # meanwhile — marked as such: they are not the answer.
            waited = time.monotonic() - turn.started if turn.started else 0.0
            stage = turn.stage or Stage.SEARCHING
            st.caption(f"{stage[0].upper()}{stage[1:]}… {waited:.0f} s")
            if turn.partial:
                st.markdown(escape_markdown(turn.partial) + " ▌")
            show_found(turn.found)
            return
        answer = turn.answer
        assert answer is not None
        if turn.error:
            st.error(turn.error)
            return
        if answer.abstained:
            st.info(
                "Je ne trouve pas cette information dans les documents disponibles. "
                "Votre question est transmise aux responsables de la documentation."
            )
            lack = next((s.text for s in answer.sentences if s.text.startswith(LACK_PREFIX)), None)
            if lack:
                st.caption(lack)
            if turn.services:
                st.caption(
                    f"La recherche était limitée aux services : {', '.join(map(service_name, turn.services))}. "
                    "Élargissez-la dans le panneau de gauche."
                )
            if answer.sources:
                st.markdown("**Documents les plus proches :**")
                for source in answer.sources[:3]:
                    where = location(source.page, source.section)
                    st.markdown(
                        f"- {escape_markdown(source.title or source.path)} — {service_name(source.service)}"
                        + (f", {where}" if where else "")
                    )
            return
        show_answer_text(answer)
        details = [f"Réponse de {who_answered(answer)}", f"{answer.total_s:.0f} s"]
        if turn.services:
            details.append("services : " + ", ".join(map(service_name, turn.services)))
        if answer.standalone_question != answer.question:
            details.append(f"recherche avec la question précédente : « {answer.standalone_question} »")
        st.caption(" · ".join(details))
        cited = answer.cited
        claims_by_source = {n: [s.text for s in answer.sentences if n in s.sources] for n in cited}
        for source in answer.sources:
            if source.number in cited:
                show_source(source, claims_by_source[source.number], f"{index}-{source.number}", reader)
        cited_titles = {s.title or s.path for s in answer.sources if s.number in cited}
        others = dict.fromkeys(s.title or s.path for s in answer.sources if (s.title or s.path) not in cited_titles)
        if others:
            st.caption("Autres documents consultés : " + " ; ".join(others))
        with st.popover("Copier la réponse", icon=":material/content_copy:"):
            st.code(as_text(answer), language=None, wrap_lines=True)
        show_feedback(index, turn, reader)


def who_answered(answer: Answer) -> str:
    """In words an admin understands: which model, running where."""
    where = {
        "embedded": "modèle intégré au serveur Sourcier",
        "ollama": "modèle du serveur Ollama",
        "openai": "modèle du serveur de la collectivité",
    }.get(answer.backend or "", "modèle")
    return f"{where} ({answer.model})" if answer.model else where


def as_text(answer: Answer) -> str:
    """The answer with its sources, to paste into a mail or a note (the copy button of the block)."""
    lines = [
        layout(
            answer,
            lambda sentence, words: (
                _with_markers(sentence, words)
                + ("" if sentence.supported or sentence.is_abstention else " (à vérifier)")
            ),
        )
        or answer.text,
        "",
        "Sources :",
    ]
    for source in answer.cited_sources:
        where = location(source.page, source.section)
        lines.append(f"[{source.number}] {source.title or source.path}" + (f", {where}" if where else ""))
    return "\n".join(lines)


def show_feedback(index: int, turn: Turn, reader: Reader) -> None:
    answer = turn.answer
    assert answer is not None
    rating = st.feedback("thumbs", key=f"rating-{index}")
    if rating is None:
        return
    value = 1 if rating == 1 else -1
    store = feedback_store()
    given = st.session_state.setdefault(FEEDBACK, {})  # (turn, rating) → feedback row, recorded once
    key = (index, turn.asked_at, value)
    if key not in given:
        given[key] = store.record_feedback(
            value,
            answer.question,
            answer.text,
            [s.chunk_id for s in answer.sources],
            backend=answer.backend,
            model=answer.model,
        )
        audit_log().record(AuditKind.FEEDBACK, reader, rating=value, feedback=given[key])
    with st.form(key=f"comment-form-{index}", border=False):
        comment = st.text_input(
            "Un commentaire pour les responsables de la documentation ? (facultatif)", key=f"comment-{index}"
        )
        if st.form_submit_button("Envoyer le commentaire") and comment.strip():
            store.update_comment(given[key], comment)
            st.success("Merci, votre commentaire est transmis.")


def current_conversation(reader: Reader) -> Conversation:
    """The conversation named in the page's address (so that a reload finds it), or a new one."""
    # The session remembers it too: going to another page and back may leave the address without it.
    conversation_id = st.query_params.get(CONVERSATION) or st.session_state.get(CONVERSATION)
    if not valid_conversation_id(conversation_id):
        conversation_id = new_conversation_id()
    conversation = conversations().get(conversation_id, reader)
    st.session_state[CONVERSATION] = st.query_params[CONVERSATION] = conversation.id
    return conversation


@st.fragment(run_every=1.0)
def follow(conversation: Conversation, first_pending: int) -> None:
    """The questions still being answered, refreshed every second; the whole page once they are."""
    if not conversation.busy:
        st.rerun()
    for index, turn in enumerate(conversation.turns[first_pending:], start=first_pending):
        show_turn(index, turn, conversation.reader)


def render() -> None:
    reader = require("Assistant")
    try:
        live = live_documents()
        readable = readable_documents(reader, index_stamp(settings()))
    except Exception as error:
        st.error(f"L'index est inaccessible : {explain(error)}")
        st.stop()
    indexed = {path: r for path, r in live.documents.items() if r.chunks and readable.get(r.doc_id)}
    if not indexed:
        if any(r.chunks for r in live.documents.values()):
            st.warning(
                "Aucun document indexé ne vous est ouvert. Si votre service devrait en avoir, demandez à "
                "l'administrateur de vérifier les droits d'accès de votre groupe."
            )
        else:
            st.warning(
                "Aucun document n'est encore indexé. Un administrateur peut ajouter des documents et lancer "
                "l'indexation depuis la page **Administration** (ou lancer « make ingest » sur le serveur)."
            )
        st.stop()
    services = sorted({r.service or "general" for r in indexed.values()})

    with st.sidebar:
        chosen = st.multiselect(
            "Chercher seulement dans les services",
            services,
            key="services",
            placeholder="Tous les services",
            format_func=service_name,
        )
        if st.button("Nouvelle conversation", icon=":material/add_comment:", width="stretch"):
            st.session_state[CONVERSATION] = st.query_params[CONVERSATION] = new_conversation_id()
            st.rerun()

    st.title("Sourcier")
    conversation = current_conversation(reader)
    question = st.chat_input("Posez votre question…") or st.session_state.pop("pending_question", None)
    if question and question.strip():
        # Loaded here, with its spinner, rather than in the worker; a failure is met again by the worker, which
        # says it in French in the conversation.
        with contextlib.suppress(Exception):
            answerer()
        conversation.ask(question.strip(), chosen)
    turns = list(conversation.turns)
    if not turns:
        st.markdown(
            f"Posez vos questions sur les procédures de la collectivité. Je réponds à partir de "
            f"**{plural(len(indexed), 'document interne', 'documents internes')}** "
            f"({', '.join(map(service_name, services))}), en citant pour chaque affirmation "
            "le document et la page. Si les documents ne contiennent pas la réponse, je le dis. "
            "Tout reste sur le serveur de la collectivité."
        )
        examples = settings().ui.example_questions
        if examples:
            st.markdown("**Exemples :**")
            for number, example in enumerate(examples):
                if st.button(example, key=f"example-{number}"):
                    st.session_state["pending_question"] = example
                    st.rerun()
    first_pending = next((i for i, turn in enumerate(turns) if not turn.finished), len(turns))
    for index, turn in enumerate(turns[:first_pending]):
        show_turn(index, turn, reader)
    if first_pending < len(turns):
        follow(conversation, first_pending)


st.set_page_config(page_title="Assistant — Sourcier")  # each page its own title (RGAA 8.6)
render()
