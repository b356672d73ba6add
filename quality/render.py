"""The report as a file: JSON (everything), CSV (one row per finding, for a spreadsheet), self-contained HTML (one
file an owner can e-mail: no external style, script or font)."""

from __future__ import annotations

import json

from jinja2 import Environment

from quality.findings import SEVERITIES, STATUSES, TYPES
from quality.report import Report
from sourcier import spreadsheet

_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>Sourcier — qualité des documents</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1e1e1e;line-height:1.45}
h1{color:#000091}h2{border-bottom:2px solid #000091;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f0f0f8}
.high{color:#b00020;font-weight:bold}.medium{color:#b35900}.low{color:#555}
.finding{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.6rem 0}
.evidence{background:#f6f6f6;border-left:3px solid #999;padding:.3rem .6rem;margin:.3rem 0;font-size:.92em}
.meta{color:#666;font-size:.85em}.dismissed{opacity:.55}
</style></head><body>
<h1>Qualité des documents</h1>
<p class="meta">Rapport Sourcier du {{ generated_at }} — {{ documents }} documents analysés, {{ total }} constats
ouverts. Les données personnelles sont masquées.</p>
<h2>Synthèse</h2>
<table><tr><th>Type</th><th>Constats</th></tr>
{% for type, label in types.items() %}{% if counts.by_type.get(type) %}<tr><td>{{ label }}</td>
<td>{{ counts.by_type[type] }}</td></tr>{% endif %}{% endfor %}</table>
<table><tr><th>Service</th><th>Constats</th></tr>
{% for service, count in counts.by_service.items()|sort(attribute='1', reverse=True) %}<tr><td>{{ service }}</td>
<td>{{ count }}</td></tr>{% endfor %}</table>
<h2>Documents à traiter en priorité</h2>
<table><tr><th>Document</th><th>Service</th><th>Constats</th><th>Types</th></tr>
{% for doc in ranked[:30] %}<tr><td>{{ doc.title }}<br><span class="meta">{{ doc.path }}</span></td>
<td>{{ doc.service }}</td><td>{{ doc.findings }}</td><td>{{ doc.types|join(', ') }}</td></tr>{% endfor %}</table>
{% for type, label in types.items() %}{% set items = findings|selectattr('type', 'equalto', type)|list %}
{% if items %}<h2>{{ label }} ({{ items|length }})</h2>
{% for f in items %}<div class="finding{% if f.status == 'faux_positif' %} dismissed{% endif %}">
<span class="{{ f.severity }}">■ {{ severities[f.severity] }}</span> — {{ f.explanation }}
<div class="meta">{% for p in f.places %}{{ p.label() }} <code>{{ p.path }}</code>{% if not loop.last %} ·
{% endif %}{% endfor %} — constat {{ f.id }}, {{ statuses.get(f.status, f.status) }}</div>
{% for e in f.evidence %}<div class="evidence">{{ e }}</div>{% endfor %}
<div><b>Action proposée :</b> {{ f.action }}</div></div>{% endfor %}{% endif %}{% endfor %}
</body></html>
"""


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str)


def to_csv(report: Report) -> str:
    return spreadsheet.to_csv(
        ["id", "type", "gravité", "statut", "service", "documents", "pages", "explication", "extraits", "action"],
        (
            [
                f.id, TYPES[f.type], SEVERITIES[f.severity], STATUSES.get(f.status, f.status), ", ".join(f.services),
                " | ".join(p.path for p in f.places), " | ".join(str(p.page or "") for p in f.places), f.explanation,
                " | ".join(f.evidence), f.action,
            ]
            for f in report.findings
        ),
    )  # fmt: skip


def to_html(report: Report) -> str:
    template = Environment(autoescape=True).from_string(_HTML)
    return template.render(
        generated_at=report.generated_at[:16].replace("T", " "),
        documents=report.documents,
        total=len(report.open_findings()),
        counts=report.counts(),
        ranked=report.ranked_documents(),
        findings=report.findings,
        types=TYPES,
        severities=SEVERITIES,
        statuses=STATUSES,
    )


RENDERERS = {"json": to_json, "csv": to_csv, "html": to_html}
