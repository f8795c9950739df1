"""409 answers name the conflict in words: every unique or exclusion constraint (and
unique index) of the schema has a sentence in tether.db.errors, and no constraint
name reaches a client."""

from __future__ import annotations

from tether.db.connection import Connection
from tether.db.errors import CONFLICT_WORDS

# Unique constraints, exclusion constraints and unique indexes: what a UniqueViolation
# or ExclusionViolation names in diag.constraint_name.
UNIQUE_NAMES = """
SELECT c.relname AS name, t.relname AS table_name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND i.indisunique
UNION
SELECT con.conname, t.relname
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND con.contype IN ('u', 'x', 'p')
ORDER BY 1
"""


def test_every_unique_and_exclusion_constraint_has_words(admin: Connection) -> None:
    names = {row["name"] for row in admin.execute(UNIQUE_NAMES).fetchall()}
    names.discard("schema_migrations_pkey")  # the runner's own table: no request writes it
    missing = sorted(names - CONFLICT_WORDS.keys())
    assert not missing, f"409 words missing for: {missing}"
    for name, words in CONFLICT_WORDS.items():
        assert name not in words, name
        assert "_" not in words, name
