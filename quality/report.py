"""The data-quality report: analyse the live index, then hand owners a ranked, stable list of findings.

Per-document analyses (extraction, personal data, injections, age) are cached per document version; corpus-wide
ones (duplicates and versions by MinHash/LSH, contradictions by nearest neighbours) are recomputed, near-linearly.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from ingest.embed import TextEmbedder
from ingest.live import LiveIndex
from ingest.manifest import Manifest
from quality.contradictions import analyse_contradictions
from quality.documents import analyse_injection, analyse_sensitive
from quality.extraction import analyse_extraction
from quality.findings import SEVERITY_WEIGHT, TYPES, Finding, FindingStatus, FindingType, Severity
from quality.gaps import analyse_gaps
from quality.inputs import read_corpus
from quality.similarity import analyse_similarity
from quality.staleness import analyse_staleness, group_old_documents
from quality.state import QualityState
from sourcier.access import Reader
from sourcier.clock import now
from sourcier.feedback import FeedbackStore
from sourcier.layout import StoreLayout
from sourcier.personal_data import mask
from sourcier.settings import Settings

log = logging.getLogger(__name__)
# Bump when a per-document analysis changes: cached results of the older analysis are then recomputed.
DOCUMENT_ANALYSES = "extraction-sensitive-injection-stale:6"  # :6 titles and headings checked for injections


def visible_to(finding: dict, reader: Reader, may_read: Callable[[str], bool]) -> bool:
    """A finding (as a dict, as the app reads it) `reader` may see: every place in a service they answer for, and
    every document one they may read (`may_read`, the live index's own check: a sidecar can close one document of
    their service to them)."""
    if reader.is_admin:
        return True
    places = finding["places"]
    services = {place["service"] for place in places}
    if not services or not all(service and reader.answers_for(service) for service in services):
        return False
    return all(place["path"].startswith("(") or may_read(place["path"]) for place in places)


def report_for_reader(data: dict, reader: Reader, may_read: Callable[[str], bool]) -> dict:
    """The saved report (JSON) as `reader` may see it."""
    if reader.is_admin:
        return data
    findings = [f for f in data["findings"] if visible_to(f, reader, may_read)]
    paths = {place["path"] for f in findings for place in f["places"]}
    open_findings = [f for f in findings if f.get("status") != FindingStatus.FALSE_POSITIVE]
    return {
        **data,
        # the whole report's counts would tell what services exist and how many findings each has
        "counts": {
            "by_type": dict(Counter(f.get("type") for f in open_findings)),
            "by_severity": dict(Counter(f.get("severity") for f in open_findings)),
            "by_service": dict(Counter(p["service"] for f in open_findings for p in f["places"] if p["service"])),
            "total": len(open_findings),
        },
        "findings": findings,
        "ranked_documents": [d for d in data["ranked_documents"] if d["path"] in paths],
        "documents": len({p for p in paths if not p.startswith("(")}),
        "history": [],
    }


@dataclass
class Report:
    generated_at: str
    collection: str
    documents: int
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.status != FindingStatus.FALSE_POSITIVE]

    def counts(self) -> dict:
        open_findings = self.open_findings()
        return {
            "by_type": dict(Counter(f.type for f in open_findings)),
            "by_severity": dict(Counter(f.severity for f in open_findings)),
            "by_service": dict(Counter(s for f in open_findings for s in f.services)),
            "total": len(open_findings),
        }

    def ranked_documents(self) -> list[dict]:
        """Documents by the attention they need: severity-weighted open findings."""
        scores: dict[str, dict] = {}
        for finding in self.open_findings():
            if finding.type == "gap":
                continue
            for place in finding.places:
                entry = scores.setdefault(
                    place.path,
                    {
                        "path": place.path,
                        "title": place.title,
                        "service": place.service,
                        "score": 0,
                        "findings": 0,
                        "types": set(),
                    },
                )
                entry["score"] += SEVERITY_WEIGHT[finding.severity]
                entry["findings"] += 1
                entry["types"].add(TYPES[finding.type])
        ranked = sorted(scores.values(), key=lambda e: (-e["score"], e["path"]))
        return [{**e, "types": sorted(e["types"])} for e in ranked]

    def for_reader(self, reader: Reader, may_read: Callable[[str], bool]) -> Report:
        """What `reader` may see: admins everything; a referent the findings whose every place is in a service they
        answer for (a duplicate shared with another service is not theirs alone: its evidence would show the other
        service's text)."""
        if reader.is_admin:
            return self
        findings = [f for f in self.findings if visible_to(f.to_dict(), reader, may_read)]
        return replace(self, findings=findings, history=[])

    def to_dict(self) -> dict:
        return {
            "generated_at": self.generated_at,
            "collection": self.collection,
            "documents": self.documents,
            "counts": self.counts(),
            "timings": self.timings,
            "ranked_documents": self.ranked_documents(),
            "findings": [f.to_dict() for f in self.findings],
            "history": self.history,
        }


def build_report(
    settings: Settings,
    embedder: TextEmbedder | None = None,
    progress: Callable[[str], None] = lambda message: log.info(message),
    today: date | None = None,
    index: LiveIndex | None = None,
) -> Report:
    today = today or date.today()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    layout = StoreLayout(settings.store.path)
    state = QualityState(settings.store)
    corpus = read_corpus(settings, index)
    documents = list(corpus.documents.values())
    timings["lecture"] = round(time.perf_counter() - started, 2)
    progress(f"{len(documents)} documents, {len(corpus.chunk_ids)} passages lus")

    step = time.perf_counter()
    findings: list[Finding] = []
    fresh: list[tuple[str, str, list[Finding]]] = []
    for document in documents:
        version = document.version or f"status:{document.status}:{document.reason}"
        cached = state.cached(document.doc_id, version, DOCUMENT_ANALYSES)
        if cached is None:
            cached = (
                analyse_extraction(document)
                + analyse_sensitive(document)
                + analyse_injection(document)
                + analyse_staleness(document, today, settings.quality.max_age_years)
            )
            fresh.append((document.doc_id, version, cached))
        findings += cached
    findings = group_old_documents(findings, settings.quality.max_age_years)
    state.store(fresh, DOCUMENT_ANALYSES)
    state.forget_other_versions({d.doc_id: d.version or f"status:{d.status}:{d.reason}" for d in documents})
    timings["documents"] = round(time.perf_counter() - step, 2)
    progress(f"analyses par document : {len(fresh)} recalculées, {len(documents) - len(fresh)} en cache")

    step = time.perf_counter()
    similarity_findings, related = analyse_similarity(documents)
    findings += similarity_findings
    timings["doublons_versions"] = round(time.perf_counter() - step, 2)

    step = time.perf_counter()
    findings += analyse_contradictions(corpus, related, progress)
    timings["contradictions"] = round(time.perf_counter() - step, 2)

    step = time.perf_counter()
    findings += analyse_gaps(FeedbackStore.for_settings(settings), embedder)
    timings["lacunes"] = round(time.perf_counter() - step, 2)

    marks = state.marks()
    for finding in findings:
        # Last line of defence: no personal datum reaches a report in clear, whatever the analysis quoted.
        finding.evidence = [mask(text) for text in finding.evidence]
        finding.explanation = mask(finding.explanation)
        if finding.id in marks:
            finding.status = FindingStatus(marks[finding.id]["status"])
    findings.sort(key=lambda f: (-SEVERITY_WEIGHT[f.severity], list(TYPES).index(f.type), f.places[0].path))
    timings["total"] = round(time.perf_counter() - started, 2)
    report = Report(
        generated_at=now(),
        collection=corpus.collection,
        documents=len(documents),
        findings=findings,
        timings=timings,
    )
    state.record_run(report.counts())
    report.history = state.history()
    layout.quality_report.write_text(_json(report.to_dict()))
    if settings.quality.exclude_sensitive:
        _exclude_sensitive(settings, report)
    return report


def _exclude_sensitive(settings: Settings, report: Report) -> None:
    with Manifest(settings.store) as manifest:
        records = {r.path: r for r in manifest.documents(report.collection).values()}
        for finding in report.open_findings():
            if finding.type == FindingType.SENSITIVE and finding.severity == Severity.HIGH:
                for place in finding.places:
                    record = records.get(place.path)
                    if record:
                        manifest.exclude(record.doc_id, record.path, reason="données personnelles sensibles")


def _json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, default=str)


def load_last_report(settings: Settings) -> dict | None:
    try:
        return json.loads(StoreLayout(settings.store.path).quality_report.read_text())
    except (FileNotFoundError, ValueError):
        return None
