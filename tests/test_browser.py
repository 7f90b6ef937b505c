"""The Timeline in a real browser: Playwright driving Debian's Chromium
against the real daemon.  Screenshots go to tests/artifacts/."""

import json
import re
from pathlib import Path

import pytest
from conftest import CORPUS, agent  # noqa: F401
from playwright.sync_api import expect, sync_playwright
from test_daemon import free_port, wait_for, zerg, zergd

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium phones home at start and this machine refuses it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.dialogs = []
    pg.errors = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def start_daemon(settings, monkeypatch):
    monkeypatch.setenv("ZERG_RESCAN_INTERVAL", "1")
    port = free_port()
    zergd("start", "--port", str(port), check=True)
    wait_for(lambda: json.loads(zergd("status", "--json").stdout).get("state") == "watching")
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def server(corpus, monkeypatch):
    url = start_daemon(corpus, monkeypatch)
    yield url
    zergd("stop")


@pytest.fixture
def sample_server(sample, monkeypatch):
    """The daemon on the project's own fixtures: runs on any clone."""
    url = start_daemon(sample, monkeypatch)
    yield url
    zergd("stop")


@pytest.fixture
def empty_server(settings, monkeypatch):
    url = start_daemon(settings, monkeypatch)
    yield url
    zergd("stop")


def test_list_shows_corpus_sessions(server, page):
    page.goto(server + "/")
    expect(page.locator(".card").first).to_be_visible()
    expect(page.get_by_text("Research Visa card partnerships for fund wise roadmap")).to_be_visible()
    assert page.locator(".day h2").count() >= 3  # grouped by day
    assert page.errors == []


def test_project_filter_changes_url_and_list(server, page):
    page.goto(server + "/")
    expect(page.locator(".card").first).to_be_visible()
    before = page.locator(".card").count()
    page.select_option("select[name=project]", "/Users/sarthiborkar/Build/FundWise")
    expect(page).to_have_url(re.compile(r"project=%2FUsers%2Fsarthiborkar%2FBuild%2FFundWise"))
    expect(page.locator(".card")).to_have_count(2)
    assert before > 2
    for text in page.locator(".card .project").all_text_contents():
        assert text == "/Users/sarthiborkar/Build/FundWise"
    page.go_back()
    expect(page.locator(".card")).to_have_count(before)


def test_search_finds_phrase_and_opens_the_message(server, page):
    page.goto(server + "/")
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("lichess clone")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?q=lichess\+clone"))
    first = page.locator("a.hit").first
    expect(first.locator("mark").first).to_have_text(re.compile("lichess", re.I))
    href = first.get_attribute("href")
    first.click()
    anchor = href.split("#")[1]
    expect(page).to_have_url(re.compile(re.escape(href)))
    target = page.locator(f"#{anchor}")
    expect(target).to_be_visible()
    expect(target).to_have_class(re.compile("target"))
    expect(target).to_contain_text("lichess")


def test_session_view(server, page):
    page.goto(server + "/s/cb2e607c-c758-415a-8b45-c49e4631906a")
    expect(page.locator("h1")).to_contain_text("How can I make this possible to install as a library")
    expect(page.get_by_role("link", name="Download JSONL")).to_have_attribute("href", "/api/sessions/cb2e607c-c758-415a-8b45-c49e4631906a/export")
    stray = "[...document.querySelector('main').childNodes].filter(n => n.nodeType === 3 && n.textContent.trim()).length"
    assert page.evaluate(stray) == 0
    thinking = page.locator("details.thinking").first
    expect(thinking).not_to_have_attribute("open", "")
    thinking.locator("summary").click()
    expect(thinking.locator(".md")).to_be_visible()
    # The Task call links to the subagent it started.
    task = page.locator("details.tool", has_text="Task").first
    task.locator("summary").click()
    link = task.locator("a.subagent-link")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(f"/s/{agent('agent-ea02459f')}$"))
    expect(page.get_by_role("link", name="↑ parent session")).to_be_visible()
    # 2.1.2+ layout: the sidecar's description ties the Agent call to its transcript.
    page.goto(server + "/s/ef958aa1-0e93-49f0-bb71-150f63befcd1")
    call = page.locator("details.tool", has_text="Research Claude Code plan mode").first
    call.locator("summary").click()
    expect(call.locator("a.subagent-link")).to_have_attribute("href", f"/s/{agent('agent-a4ca7529859c158c2')}")
    call.locator("a.subagent-link").click()
    expect(page.locator("h1")).to_have_text("Research Claude Code plan mode")
    expect(page.locator(".session-head .badge")).to_contain_text("subagent · general-purpose")


