"""Extraction quality per document and page: scans, OCR text, garbled text, near-empty documents, image pages."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from quality.findings import Finding, FindingType, Place, Severity, excerpt
from quality.inputs import DocumentView

_MOJIBAKE = re.compile(r"Ã[\x80-\xbf©¨ ª§®¹´¢¼]|â€[™œ\x9d“”˜¦]|Â[  «»°]|\ufffd|ï¿½")
_LETTER_SPACED = re.compile(r"(?:\b\w\s){6,}\w\b")
_WORD = re.compile(r"[A-Za-zÀ-ÿ]+")
NEAR_EMPTY_CHARS = 150  # a short legal article is a document; a cover page alone is not


def _mostly_table(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) >= 3 and sum(" | " in line for line in lines) / len(lines) >= 0.8


# Inside a lower-case Latin word, a character French never puts there: a « ? » or a UTF-7 run left by a lossy
# conversion, or the symbol or capital a wrong code page makes of « é » (« d‚lai », « dÈlai »). Foreign letters
# (Muñoz, Ibáñez) are not counted: names carry them.
_FRENCH_LOWER = "a-zàâäçéèêëîïôöùûüÿœæ"
_ODD_IN_WORD = re.compile(
    rf"(?<=[{_FRENCH_LOWER}])(?:\?|\+[A-Za-z0-9/+]{{2,}}-|[‚„…†‡ˆ‰‹›•˜™¦¨©ª¬®¯±²³´µ¶·¸¹º¼½¾¿×÷]|[À-ÞŠŒŽ])"
    rf"(?=[{_FRENCH_LOWER}])"
)


def _odd_in_word(text: str) -> int:
    return len(_ODD_IN_WORD.findall(unicodedata.normalize("NFKC", text)))


def _ftfy_bad(text: str) -> bool:
    """ftfy's mojibake test (UTF-8 read in any Windows or DOS code page), over a sample for long texts."""
    from ftfy.badness import is_bad

    return is_bad(text[:20_000])


