"""The platform as real processes for end-to-end tests: one stack per test module."""
from __future__ import annotations

import pytest
import requests

from devtools.demo import DEMO_USERS, create_users
from devtools.mailsink import MailSink
from devtools.stack import Stack, free_port

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}


@pytest.fixture(scope="module")
def stack(rabbit, tmp_path_factory):
    """Every service on its own vhost and SQLite files, a mail sink, the demo users; the sweep is
    slowed down so tests decide when deadlines are judged."""
    from tests.conftest import new_vhost
    sink = MailSink(port=free_port()).start()
    platform = Stack(amqp_uri=new_vhost(rabbit), var_dir=tmp_path_factory.mktemp("var"),
                     extra_env={"SMTP_PORT": str(sink.port), "THONGTHIN_SWEEP_INTERVAL_S": "3600"})
    platform.migrate()
    create_users(platform.database_urls["gateway"])
    platform.start()
    platform.mail = sink
    yield platform
    platform.stop()
    sink.stop()


def client(stack, username: str, password: str | None = None) -> requests.Session:
    """A session logged in with a bearer token; ``session.base`` is the API root."""
    session = requests.Session()
    response = session.post(f"{stack.gateway_url}/api/v1/auth/token",
                            json={"username": username, "password": password or PASSWORDS[username]})
    assert response.status_code == 200, response.text
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    session.base = f"{stack.gateway_url}/api/v1"
    return session
