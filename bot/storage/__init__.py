"""Storage: the SQLite database, migrations and repositories. SQL lives only here."""
