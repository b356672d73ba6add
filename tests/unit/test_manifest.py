"""The manifest on a real SQLite file."""

from ingest.manifest import DocumentRecord, Manifest


def test_records_round_trip_and_collection_switch(tmp_path):
    with Manifest(tmp_path / "manifest.sqlite3") as manifest:
        record = DocumentRecord(
            path="rh/a.pdf",
            doc_id="d1",
            file_hash="f1",
            indexed_hash="v1",
            status="indexed",
            chunks=3,
            pages=2,
            title="A",
            format="pdf",
            service="rh",
            doc_date="2024-01-02",
        )
        manifest.record("live", record)
        manifest.record(
            "new",
            DocumentRecord(
                path="rh/b.pdf", doc_id="d2", file_hash="f2", indexed_hash=None, status="failed", reason="PDF endommagé"
            ),
        )
        assert manifest.documents("live") == {"rh/a.pdf": record}
        assert manifest.active_collection("live") == "live"
        manifest.switch_collection("new", "live")
    with Manifest(tmp_path / "manifest.sqlite3") as reopened:
        assert reopened.active_collection("live") == "new"
        assert reopened.documents("live") == {}
        assert reopened.documents("new")["rh/b.pdf"].reason == "PDF endommagé"
        reopened.start_run("r1", "new", "2026-11-28T00:00:00+00:00")
        assert reopened.last_run() is None and reopened.unfinished_runs() == 1
        reopened.finish_run("r1", {"counts": {"indexed": 1}})
        assert reopened.last_run() == {"counts": {"indexed": 1}}
