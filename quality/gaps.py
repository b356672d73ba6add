"""Coverage gaps: unanswered questions and answers users disliked, grouped by meaning, most frequent first."""

from __future__ import annotations

import numpy as np

from ingest.embed import TextEmbedder
from quality.findings import Finding, FindingType, Place, Severity
from sourcier.feedback import FeedbackStore
from sourcier.french import plural
from sourcier.personal_data import mask

AGENTS = "(questions des agents)"

SAME_QUESTION = 0.9  # e5 cosine between two phrasings of one need


def analyse_gaps(feedback: FeedbackStore, embedder: TextEmbedder | None) -> list[Finding]:
    # The service a question belongs to is that of the documents closest to it (an answer disliked: unknown, so
    # the finding is for admins only); a question may name people: masked like any evidence.
    items = [
        (mask(row["question"]), "sans réponse", row["asked_at"], _services(row["closest"]))
        for row in feedback.unanswered()
    ]
    # A 👎 comes with the agent's comment, when they wrote one: what the owner needs to fix the document.
    items += [
        (
            mask(row["question"]) + (f" — commentaire : « {mask(row['comment'])} »" if row.get("comment") else ""),
            "réponse jugée inutile",
            row["given_at"],
            set(),
        )
        for row in feedback.feedback()
        if row["rating"] < 0
    ]
    if not items:
        return []
    groups: list[list[int]] = []
    if embedder is not None:
        vectors = np.asarray(embedder.embed_queries([item[0] for item in items]), dtype=np.float32)
        centroids: list[np.ndarray] = []
        for index, vector in enumerate(vectors):
            scores = [float(vector @ c) for c in centroids]
            best = int(np.argmax(scores)) if scores else -1
            if best >= 0 and scores[best] >= SAME_QUESTION:
                groups[best].append(index)
            else:
                groups.append([index])
                centroids.append(vector)
    else:  # without the model, the same words are still the same question
        by_text: dict[str, list[int]] = {}
        for index, item in enumerate(items):
            by_text.setdefault(" ".join(item[0].lower().split()), []).append(index)
        groups = list(by_text.values())
    findings = []
    for members in sorted(groups, key=len, reverse=True):
        questions = list(dict.fromkeys(items[i][0] for i in members))
        reasons = sorted({items[i][1] for i in members})
        last = max(items[i][2] for i in members)
        services = set().union(*(items[i][3] for i in members)) if all(items[i][3] for i in members) else set()
        places = [Place(path=AGENTS, title="Questions des agents", service=s) for s in sorted(services)]
        findings.append(
            Finding(
                FindingType.GAP,
                Severity.MEDIUM if len(members) >= 3 else Severity.LOW,
                places or [Place(path=AGENTS, title="Questions des agents")],
                questions[:5],
                f"{plural(len(members), 'question')} ({', '.join(reasons)}), dernière le {last[:10]} : "
                f"« {questions[0]} »",
                "Rédiger ou compléter une fiche qui réponde à cette question, puis relancer l'ingestion.",
                key=questions[0].lower(),
                details={"count": len(members), "questions": questions, "reasons": reasons, "last": last},
            )
        )
    return findings


def _services(closest: list[dict]) -> set[str]:
    return {str(c["path"]).split("/", 1)[0] for c in closest[:1] if "/" in str(c.get("path", ""))}
