"""test_fair_process.py again, on the PostgreSQL event store: one body, two back ends."""

import pytest

from tests.unit.test_fair_process import *  # noqa: F403

pytestmark = pytest.mark.usefixtures("on_postgres")
