"""The manifest on the real SQLite database (on PostgreSQL too: tests/test_database.py)."""

from sourcier.settings import StoreSettings
from tests.state_contract import manifest_contract


def test_records_round_trip_and_collection_switch(tmp_path):
    manifest_contract(StoreSettings(path=tmp_path))
