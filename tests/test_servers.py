"""sagalab.servers: real servers on loopback, a random port, a password, stopped by pid."""
import asyncio
import os

import pytest

from sagalab import servers


def _alive(pid: int) -> bool:
    """Is there still a process with this pid? (stop() waits for it, so it is reaped)"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_redis_listens_on_loopback_with_a_password_and_stops_by_pid():
    import redis.asyncio
    import redis.exceptions
    with servers.start_redis() as server:
        assert server.argv[server.argv.index("--bind") + 1] == "127.0.0.1"
        assert server.info["password"]

        async def probe():
            ok = await server.client().ping()
            anonymous = redis.asyncio.Redis(host="127.0.0.1", port=server.port)
            with pytest.raises(redis.exceptions.AuthenticationError):
                await anonymous.ping()
            await anonymous.aclose()
            return ok
        assert asyncio.run(probe()) is True
        pid = server.pid
    assert not server.running and not _alive(pid)


def test_temporal_dev_server_keeps_its_database_across_a_kill(tmp_path):
    db = tmp_path / "temporal.db"
    server = servers.start_temporal(db)
    try:
        assert server.argv[server.argv.index("--ip") + 1] == "127.0.0.1"
        server.kill()                       # a crash, not a clean stop
        assert not server.running and db.exists()
    finally:
        server.stop()
    with servers.start_temporal(db) as again:       # starts again on the same file
        assert again.running


def test_a_server_that_never_answers_is_stopped_and_its_log_shown():
    with pytest.raises(RuntimeError, match="did not start"):
        servers.Server("sleeper", ["sleep", "30"], port=servers.free_port(),
                       ready=lambda: False, timeout=0.3)
    assert not any(s.name == "sleeper" for s in servers._RUNNING)
