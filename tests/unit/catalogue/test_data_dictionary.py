import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_data_dictionary_describes_the_current_catalogue():
    result = subprocess.run(
        [sys.executable, "scripts/data_dictionary.py", "--check"], cwd=ROOT, capture_output=True
    )
    assert result.returncode == 0, "run scripts/data_dictionary.py to regenerate it"


def test_the_measure_codes_the_api_and_exports_promise_exist():
    from flotilla.catalogue import current

    codes = {m.code for m in current().measures}
    assert {"ga_open", "ga_occupied", "cc_adult_open", "cc_adult_occupied"} <= codes
