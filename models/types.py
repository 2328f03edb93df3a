"""Column helpers shared by the table modules."""

from sqlalchemy import Enum


def choice(name: str, *values: str) -> Enum:
    """A string column limited to `values` by a CHECK constraint on every database."""
    return Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)
