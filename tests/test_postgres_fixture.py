import pytest
import sqlalchemy as sa


@pytest.mark.postgres
def test_postgres_fixture_gives_fresh_databases(postgres_url, postgres_server):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x int)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1), (2)"))
        assert conn.execute(sa.text("SELECT sum(x) FROM t")).scalar() == 3
        assert conn.execute(sa.text("SHOW server_version")).scalar().split(".")[0].isdigit()
    engine.dispose()
    other = sa.create_engine(postgres_server.url(postgres_server.create_database()))
    with other.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('t')")).scalar() is None
    other.dispose()
