"""Daily usage rollup kept equal to ``llm_calls`` by triggers: the dashboard's usage source.

Summing a million model calls per page view takes seconds; the rollup holds one row per UTC
day, provider, model and role. Triggers keep it exact whoever writes ``llm_calls`` (engine,
runner, a restore): statement-level with transition tables on PostgreSQL (one upsert per
statement, cheap for bulk loads), row-level on SQLite. Existing calls are summed in once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 21:45:00
"""

# SQL text is assembled from this module's constants only (column and trigger names).
# ruff: noqa: S608

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SUMMED = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "cost_usd")


def _pg_apply(source: str) -> str:
    """Upsert the per-day sums of ``source`` (rows with a ``sign`` column) into the rollup."""
    sums = ", ".join(f"coalesce(sum(sign * coalesce({c}, 0)), 0)" for c in SUMMED)
    updates = ", ".join(f"{c} = u.{c} + EXCLUDED.{c}" for c in (*SUMMED, "llm_calls"))
    return f"""
        INSERT INTO usage_daily AS u (day, provider, model, role, {", ".join(SUMMED)}, llm_calls)
        SELECT (created_at AT TIME ZONE 'UTC')::date, provider, model, role, {sums}, sum(sign)
        FROM ({source}) AS changed
        GROUP BY 1, 2, 3, 4
        ON CONFLICT (day, provider, model, role) DO UPDATE SET {updates}"""


COLUMNS = f"created_at, provider, model, role, {', '.join(SUMMED)}"
PG_FUNCTIONS = {
    "autopack_usage_daily_insert": f"SELECT {COLUMNS}, 1 AS sign FROM new_rows",
    "autopack_usage_daily_delete": f"SELECT {COLUMNS}, -1 AS sign FROM old_rows",
    "autopack_usage_daily_update": f"SELECT {COLUMNS}, -1 AS sign FROM old_rows "
    f"UNION ALL SELECT {COLUMNS}, 1 AS sign FROM new_rows",
}
PG_TRIGGERS = {
    "autopack_usage_daily_insert": "AFTER INSERT ON llm_calls REFERENCING NEW TABLE AS new_rows",
    "autopack_usage_daily_delete": "AFTER DELETE ON llm_calls REFERENCING OLD TABLE AS old_rows",
    "autopack_usage_daily_update": "AFTER UPDATE ON llm_calls "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _sqlite_trigger(name: str, event: str, steps: list[tuple[str, int]]) -> str:
    """A row trigger applying ``steps`` (row alias NEW/OLD, sign) to the rollup."""
    body = []
    for row, sign in steps:
        key = f"date({row}.created_at), {row}.provider, {row}.model, {row}.role"
        match = (
            f"day = date({row}.created_at) AND provider = {row}.provider "
            f"AND model = {row}.model AND role = {row}.role"
        )
        adds = ", ".join(f"{c} = {c} + ({sign}) * coalesce({row}.{c}, 0)" for c in SUMMED)
        body.append(
            f"INSERT OR IGNORE INTO usage_daily (day, provider, model, role, "
            f"{', '.join(SUMMED)}, llm_calls) VALUES ({key}, 0, 0, 0, 0, 0, 0);"
        )
        body.append(
            f"UPDATE usage_daily SET {adds}, llm_calls = llm_calls + ({sign}) WHERE {match};"
        )
    return f"CREATE TRIGGER {name} AFTER {event} ON llm_calls BEGIN {' '.join(body)} END"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "usage_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("llm_calls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "provider", "model", "role", name=op.f("pk_usage_daily")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for function, source in PG_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"{_pg_apply(source)}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {function} {PG_TRIGGERS[function]} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
        op.execute(_pg_apply(f"SELECT {COLUMNS}, 1 AS sign FROM llm_calls"))
    else:
        op.execute(_sqlite_trigger("autopack_usage_daily_insert", "INSERT", [("NEW", 1)]))
        op.execute(_sqlite_trigger("autopack_usage_daily_delete", "DELETE", [("OLD", -1)]))
        op.execute(
            _sqlite_trigger("autopack_usage_daily_update", "UPDATE", [("OLD", -1), ("NEW", 1)])
        )
        sums = ", ".join(f"coalesce(sum({c}), 0)" for c in SUMMED)
        op.execute(
            f"INSERT INTO usage_daily (day, provider, model, role, {', '.join(SUMMED)}, "
            f"llm_calls) SELECT date(created_at), provider, model, role, {sums}, count(*) "
            "FROM llm_calls GROUP BY 1, 2, 3, 4"
        )


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        for function in PG_FUNCTIONS:
            op.execute(f"DROP TRIGGER IF EXISTS {function} ON llm_calls")
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    else:
        for function in PG_FUNCTIONS:
            op.execute(f"DROP TRIGGER IF EXISTS {function}")
    op.drop_table("usage_daily")
