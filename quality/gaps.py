"""Coverage gaps: unanswered questions and answers users disliked, grouped by meaning, most frequent first."""

from __future__ import annotations

import numpy as np

from ingest.embed import TextEmbedder
from quality.findings import Finding, FindingType, Place, Severity
from sourcier.feedback import FeedbackStore

SAME_QUESTION = 0.9  # e5 cosine between two phrasings of one need


def analyse_gaps(feedback: FeedbackStore, embedder: TextEmbedder | None) -> list[Finding]:
    items = [(row["question"], "sans réponse", row["asked_at"]) for row in feedback.unanswered()]
    items += [
        (row["question"], "réponse jugée inutile", row["given_at"]) for row in feedback.feedback() if row["rating"] < 0
    ]
    if not items:
        return []
    groups: list[list[int]] = []
    if embedder is not None:
        vectors = np.asarray(embedder.embed_queries([question for question, _, _ in items]), dtype=np.float32)
        centroids: list[np.ndarray] = []
        for index, vector in enumerate(vectors):
            scores = [float(vector @ c) for c in centroids]
            best = int(np.argmax(scores)) if scores else -1
            if best >= 0 and scores[best] >= SAME_QUESTION:
                groups[best].append(index)
            else:
                groups.append([index])
                centroids.append(vector)
    else:
        groups = [[index] for index in range(len(items))]
    findings = []
    for members in sorted(groups, key=len, reverse=True):
        questions = list(dict.fromkeys(items[i][0] for i in members))
        reasons = sorted({items[i][1] for i in members})
        last = max(items[i][2] for i in members)
        findings.append(
            Finding(
                FindingType.GAP,
                Severity.MEDIUM if len(members) >= 3 else Severity.LOW,
                [Place(path="(questions des agents)", title="Questions des agents")],
                questions[:5],
                f"{len(members)} question(s) ({', '.join(reasons)}), dernière le {last[:10]} : « {questions[0]} »",
                "Rédiger ou compléter une fiche qui réponde à cette question, puis relancer l'ingestion.",
                key=questions[0].lower(),
                details={"count": len(members), "questions": questions, "reasons": reasons, "last": last},
            )
        )
    return findings
