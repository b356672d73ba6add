"""A labelled dev set for the quality report, built from ../shared/corpora.

Labels come from the datasets' own documentation (SOURCE.md: which Putanges PDFs are scans, which files are
duplicates, which texts exist in three formats) and from the version histories (consecutive versions of one CGCT
article or one aid; a pair "changes a figure" when the figures-with-units of the two texts differ — an independent,
deliberately simple rule).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from pathlib import Path

PUTANGES_SCANS = [
    "2018/cpte-rendu-registre.pdf",
    "2023/20230609-1-election-des-delegues-pour-les-elections-senatoriales-du-24-09-2023.pdf",
    "2023/pv-de-la-seance-du-cm-du-18-dec-2023-affiche-le-22-12-2023.pdf",
    "2023/pv-du-conseil-municipal-du-13-novembre-2023.pdf",
    "2024/20240909/pv-du-090924-signe.pdf",
    "2024/compte-rendu-seance-du-16-decembre-2024.pdf",
    "2024/compte-rendu-seance-du-19-fevrier-2024.pdf",
    "2024/compte-rendu-seance-du-25-novembre-2024.pdf",
    "2024/compte-rendu-seance-du-9-septembre-2024.pdf",
    "2024/pv-de-la-seance-du-19-02-2024.pdf",
    "2024/pv-du-25-mars-2024.pdf",
    "2025/compte-rendu-seance-du-3-fevrier-2025.pdf",
]
PUTANGES_TEXT = [
    "2018/compte-rendu-seance-09-avril-2018.pdf",
    "2018/seance-du-11-09-2018-deliberations.pdf",
    "2023/pv-du-conseil-municipal-du-30-01-2023.pdf",
    "2023/pv-de-la-seance-du-cm-du-5-juin-2023.pdf",
]
CGCT_ARTICLES = 15
AIDS = 12
_FIGURE = re.compile(
    r"(\d[\d  .,]*|\b(?:un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|douze|quinze|vingt|trente|cent))\s*"
    r"(€|euros?|%|jours?|mois|ans?|années?|habitants|heures?|semaines?|membres|conseillers|agents)(?!\w)",
    re.IGNORECASE,
)


def _flat(path: str) -> str:
    return path.replace("/", "_")


def _figures(text: str) -> set[tuple[str, str]]:
    return {(re.sub(r"[  .,]", "", m.group(1)), m.group(2).lower().rstrip("s")) for m in _FIGURE.finditer(text)}


def aid_markdown(yml: str) -> tuple[str, str]:
    """An aid's YAML as the fiche a collectivité would publish (label, amount, description, conditions)."""
    import yaml

    data = yaml.safe_load(yml)
    label = data.get("label", "")
    institution = " ".join(part.upper() if part == "caf" else part.capitalize()
                           for part in str(data.get("institution", "")).split("_"))  # fmt: skip
    description = re.sub(r"<[^>]+>", " ", html.unescape(str(data.get("description", ""))))
    conditions = " ".join(re.sub(r"<[^>]+>", " ", html.unescape(str(c))) for c in data.get("conditions", []) or [])
    amount = data.get("montant")
    unit = data.get("unit", "€")
    text = f"# {label}\n\n"
    if amount is not None:
        text += f"Le montant de l'aide « {label} » de {institution} est de {amount} {unit}.\n\n"
    text += f"{description.strip()}\n\n{conditions.strip()}\n"
    return label, text


