"""Storage: the SQLite database, migrations and repositories. SQL lives only here."""

import sqlite3

#: The connection a unit of work runs on (see ``Database.write``). Services annotate their
#: units with this alias and never import sqlite3: what a transaction is stays storage's.
Tx = sqlite3.Connection