def garbled_reasons(text: str) -> list[str]:
    """Why a text looks badly extracted ([] when it reads normally)."""
    reasons = []
    letters = sum(char.isalpha() for char in text)
    if len(text) < 80:
        return reasons
    if len(_MOJIBAKE.findall(text)) >= 3 or _ftfy_bad(text):
        reasons.append("caractères mal décodés (« Ã© », « â€™ »…)")
    odd = _odd_in_word(text)
    if odd >= 5 and odd >= 0.01 * len(_WORD.findall(text)):
        reasons.append("lettres accentuées perdues ou remplacées (« d?lai », « d‚lai », « d+AOk-lai »…)")
    words = _WORD.findall(text)
    if words:
        long_words = [w for w in words if len(w) >= 25]
        mean = sum(map(len, words)) / len(words)
        if mean > 9 or len(long_words) >= max(3, len(words) // 40):
            reasons.append("mots collés (espaces perdus à l'extraction)")
    if len(_LETTER_SPACED.findall(text)) >= 3:
        reasons.append("lettres séparées par des espaces")
    symbols = sum(not (char.isalnum() or char.isspace()) for char in text)
    if letters / len(text) < 0.55 and symbols / len(text) > 0.2:
        reasons.append("suite de symboles et de chiffres (OCR défaillant ?)")
    return reasons


def analyse_extraction(document: DocumentView) -> list[Finding]:
    place = Place(document.path, document.title, document.service)
    findings = []
    if document.status == "no_text":
        scan = document.format == "pdf"  # only a PDF can be a scan; an empty page or text file is just empty
        findings.append(
            Finding(
                FindingType.EXTRACTION,
                Severity.HIGH if scan else Severity.MEDIUM,
                [place],
                [],
                "Document scanné sans couche texte : son contenu est invisible pour la recherche."
                if scan
                else "Document sans texte : il est vide ou ne contient que de la mise en forme.",
                "Installer Tesseract (tesseract-ocr-fra) pour l'OCR, ou déposer une version texte (PDF exporté, DOCX)."
                if scan
                else "Vérifier le fichier d'origine et le remplacer par une version complète, ou le retirer du corpus.",
                key="no_text",
                details={"kind": "scan" if scan else "empty"},
            )
        )
        return findings
    if document.status != "indexed":
        return findings
    ocr_pages = document.details.get("ocr_pages") or []
    if ocr_pages:
        findings.append(
            Finding(
                FindingType.EXTRACTION,
                Severity.MEDIUM,
                [place],
                [excerpt(document.chunks[0].text)] if document.chunks else [],
                f"Document scanné : le texte de {len(ocr_pages)} page(s) vient de la reconnaissance de caractères "
                "(OCR) et peut contenir des erreurs.",
                "Déposer la version numérique d'origine si elle existe ; sinon vérifier les chiffres cités.",
                key="ocr",
                details={"kind": "ocr", "pages": ocr_pages},
            )
        )
    empty = document.details.get("pages_without_text") or []
    if empty:
        findings.append(
            Finding(
                FindingType.EXTRACTION,
                Severity.LOW,
                [place],
                [],
                f"{len(empty)} page(s) sans texte (image, plan, tableau scanné) : pages {', '.join(map(str, empty))}.",
                "Vérifier que ces pages ne contiennent pas d'information utile, sinon fournir leur texte.",
                key="empty_pages",
                details={"kind": "image_pages", "pages": empty},
            )
        )
    text_length = sum(len(chunk.text) for chunk in document.chunks)
    if text_length < NEAR_EMPTY_CHARS:
        findings.append(
            Finding(
                FindingType.EXTRACTION,
                Severity.MEDIUM,
                [place],
                [excerpt(document.text)],
                f"Document presque vide ({text_length} caractères de texte).",
                "Vérifier le fichier : page de garde seule, export raté ou contenu en image.",
                key="near_empty",
                details={"kind": "near_empty"},
            )
        )
    by_page: dict[int | None, list[str]] = defaultdict(list)
    for chunk in document.chunks:
        by_page[chunk.page].append(chunk.text)
    table_pages = [page for page, texts in by_page.items() if page and _mostly_table("\n".join(texts))]
    if table_pages and len(table_pages) < len(by_page):
        findings.append(
            Finding(
                FindingType.EXTRACTION,
                Severity.LOW,
                [Place(document.path, document.title, document.service, table_pages[0])],
                [],
                f"{len(table_pages)} page(s) composée(s) uniquement de tableaux : pages "
                f"{', '.join(map(str, sorted(table_pages)[:15]))}. Les réponses sur ces chiffres citent des cellules "
                "sans leur contexte.",
                "Ajouter une phrase d'explication autour des tableaux importants (ce qu'ils donnent, pour qui).",
                key="table_pages",
                details={"kind": "table_pages", "pages": sorted(table_pages)},
            )
        )
    garbled: dict[str, list[int | None]] = defaultdict(list)
    samples: dict[str, str] = {}
    for page, texts in by_page.items():
        for reason in garbled_reasons("\n".join(texts)):
            garbled[reason].append(page)
            samples.setdefault(reason, texts[0])
    if garbled:
        described = []
        for reason, pages in garbled.items():
            numbered = [p for p in pages if p]
            shown = ", ".join(map(str, numbered[:15])) + ("…" if len(numbered) > 15 else "")
            described.append(reason + (f" (pages {shown})" if numbered else ""))
        affected = {page for pages in garbled.values() for page in pages}
        first_page = min((p for p in affected if p), default=None)
        findings.append(
            Finding(
                FindingType.EXTRACTION,
                Severity.HIGH if len(affected) >= max(1, len(by_page) // 2) else Severity.MEDIUM,
                [Place(document.path, document.title, document.service, first_page)],
                [excerpt(samples[reason]) for reason in list(garbled)[:2]],
                f"Texte mal extrait : {' ; '.join(described)}. Les réponses citant ce document seront peu fiables.",
                "Régénérer le PDF depuis le fichier source (export « PDF/A » du traitement de texte) ou déposer "
                "le fichier source.",
                key="garbled",
                details={"kind": "garbled", "reasons": list(garbled), "pages": sorted(p for p in affected if p)},
            )
        )
    return findings
