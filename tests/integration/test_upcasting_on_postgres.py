"""test_upcasting.py again, on the PostgreSQL event store: one body, two back ends."""

import pytest

from tests.unit.test_upcasting import *  # noqa: F403
from tests.unit.test_upcasting import _forget_upcasts  # noqa: F401

pytestmark = pytest.mark.usefixtures("on_postgres")