def test_compaction_and_images(server, page):
    page.goto(server + "/s/0c182e15-59de-4856-8a94-00f26880354c?meta=1")
    page.get_by_role("button", name="Load later lines").click() if page.get_by_role("button", name="Load later lines").is_visible() else None
    for _ in range(10):
        if page.locator(".compaction").count():
            break
        page.locator("button.more:visible").last.click()
    expect(page.locator(".compaction").first).to_contain_text("Conversation compacted (auto)")
    page.goto(server + "/s/4379d1bf-ccb1-414e-a856-9791b73f3af2")
    img = page.locator("img.shot").first
    expect(img).to_be_visible()
    assert img.get_attribute("src").startswith("data:image/png;base64,")


def test_live_append_appears_without_reload(server, page, corpus):
    sid = "01131ba6-a26e-449d-8862-cc913608c7c2"
    path = corpus.claude_dir / "projects/-Users-nicksol-Desktop-agentic-wallet" / f"{sid}.jsonl"
    page.goto(server + f"/s/{sid}")
    expect(page.locator(".line:not(.meta)").first).to_be_visible()
    expect(page.locator("#live-dot.on")).to_be_attached()
    with open(path, "ab") as f:
        f.write(b'{"type":"user","uuid":"live-1","timestamp":"2026-11-22T10:00:00Z","message":{"role":"user","content":"a wild quokka appears live"}}\n')
    expect(page.get_by_text("a wild quokka appears live")).to_be_visible(timeout=10_000)
    # A brand-new session shows up on the list without a reload, too.
    page.goto(server + "/")
    expect(page.locator(".card").first).to_be_visible()
    expect(page.locator("#live-dot.on")).to_be_attached()
    new = corpus.claude_dir / "projects" / "-tmp-fresh" / "fresh-session.jsonl"
    new.parent.mkdir()
    new.write_bytes(b'{"type":"user","timestamp":"2099-01-01T00:00:00Z","cwd":"/tmp/fresh","message":{"role":"user","content":"brand new live session"}}\n')
    expect(page.locator(".card", has_text="brand new live session")).to_be_visible(timeout=10_000)


