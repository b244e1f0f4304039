"""test_permissions.py again, on the PostgreSQL event store: one body, two back ends."""

import pytest

from tests.unit.test_permissions import *  # noqa: F403

pytestmark = pytest.mark.usefixtures("on_postgres")
