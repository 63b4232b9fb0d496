"""Helpers shared by the tests (importable because pyproject's pytest `pythonpath` holds tests/).

Fixtures live in tests/conftest.py; plain helpers and constants live here.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