HOSTILE = [
    {"type": "user", "uuid": "h1", "timestamp": "2026-11-01T10:00:00Z", "cwd": "/tmp/<script>window.__pwned=1</script>",
     "message": {"role": "user", "content": "<script>window.__pwned=1;alert('script')</script> hello <img src=x onerror=\"window.__pwned=1;alert('img')\">"}},
    {"type": "assistant", "uuid": "h2", "timestamp": "2026-11-01T10:00:01Z", "message": {"role": "assistant", "model": "<img src=x onerror=alert(9)>", "content": [
        {"type": "text", "text": "Click [here](javascript:window.__pwned=1;alert('link')) or [there](JaVaScRiPt:alert(2)) or <a href=\"javascript:alert(3)\">this</a>\n\n```html\n<script>alert('fence')</script>\n```"},
        {"type": "thinking", "thinking": "<iframe src=\"javascript:alert('frame')\"></iframe>"},
        {"type": "tool_use", "id": "t1", "name": "<b onmouseover=alert(4)>Bash</b>", "input": {"command": "<script>alert('input')</script>"}},
        {"type": "image", "source": {"type": "base64", "media_type": "text/html", "data": "PHNjcmlwdD5hbGVydCgnaW1nJyk8L3NjcmlwdD4="}},
    ]}},
    {"type": "user", "uuid": "h3", "timestamp": "2026-11-01T10:00:02Z", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": "<svg onload=alert('svg')></svg><style>body{display:none}</style>"}]}},
    {"type": "summary", "summary": "<script>alert('summary')</script>"},
    {"type": "<script>alert('type')</script>", "uuid": "h4"},
]


def test_hostile_transcript_renders_inert(sample, monkeypatch, page):
    path = sample.claude_dir / "projects" / "-tmp-evil" / "evil-session.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in HOSTILE) + b"<script>alert('raw')</script>\n")
    url = start_daemon(sample, monkeypatch)
    try:
        for target in (url + "/s/evil-session?meta=1", url + "/?q=pwned", url + "/?q=script", url + "/"):
            page.goto(target)
            page.wait_for_load_state("networkidle")
            for summary in page.locator("details > summary").all():
                summary.click()
            page.wait_for_timeout(200)
            assert page.dialogs == [], (target, page.dialogs)
            assert page.evaluate("window.__pwned") is None
            assert page.evaluate("document.querySelectorAll('main script, main iframe, main svg, main style').length") == 0
            assert page.evaluate("[...document.querySelectorAll('main *')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length") == 0
            assert page.evaluate("[...document.querySelectorAll('main a')].filter(a => !/^(https?:|mailto:|\\/|#)/.test(a.getAttribute('href') || '/')).length") == 0
            assert page.evaluate("[...document.querySelectorAll('main img')].filter(i => !i.src.startsWith('data:image/png') && !i.src.startsWith('data:image/jpeg')).length") == 0
        page.goto(url + "/s/evil-session")
        expect(page.locator("main")).to_contain_text("<script>window.__pwned=1;alert('script')</script> hello")
        expect(page.locator("main")).to_contain_text("Click [here](javascript:window.__pwned=1;alert('link'))")
        assert page.errors == []
    finally:
        zergd("stop")


def test_empty_state_says_what_is_watched(empty_server, page, settings):
    page.goto(empty_server + "/")
    expect(page.get_by_text("No sessions yet")).to_be_visible()
    expect(page.locator(".empty")).to_contain_text(str(settings.claude_dir / "projects"))
    expect(page.locator(".empty")).to_contain_text("CLAUDE_CONFIG_DIR")


def test_narrow_screen(sample_server, browser):
    server = sample_server
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    pg = context.new_page()
    try:
        for path in ("/", "/s/5f0c6a8e-1d2b-4c3d-9e4f-0a1b2c3d4e5f"):
            pg.goto(server + path)
            expect(pg.locator("main .card, main .line:not(.meta)").first).to_be_visible()
            assert pg.evaluate("document.documentElement.scrollWidth") <= 376
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "narrow.png"), full_page=False)
    finally:
        context.close()


def test_chat_page_without_a_key_says_how_to_enable(sample_server, page):
    server = sample_server
    page.goto(server + "/chat")
    expect(page.locator(".notice")).to_contain_text("Chat needs an Anthropic API key")
    expect(page.locator(".notice")).to_contain_text("ANTHROPIC_API_KEY")
    page.get_by_role("link", name="Timeline").click()
    expect(page.locator(".card").first).to_be_visible()


def test_chat_page_streams_answers_with_citations(corpus, monkeypatch, page):
    from fake_anthropic import FakeAnthropic

    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        url = start_daemon(corpus, monkeypatch)
        try:
            page.goto(url + "/chat")
            box = page.get_by_placeholder("How did I fix the flaky migration last month?")
            box.fill('How did I build the "lichess clone"?')
            box.press("Enter")
            expect(page.locator(".activity")).to_contain_text("searching sessions for “lichess clone”")
            answer = page.locator(".msg.assistant").last
            expect(answer).to_contain_text("You built it in this session. It started with a basic board.")
            expect(page).to_have_url(re.compile(r"/chat\?thread=\w+"))
            expect(page.locator(".threads li a")).to_have_text(['How did I build the "lichess clone"?'])
            page.reload()  # the thread is stored: it comes back whole
            expect(page.locator(".msg.user")).to_have_text(['How did I build the "lichess clone"?'])
            citation = page.get_by_role("link", name="this session")
            expect(citation).to_have_attribute("href", re.compile(r"^/s/019aad50-a7e6-7422-b7a8-0b384290624f#g1-\d+$"))
            citation.click()
            expect(page).to_have_url(re.compile(r"/s/019aad50-a7e6-7422-b7a8-0b384290624f#g1-\d+$"))
            expect(page.locator(".line.target")).to_contain_text("lichess")
            assert page.errors == [] and page.dialogs == []
        finally:
            zergd("stop")