def prepare(shared: Path, out: Path) -> Path:
    """Writes `out/corpus` and `out/labels.json`."""
    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    labels: dict = {"scans": [], "garbled": [], "duplicate_groups": [], "version_pairs": [], "contradictions": []}

    def copy(source: Path, relative: str) -> str:
        target = corpus / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return relative

    putanges = shared / "putanges_conseil_municipal" / "docs"
    for name in PUTANGES_SCANS:
        labels["scans"].append(copy(putanges / name, f"putanges/{_flat(name)}"))
    for name in PUTANGES_TEXT:
        copy(putanges / name, f"putanges/{_flat(name)}")
    labels["duplicate_groups"].append(
        [f"putanges/{_flat('2024/20240909/pv-du-090924-signe.pdf')}",
         f"putanges/{_flat('2024/compte-rendu-seance-du-9-septembre-2024.pdf')}"]
    )  # fmt: skip

    couthenans = shared / "couthenans_commune" / "docs" / "assets"
    pair = [
        copy(couthenans / "img/202101/CR du conseil municipal 17 septembre 2021.docx", "couthenans/CR 17-09-2021.docx"),
        copy(couthenans / "pdf/CR_reunion_20210917.pdf", "couthenans/CR_reunion_20210917.pdf"),
    ]
    labels["duplicate_groups"].append(pair)
    for name in ["CR_reunion_20211126.pdf", "CR_conseil_municipal_28_10_2022.pdf"]:
        copy(couthenans / "pdf" / name, f"couthenans/{name}")

    etalab = shared / "etalab_guides_md_html"
    group = [copy(etalab / "pdf/guide-juridique.pdf", "etalab/guide-juridique.pdf")]
    labels["garbled"].append(group[0])
    for page in sorted((etalab / "md/juridique").glob("[0-9]-*.md")):
        group.append(copy(page, f"etalab/md/{page.name}"))
    for page in sorted((etalab / "html/juridique").glob("*/index.html")):
        group.append(copy(page, f"etalab/html/{page.parent.name}.html"))
    labels["duplicate_groups"].append(group)

    for page in sorted((shared / "gennevilliers_rh_guides" / "docs").glob("*.md")):
        copy(page, f"gennevilliers/{page.name}")
    labels["contradictions"].append(
        {"path": "gennevilliers/protocole_teletravail.md", "figures": [["2 jours", "1 jour"], ["4 jours", "3 jours"]]}
    )

    def versions(files: list[Path], folder: str, convert=None) -> None:
        previous = None
        for file in sorted(files):
            name = file.name
            text = file.read_text(encoding="utf-8")
            if convert:
                _, text = convert(text)
                name = file.stem + ".md"
                if previous and text == previous[1]:
                    continue  # the change was in a field the fiche does not show: not a new version of the text
            relative = f"{folder}/{name}"
            (corpus / relative).parent.mkdir(parents=True, exist_ok=True)
            (corpus / relative).write_text(text, encoding="utf-8")
            if previous:
                changed = _figures(previous[1]) != _figures(text)
                labels["version_pairs"].append({"older": previous[0], "newer": relative, "changed_figure": changed})
            previous = (relative, text)

    for article in sorted(p for p in (shared / "cgct_versions").iterdir() if p.is_dir())[:CGCT_ARTICLES]:
        versions(list(article.glob("*.md")), f"cgct/{article.name}")
    aids = shared / "aides_jeunes_aides_locales" / "versions"
    for aid in sorted(p for p in aids.iterdir() if p.is_dir() and "bafa" in p.name)[:AIDS]:
        versions(list(aid.glob("*.yml")), f"aides/{aid.name}", aid_markdown)

    # Identical files anywhere in the set are duplicates too (some aid versions changed only hidden fields).
    by_bytes: dict[str, list[str]] = {}
    for file in sorted(corpus.rglob("*")):
        if file.is_file():
            data = file.read_bytes()
            if file.suffix == ".md":  # « exact » is the text once case, spacing and punctuation are set aside
                data = re.sub(r"\W", "", data.decode("utf-8").lower()).encode()
            by_bytes.setdefault(hashlib.sha256(data).hexdigest(), []).append(file.relative_to(corpus).as_posix())
    labelled = {path for group in labels["duplicate_groups"] for path in group}
    labels["duplicate_groups"] += [g for g in by_bytes.values() if len(g) > 1 and not set(g) & labelled]
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1))
    return out
