"""docs/deploy.md, step 1, as written: its SQL, its listen_addresses and pg_hba.conf line, its URLs and .pgpass line.

The commands are read from the page (not copied here), run on a throwaway PostgreSQL
cluster, and then both roles log in over TCP with their passwords, as the Prefect server
and the workers would. Only the names a reader replaces are changed: the internal
network becomes 127.0.0.1/32, `'*'` becomes 127.0.0.1 and `db.internal:5432` the
cluster's loopback port, so nothing listens beyond this machine.
"""

import asyncio
import os
import re
import shutil
import textwrap

import pytest

from support import ROOT

from support.postgres import as_db_user as _as_db_user, cluster_folders

pytest.importorskip("psycopg", reason="install the test extra: pip install -e '.[test]'")

DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def _one(pattern: str, text: str = DOC, flags: int = 0) -> str:
    found = re.findall(pattern, text, flags)
    assert len(found) == 1, (pattern, found)
    return found[0]


def _on_loopback(text: str, port: int) -> str:
    return text.replace("db.internal:5432", f"127.0.0.1:{port}")


@pytest.fixture(scope="module")
def cluster():
    """A stopped-and-started PostgreSQL cluster, first listening on no TCP address at all (Unix socket only)."""
    from mifidelity.service.prefect_server import free_port

    bin_dir, base, data, sockets = cluster_folders("mifidelity-pgdoc-")
    port = free_port()
    _as_db_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(f"listen_addresses = ''\nport = {port}\nunix_socket_directories = '{sockets}'\nfsync = off\n")

    def pg_ctl(*args: str) -> None:
        _as_db_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(sockets / "server.log"), *args])

    def psql(*args: str, stdin: str | None = None) -> str:
        return _as_db_user([str(bin_dir / "psql"), "-h", str(sockets), "-p", str(port), "-U", "postgres", "-X",
                            "-q", "-t", "-A", *args], input=stdin).stdout.strip()

    pg_ctl("start")
    try:
        yield {"port": port, "data": data, "pg_ctl": pg_ctl, "psql": psql, "base": base}
    finally:
        if (data / "postmaster.pid").exists():
            _as_db_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def test_step_1_creates_roles_that_log_in_with_their_passwords_from_other_hosts(cluster, tmp_path):
    port, psql = cluster["port"], cluster["psql"]

    # The SQL, run the way the page runs it (psql -v ON_ERROR_STOP=1 from a here-document).
    sql = textwrap.dedent(_one(r"psql -v ON_ERROR_STOP=1 <<'SQL'\n(.*?)\n\s*SQL\n", flags=re.S))
    assert "CREATE ROLE" in sql and "OWNER" in sql
    psql("-v", "ON_ERROR_STOP=1", stdin=sql)
    owners = psql("-c", "select datname || '=' || pg_get_userbyid(datdba) from pg_database "
                        "where datname in ('prefect', 'mifidelity_ledger') order by 1")
    assert owners.splitlines() == ["mifidelity_ledger=mifidelity", "prefect=prefect"]

    # listen_addresses and the pg_hba.conf line, then the restart.
    listen = _one(r'psql -c "(ALTER SYSTEM SET listen_addresses = \'\*\')"')
    psql("-c", listen.replace("'*'", "'127.0.0.1'"))
    hba_line = _one(r'echo "(host .*?)" \\\n\s*\| sudo tee -a /etc/postgresql/\*/main/pg_hba.conf')
    hba_line = re.sub(r"\b10\.0\.0\.0/24\b", "127.0.0.1/32", hba_line)
    assert "scram-sha-256" in hba_line
    # Only the superuser's Unix socket (for this test's own psql) and the page's line: no other way in.
    (cluster["data"] / "pg_hba.conf").write_text(f"local all postgres trust\n{hba_line}\n")
    cluster["pg_ctl"]("restart")

    # The Prefect server's URL, with its password, over TCP.
    prefect_url = _on_loopback(_one(r"PREFECT_API_DATABASE_CONNECTION_URL='([^']+)'"), port)
    assert prefect_url.startswith("postgresql+asyncpg://prefect:")

    async def prefect_can_create_tables() -> str:
        import asyncpg

        connection = await asyncpg.connect(prefect_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await connection.execute("CREATE TABLE probe (id integer)")
            return await connection.fetchval("select current_user")
        finally:
            await connection.close()

    assert asyncio.run(prefect_can_create_tables()) == "prefect"

    # The workers: the ledger URL of configs/multi-machine.yaml, the password from the page's .pgpass line.
    ledger_url = _on_loopback(_one(r"database_url: (\S+)", (ROOT / "configs" / "multi-machine.yaml").read_text()), port)
    assert "@" in ledger_url and ":" not in ledger_url.split("//", 1)[1].split("@", 1)[0]  # no password in the file
    pgpass = tmp_path / ".pgpass"
    pgpass.write_text(_on_loopback(_one(r'echo "(db\.internal:5432:[^"]+)"'), port) + "\n")
    pgpass.chmod(0o600)
    import psycopg

    from mifidelity.service.ledger import Ledger

    previous = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = str(pgpass)
    try:
        ledger = Ledger(ledger_url)
        try:
            ledger.register("a" * 64, "a.mp3", None, ["a"])
            assert ledger.claim("a" * 64)
        finally:
            ledger.close()
    finally:
        if previous is None:
            os.environ.pop("PGPASSFILE")
        else:
            os.environ["PGPASSFILE"] = previous
    assert psql("-d", "mifidelity_ledger", "-c", "select tableowner from pg_tables where tablename = 'recordings'") \
        == "mifidelity"

    # The password is really checked (scram-sha-256, not trust), and other databases are closed to the role.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"host=127.0.0.1 port={port} dbname=mifidelity_ledger user=mifidelity password=wrong "
                        "connect_timeout=5")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"host=127.0.0.1 port={port} dbname=postgres user=mifidelity passfile={pgpass} "
                        "connect_timeout=5")
