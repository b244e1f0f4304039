"""Tests that need no service: the domain, the read side and the loops, on SQLite or in memory."""
