"""A team server behind TLS, as the README sets it up: Debian's nginx with a
self-signed certificate in front of a zergd that stays on 127.0.0.1 with
`--public-url https://zerg.test:PORT`.  Signing in, reading and shipping
all go through the proxy."""

import http.client
import json
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from test_daemon import free_port, wait_for
from test_ship import Home, client  # noqa: F401 (client: a fixture)

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None or shutil.which("openssl") is None,
                                reason="needs Debian's nginx and openssl (scripts/test installs nginx)")

CONF = """
daemon off;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name zerg.test;
        ssl_certificate     {root}/zerg.crt;
        ssl_certificate_key {root}/zerg.key;
        client_max_body_size 64m;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


@pytest.fixture
def tls_server(tmp_path):
    root = tmp_path / "nginx"
    root.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=zerg.test",
                    "-addext", "subjectAltName=DNS:zerg.test,IP:127.0.0.1", "-keyout", str(root / "zerg.key"),
                    "-out", str(root / "zerg.crt")], check=True, capture_output=True)
    port = free_port()
    server = Home(tmp_path / "server", "server")
    public = f"https://zerg.test:{port}"
    server.run("user", "add", "alice", "--admin", "--password-stdin", input="alice-password\n", check=True)
    server.start("--public-url", public)
    import os

    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(CONF.format(root=root, port=port, upstream=server.port, user=user))
    proc = subprocess.Popen([NGINX, "-c", str(root / "nginx.conf"), "-p", str(root)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _connects(port) or proc.poll() is not None)
        assert proc.poll() is None, proc.stderr.read().decode()
        yield server, port, root / "zerg.crt", public
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()


def _connects(port) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def https(port, cert, method, path, body=None, headers=None, host="zerg.test"):
    ctx = ssl.create_default_context(cafile=str(cert))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    try:
        sent = {"Host": f"{host}:{port}", **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/json"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=sent)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_a_team_server_behind_nginx_with_tls(tls_server, client, sample):  # noqa: F811
    server, port, cert, public = tls_server
    status, headers, _ = https(port, cert, "GET", "/", headers={"Accept": "text/html"})
    assert status == 303 and headers["location"].startswith("/login")
    status, _, _ = https(port, cert, "GET", "/login", host="evil.example")
    assert status == 421  # DNS rebinding through the proxy is refused too
    status, _, _ = https(port, cert, "POST", "/api/login", {"name": "alice", "password": "alice-password"},
                         {"Origin": "https://evil.example"})
    assert status == 403
    status, headers, body = https(port, cert, "POST", "/api/login", {"name": "alice", "password": "alice-password"},
                                  {"Origin": public})
    assert status == 200, body
    cookie = headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie  # the proxy said https (X-Forwarded-Proto)
    session_cookie = cookie.split(";")[0]

    # A laptop ships through the proxy, trusting its certificate.
    token_file = client.root / "token"
    token_file.write_text(server.token("laptop", machine="testhost"))
    client.env["SSL_CERT_FILE"] = str(cert)
    shipped = client.run("ship", "--to", f"https://127.0.0.1:{port}", "--token-file", str(token_file), tool="zerg")
    assert shipped.returncode == 0, shipped.stderr

    def listed():
        status, _, body = https(port, cert, "GET", "/api/sessions?limit=100", headers={"Cookie": session_cookie})
        assert status == 200, body
        return {s["host"] for s in json.loads(body)["sessions"]}

    # The token names no user: its machine is the first admin's, so alice sees it.
    assert wait_for(lambda: "testhost" in listed())
    status, _, body = https(port, cert, "GET", "/api/sessions")
    assert status == 401