def test_banner_shows_files_set_aside_and_deleted_sources_say_when(settings, monkeypatch, page):
    import os

    folder = settings.claude_dir / "projects" / "-tmp-edges"
    folder.mkdir()
    (folder / "gone-soon.jsonl").write_bytes(b'{"type":"user","message":{"role":"user","content":"ephemeral"}}\n')
    url = start_daemon(settings, monkeypatch)
    try:
        page.goto(url + "/")
        expect(page.locator("#status-banner")).to_be_hidden()
        os.mkfifo(folder / "<img src=x onerror=alert(1)>.jsonl")  # a hostile name too: shown as text
        expect(page.locator("#status-banner")).to_be_visible(timeout=10_000)
        expect(page.locator("#status-banner")).to_contain_text("1 file set aside")
        page.locator("#status-banner summary").click()
        expect(page.locator("#status-banner li")).to_contain_text("<img src=x onerror=alert(1)>.jsonl")
        expect(page.locator("#status-banner li")).to_contain_text("FIFO")
        (folder / "gone-soon.jsonl").unlink()
        wait_for(lambda: json.loads(zerg("sessions", "--deleted", "--json").stdout))
        page.goto(url + "/s/gone-soon")
        expect(page.locator(".session-head .badge.deleted")).to_contain_text("source deleted on")
        expect(page.locator(".session-head .badge.deleted")).to_contain_text(", kept here")
    finally:
        zergd("stop")


# --- on the project's own fixtures (any clone) ---------------------------------

SAMPLE = "5f0c6a8e-1d2b-4c3d-9e4f-0a1b2c3d4e5f"


def test_sample_list_search_and_message(sample_server, page):
    page.goto(sample_server + "/")
    expect(page.locator(".card", has_text="Login form validation")).to_be_visible()
    expect(page.locator(".card", has_text="Why does the quokka endpoint return 500?")).to_be_visible()
    page.keyboard.press("/")
    page.keyboard.type("walrus test")
    page.keyboard.press("Enter")
    first = page.locator("a.hit").first
    expect(first.locator("mark").first).to_have_text(re.compile("walrus", re.I))
    first.click()
    expect(page.locator(".line.target")).to_contain_text("walrus")
    assert page.errors == []


def test_sample_session_view(sample_server, page):
    page.goto(sample_server + f"/s/{SAMPLE}?meta=1")
    expect(page.locator("h1")).to_have_text("Login form validation")
    expect(page.get_by_role("link", name="Download JSONL")).to_have_attribute("href", f"/api/sessions/{SAMPLE}/export")
    thinking = page.locator("details.thinking").first
    expect(thinking).not_to_have_attribute("open", "")
    expect(page.locator(".compaction").first).to_be_visible()
    img = page.locator("img.shot").first
    expect(img).to_be_visible()
    assert img.get_attribute("src").startswith("data:image/png;base64,")
    task = page.locator("details.tool", has_text="Find validation helpers").first
    task.locator("summary").click()
    task.locator("a.subagent-link").click()
    expect(page.locator("h1")).to_have_text("Find validation helpers")
    expect(page.locator(".session-head .badge")).to_contain_text("subagent · Explore")
    assert page.errors == []


def test_sample_live_append(sample_server, page, sample):
    path = sample.claude_dir / "projects" / "-home-dev-webapp" / f"{SAMPLE}.jsonl"
    page.goto(sample_server + f"/s/{SAMPLE}")
    expect(page.locator(".line:not(.meta)").first).to_be_visible()
    expect(page.locator("#live-dot.on")).to_be_attached()
    with open(path, "ab") as f:
        f.write(b'{"type":"user","uuid":"live-1","timestamp":"2026-11-22T10:00:00Z","message":{"role":"user","content":"a wild narwhal appears live"}}\n')
    expect(page.get_by_text("a wild narwhal appears live")).to_be_visible(timeout=10_000)


def test_sample_provider_filter(sample_server, page):
    page.goto(sample_server + "/")
    expect(page.locator(".card", has_text="Login form validation")).to_be_visible()
    page.select_option("select[name=provider]", label="Codex")
    expect(page).to_have_url(re.compile(r"provider=codex"))
    expect(page.locator(".card", has_text="Login form validation")).to_have_count(0)
    expect(page.locator(".card").first).to_be_visible()
    page.select_option("select[name=provider]", label="Claude Code")
    expect(page.locator(".card", has_text="Login form validation")).to_be_visible()
    assert page.errors == []
