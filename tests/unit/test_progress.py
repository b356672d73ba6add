"""The time left of an ingestion, as the admin page and the API show it."""

from ingest.progress import Phase, Progress


def _indexing(**fields) -> Progress:
    return Progress(phase=Phase.INDEXING, started_at=0.0, indexing_started_at=100.0, **fields)


def test_no_estimate_before_the_first_file_is_indexed_nor_outside_indexing():
    assert _indexing(bytes_total=1000, bytes_done=0, updated_at=110.0).eta_s(now=110.0) is None
    scanning = Progress(phase=Phase.SCANNING, bytes_total=1000, bytes_done=500, updated_at=110.0)
    assert scanning.eta_s(now=110.0) is None


def test_estimate_goes_by_bytes_over_the_indexing_phase_only():
    # A long scan before indexing (started_at 0, indexing at 100) does not slow the rate down; 9 small unchanged
    # files would have made a per-file estimate promise far too little.
    progress = _indexing(files_total=10, files_done=9, bytes_total=1000, bytes_done=250, updated_at=110.0)
    assert progress.eta_s(now=110.0) == 30.0


def test_estimate_counts_down_between_updates_and_never_reaches_zero():
    progress = _indexing(bytes_total=1000, bytes_done=500, updated_at=120.0)
    assert progress.eta_s(now=120.0) == 20.0
    assert progress.eta_s(now=125.0) == 15.0  # a large file being read: the figure moves instead of freezing
    assert progress.eta_s(now=200.0) == 1.0
