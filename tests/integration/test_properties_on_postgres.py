"""test_properties.py again, on the PostgreSQL event store: one body, two back ends."""

import pytest

from tests.unit.test_properties import *  # noqa: F403

pytestmark = pytest.mark.usefixtures("on_postgres")
