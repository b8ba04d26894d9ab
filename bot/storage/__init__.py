"""Storage: the SQLite database, migrations and repositories. SQL lives only here.

Services name the connection their units receive as :data:`Tx` and nest a unit with
:func:`savepoint`; neither ``sqlite3`` nor transaction statements appear outside storage.
"""

from bot.storage.database import Savepoint, Tx, savepoint

__all__ = ["Savepoint", "Tx", "savepoint"]
