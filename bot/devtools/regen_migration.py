"""Regenerate the initial migration from the models.

Only while nothing has been released: once a schema has shipped, every change gets its own
revision (`alembic -c migrations/alembic.ini revision --autogenerate -m "..."`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from bot.db import MIGRATIONS_DIR
from bot.migrate import alembic_config


def main() -> None:
    target = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'gen.db'}")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    print(f"regenerated {target}")


if __name__ == "__main__":
    main()
