"""The team server in a real browser (Chromium): signing in, each user's
own Timeline, another's session as if it did not exist, signing out."""

import shutil

import pytest
from playwright.sync_api import expect
from team import BOB_DESKTOP, BOB_SECRET, FILES
from test_browser import browser, page  # noqa: F401 (fixtures)
from test_daemon import wait_for
from test_sample import MAIN
from test_ship import Home, post

from zergd.ship.protocol import encode


@pytest.fixture
def team_server(tmp_path, sample):
    server = Home(tmp_path / "server", "server")
    shutil.copytree(sample.agent_dir("claude") / "projects", server.root / "claude" / "projects")
    server.run("user", "add", "alice", "--admin", "--password-stdin", input="alice-password\n", check=True)
    server.run("user", "add", "bob", "--password-stdin", input="bob-password\n", check=True)
    server.start("--public-url", server.url)
    token = server.token("bob-desktop", "desktop-b", "--user", "bob")
    [(rel, data)] = FILES["desktop-b"].items()
    from test_ship import item

    status, answer = post(server, encode("desktop-b", [item(rel, data)]), token)
    assert status == 200, answer
    wait_for(lambda: server.status().get("sessions", 0) >= 4)
    yield server
    server.stop()


def sign_in(page, url, name, password):  # noqa: F811
    page.goto(url + "/")
    expect(page).to_have_url(url + "/login?next=%2F")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_each_user_signs_in_to_their_own_timeline(team_server, page):  # noqa: F811
    url = team_server.url
    sign_in(page, url, "alice", "not-her-password")
    expect(page.get_by_role("alert")).to_have_text("wrong name or password")
    expect(page).to_have_url(url + "/login?next=%2F")

    page.get_by_label("Password").fill("alice-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(url + "/")
    expect(page.locator("#who")).to_have_text("alice")
    expect(page.locator(".card", has_text="Login form validation")).to_be_visible()
    expect(page.locator(".card", has_text="Rotate the database password")).to_have_count(0)
    page.goto(url + f"/?q={BOB_SECRET}")
    expect(page.get_by_text(f"Nothing found for “{BOB_SECRET}”.")).to_be_visible()
    page.goto(url + f"/s/{BOB_DESKTOP}")
    expect(page.get_by_role("alert")).to_contain_text("no session")
    expect(page.get_by_text(BOB_SECRET)).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(url + "/login")
    page.goto(url + f"/s/{MAIN}")  # signed out: back to the sign-in page, then to where they were going
    expect(page).to_have_url(url + f"/login?next=%2Fs%2F{MAIN}")

    page.get_by_label("Name").fill("bob")
    page.get_by_label("Password").fill("bob-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(url + f"/s/{MAIN}")
    expect(page.get_by_role("alert")).to_contain_text("no session")  # alice's, not shared with bob
    page.goto(url + "/")
    expect(page.locator("#who")).to_have_text("bob")
    expect(page.locator(".card")).to_have_count(1)
    page.locator(".card", has_text="Rotate the database password").click()
    expect(page.get_by_text(f"the password is {BOB_SECRET}-42", exact=False)).to_be_visible()
    assert page.errors == [] and page.dialogs == []
