from datetime import date

import pytest

from ingest.dates import find_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seance-du-09-09-2019-deliberations", date(2019, 9, 9)),
        ("compte-rendu-seance-du-3-juin-2021", date(2021, 6, 3)),
        ("SEANCE DU 1er SEPTEMBRE 2019", date(2019, 9, 1)),
        ("CR_reunion_20210917", date(2021, 9, 17)),
        ("modified 2019-04-17", date(2019, 4, 17)),
        ("pv du 25 mars 2024 affiché le 28/03/2024", date(2024, 3, 25)),
        ("CR_conseil_municipal_24_02_2023", date(2023, 2, 24)),
        ("le 31 février 2020 n'existe pas", None),
        ("F1965", None),
        ("article 1234-56-7890", None),
    ],
)
def test_find_date(text, expected):
    assert find_date(text) == expected
