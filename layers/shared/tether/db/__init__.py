"""The Postgres adapter: connections, migrations, the unit of work and repositories."""
