"""test_fair_filing_and_forwarding.py again, on the PostgreSQL event store: one body, two
back ends."""

import pytest

from tests.unit.test_fair_filing_and_forwarding import *  # noqa: F403

pytestmark = pytest.mark.usefixtures("on_postgres")
