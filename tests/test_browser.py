"""The Timeline in a real browser: Playwright driving Debian's Chromium
against the real daemon.  Screenshots go to tests/artifacts/."""

import json
import re
from contextlib import contextmanager
import urllib.request
from pathlib import Path

import pytest
from conftest import CORPUS, agent  # noqa: F401
from playwright.sync_api import Error as PlaywrightError
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
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    except PlaywrightError:  # a page too tall to capture whole (the 5,000-line session)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


def start_daemon(settings, monkeypatch):
    monkeypatch.setenv("ZERG_RESCAN_INTERVAL", "1")
    port = free_port()
    zergd("start", "--port", str(port), check=True)
    wait_for(lambda: json.loads(zergd("status", "--json").stdout).get("state") == "watching")
    return f"http://127.0.0.1:{port}"


@contextmanager
def serving(settings, monkeypatch):
    """The daemon on ``settings`` for the length of a ``with``: its URL."""
    url = start_daemon(settings, monkeypatch)
    try:
        yield url
    finally:
        zergd("stop")


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
    expect(target).to_have_attribute("aria-current", "true")
    expect(target.locator("mark").first).to_have_text(re.compile("^lichess$", re.I))


def test_session_view(server, page):
    page.goto(server + "/s/cb2e607c-c758-415a-8b45-c49e4631906a")
    expect(page.locator("h1")).to_contain_text("How can I make this possible to install as a library")
    base = "/api/sessions/cb2e607c-c758-415a-8b45-c49e4631906a/export"
    expect(page.get_by_role("link", name="Download JSONL")).to_have_attribute("href", base)
    expect(page.get_by_role("link", name="Markdown")).to_have_attribute("href", base + "?format=md")
    expect(page.get_by_role("link", name="HTML")).to_have_attribute("href", base + "?format=html")
    stray = "[...document.querySelector('main').childNodes].filter(n => n.nodeType === 3 && n.textContent.trim()).length"
    assert page.evaluate(stray) == 0
    # One element per turn, not per line: 348 lines, a handful of turns on the first page.
    expect(page.locator(".turn").first).to_be_visible()
    assert page.locator(".turn").count() < page.locator(".ln, .tool-result").count() / 3
    # A call and its result share one element.
    calls = page.locator(".tool[data-tool-use-id]:not(.orphan)")
    assert calls.count() > 5
    assert page.locator(".tool[data-tool-use-id]:not(.orphan):not(:has(.tool-result))").count() <= 1  # the last may still wait
    thinking = page.locator("details.thinking").first
    expect(thinking).not_to_have_attribute("open", "")
    thinking.locator("summary").click()
    expect(thinking.locator(".md")).to_be_visible()
    # The Task call links to the subagent it started, in plain sight.
    task = page.locator(".tool[data-tool=Task]").first
    expect(task).to_contain_text("Explore project structure for packaging")
    link = task.locator("a.subagent-link")
    expect(link).to_be_visible()
    # ... and can show it inline.
    task.locator("details.subagent-inline summary").click()
    expect(task.locator(".transcript.inline .turn").first).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(f"/s/{agent('agent-ea02459f')}$"))
    expect(page.get_by_role("link", name="↑ parent session")).to_be_visible()
    # 2.1.2+ layout: the sidecar's description ties the Agent call to its transcript.
    page.goto(server + "/s/ef958aa1-0e93-49f0-bb71-150f63befcd1")
    call = page.locator(".tool[data-tool=Agent]", has_text="Research Claude Code plan mode").first
    expect(call.locator("a.subagent-link")).to_have_attribute("href", f"/s/{agent('agent-a4ca7529859c158c2')}")
    call.locator("a.subagent-link").click()
    expect(page.locator("h1")).to_have_text("Research Claude Code plan mode")
    expect(page.locator(".session-head .badge")).to_contain_text("subagent · general-purpose")
    assert page.errors == []


def test_branches_show_the_latest_path_and_open_the_others(server, page):
    page.goto(server + "/s/03eb5929-52b3-4b13-ada3-b93ae35806b8")
    fork = page.locator(".divider.fork")
    expect(fork).to_contain_text("showing branch 2 of 2, the latest")
    newer, older = "I actually don't like much this idea", "I very much like this idea, and I used it already"
    expect(page.locator(".turn-user", has_text=newer)).to_be_visible()
    expect(page.locator(".turn-user", has_text=older)).to_have_count(0)
    fork.get_by_role("link", name=re.compile("Open branch 1")).click()
    expect(page).to_have_url(re.compile(r"branch=\d+"))
    expect(page.locator(".turn-user", has_text=older)).to_be_visible()
    expect(page.locator(".turn-user", has_text=newer)).to_have_count(0)
    expect(page.locator(".divider.fork")).to_contain_text("showing branch 1 of 2")
    page.go_back()
    expect(page.locator(".turn-user", has_text=newer)).to_be_visible()
    # Where the bash input re-parents to an earlier line, nothing is a fork.
    page.goto(server + "/s/71c9afe9-d9cc-4583-86b3-e62ba682b83a")
    expect(page.locator(".turn").first).to_be_visible()
    expect(page.locator(".divider.fork")).to_have_count(0)
    expect(page.locator(".turn-user", has_text="Please have a look at this patch diff")).to_be_visible()
    assert page.errors == []


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
    path = corpus.agent_dir("claude") / "projects/-Users-nicksol-Desktop-agentic-wallet" / f"{sid}.jsonl"
    page.goto(server + f"/s/{sid}")
    expect(page.locator(".turn").first).to_be_visible()
    expect(page.locator("#live-dot.on")).to_be_attached()
    with open(path, "ab") as f:
        f.write(b'{"type":"user","uuid":"live-1","timestamp":"2026-11-22T10:00:00Z","message":{"role":"user","content":"a wild quokka appears live"}}\n')
    expect(page.get_by_text("a wild quokka appears live")).to_be_visible(timeout=10_000)
    # A brand-new session shows up on the list without a reload, too.
    page.goto(server + "/")
    expect(page.locator(".card").first).to_be_visible()
    expect(page.locator("#live-dot.on")).to_be_attached()
    new = corpus.agent_dir("claude") / "projects" / "-tmp-fresh" / "fresh-session.jsonl"
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
        {"type": "tool_use", "id": "t2", "name": "WebFetch", "input": {"url": "javascript:window.__pwned=1;alert('fetch')", "prompt": "<img src=x onerror=alert(5)>"}},
        {"type": "tool_use", "id": "t3", "name": "Edit", "input": {"file_path": "<img src=x onerror=alert(6)>.js", "old_string": "<script>alert(7)</script>", "new_string": "<b onclick=alert(8)>x</b>"}},
        {"type": "tool_use", "id": "t4", "name": "TodoWrite", "input": {"todos": [{"content": "<img src=x onerror=alert(9)>", "status": "<script>"}]}},
        {"type": "tool_use", "id": "t5", "name": "Task", "input": {"description": "<img src=x onerror=alert(10)>", "prompt": "[x](javascript:alert(11))", "subagent_type": "<svg onload=alert(12)>"}},
        {"type": "tool_use", "id": "t6", "name": "Write", "input": {"file_path": "x.html", "content": "<script>alert(13)</script>"}},
        {"type": "tool_use", "id": "t7", "name": "<script>alert(14)</script>", "input": {"<img src=x onerror=alert(15)>": "<iframe src=javascript:alert(16)>"}},
    ]}},
    {"type": "user", "uuid": "h3", "timestamp": "2026-11-01T10:00:02Z", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": "<svg onload=alert('svg')></svg><style>body{display:none}</style>"}]}},
    {"type": "summary", "summary": "<script>alert('summary')</script>"},
    {"type": "<script>alert('type')</script>", "uuid": "h4"},
]


def test_hostile_transcript_renders_inert(sample, monkeypatch, page):
    path = sample.agent_dir("claude") / "projects" / "-tmp-evil" / "evil-session.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in HOSTILE) + b"<script>alert('raw')</script>\n")
    url = start_daemon(sample, monkeypatch)
    try:
        for target in (url + "/s/evil-session?meta=1", url + "/s/evil-session?q=script#g1-0", url + "/?q=pwned", url + "/?q=script", url + "/"):
            page.goto(target)
            page.wait_for_load_state("networkidle")
            for summary in page.locator("details > summary").all():
                summary.click()
            for button in page.locator("button.expand").all():
                button.click()
            page.wait_for_timeout(200)
            assert page.dialogs == [], (target, page.dialogs)
            assert page.evaluate("window.__pwned") is None
            assert page.evaluate("document.querySelectorAll('main script, main iframe, main svg, main style').length") == 0
            assert page.evaluate("[...document.querySelectorAll('main *')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length") == 0
            assert page.evaluate("[...document.querySelectorAll('main a')].filter(a => !/^(https?:|mailto:|\\/|#)/.test(a.getAttribute('href') || '/')).length") == 0
            assert page.evaluate("[...document.querySelectorAll('main img')].filter(i => !i.src.startsWith('data:image/png') && !i.src.startsWith('data:image/jpeg')).length") == 0
        # The HTML export: the same content, escaped, under a CSP that runs nothing.
        with urllib.request.urlopen(url + "/api/sessions/evil-session/export?format=html") as resp:
            exported = resp.read().decode()
        assert "Content-Security-Policy" in exported
        page.set_content(exported)
        for summary in page.locator("details > summary").all():
            summary.click()
        page.wait_for_timeout(200)
        assert page.dialogs == [] and page.evaluate("window.__pwned") is None
        assert page.evaluate("document.querySelectorAll('script, iframe, svg, object, embed').length") == 0
        assert page.evaluate("[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length") == 0
        assert page.evaluate("document.querySelectorAll('a[href]').length") == 0
        expect(page.locator("body")).to_contain_text("<script>window.__pwned=1;alert('script')</script> hello")
        page.goto(url + "/s/evil-session")
        expect(page.locator("main")).to_contain_text("<script>window.__pwned=1;alert('script')</script> hello")
        expect(page.locator("main")).to_contain_text("Click [here](javascript:window.__pwned=1;alert('link'))")
        assert page.errors == []
    finally:
        zergd("stop")


def test_empty_state_says_what_is_watched(empty_server, page, settings):
    page.goto(empty_server + "/")
    expect(page.get_by_text("No sessions yet")).to_be_visible()
    expect(page.locator(".empty")).to_contain_text(str(settings.agent_dir("claude") / "projects"))
    expect(page.locator(".empty")).to_contain_text("CLAUDE_CONFIG_DIR")


def test_narrow_screen(sample_server, browser):
    server = sample_server
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    try:
        pg.goto(server + "/")
        expect(pg.locator("main .card").first).to_be_visible()
        # The filters fold behind one button.
        expect(pg.locator("select[name=project]")).to_be_hidden()
        pg.get_by_role("button", name="Filters").click()
        expect(pg.locator("select[name=project]")).to_be_visible()
        assert pg.evaluate("document.documentElement.scrollWidth") <= 391
        for sid in (SAMPLE, TOOLS):
            pg.goto(server + f"/s/{sid}")
            expect(pg.locator(".turn").first).to_be_visible()
            assert pg.evaluate("document.documentElement.scrollWidth") <= 391
            # The content uses the width: turns span nearly all of it.
            assert pg.evaluate("document.querySelector('.turn').getBoundingClientRect().width") > 360
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "session-390.png"), full_page=False)
        pg.screenshot(path=str(ARTIFACTS / "session-390-full.png"), full_page=True)
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
            expect(page.locator(".target")).to_contain_text("lichess")
            assert page.errors == [] and page.dialogs == []
        finally:
            zergd("stop")


def test_banner_shows_files_set_aside_and_deleted_sources_say_when(settings, monkeypatch, page):
    import os

    folder = settings.agent_dir("claude") / "projects" / "-tmp-edges"
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
TOOLS = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


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
    expect(page).to_have_url(re.compile(r"\?q=walrus(\+|%20)test#g1-\d+$"))
    current = page.locator("[aria-current=true]")
    expect(current).to_have_count(1)
    expect(current).to_have_class(re.compile("target"))
    expect(current.locator("mark").first).to_have_text(re.compile("^walrus$", re.I))
    # n and N step through this session's hits.
    counter = page.locator(".hit-nav")
    expect(counter).to_contain_text(re.compile(r"\d of 3 hits"))
    k = int(re.search(r"(\d) of 3", counter.inner_text()).group(1))
    first_id = current.get_attribute("id")
    page.keyboard.press("n")
    expect(counter).to_contain_text(f"{k % 3 + 1} of 3 hits")
    expect(page.locator("[aria-current=true]")).not_to_have_attribute("id", first_id)
    expect(page.locator("[aria-current=true] mark").first).to_be_visible()
    page.keyboard.press("N")
    expect(page.locator("[aria-current=true]")).to_have_attribute("id", first_id)
    assert page.errors == []


def test_search_marks_accents_and_emoji_folded(sample_server, page):
    page.goto(sample_server + "/?q=cafe")
    hit = page.locator("a.hit").first
    expect(hit).to_contain_text("café")
    hit.click()
    expect(page.locator("[aria-current=true] mark").first).to_have_text("café")
    page.goto(sample_server + "/?q=%F0%9F%A6%AB")  # 🦫
    expect(page.locator("a.hit").first).to_contain_text("Tour the tools")


def test_sample_session_view(sample_server, page):
    page.goto(sample_server + f"/s/{SAMPLE}")
    expect(page.locator("h1")).to_have_text("Login form validation")
    expect(page.get_by_role("link", name="Download JSONL")).to_have_attribute("href", f"/api/sessions/{SAMPLE}/export")
    head = page.locator(".session-head")
    expect(head).to_contain_text("/home/dev/webapp")
    expect(head).to_contain_text("feature/login")
    expect(head.locator(".token-total")).to_contain_text("tokens")
    expect(head.locator(".cost")).to_contain_text(re.compile(r"≈ \$\d+\.\d\d"))
    expect(head.locator(".source-path")).to_contain_text(f"-home-dev-webapp/{SAMPLE}.jsonl")
    expect(head.get_by_role("button", name="Copy resume command")).to_have_attribute(
        "data-command", f"cd /home/dev/webapp && claude --resume {SAMPLE}")
    # The Bash call and its output in one element.
    bash = page.locator('[data-tool-use-id="toolu_bash1"]')
    expect(bash.locator(".tool-name")).to_have_text("Bash")
    expect(bash.locator("pre.command")).to_have_text("$ npm test -- login")
    expect(bash.locator(".tool-result")).to_contain_text("expected pelican error")
    # An edit is a diff; its failure is marked as an error.
    edit = page.locator('[data-tool-use-id="toolu_edit1"]')
    expect(edit.locator(".dl.del")).to_contain_text("if (!email) return")
    expect(edit.locator(".dl.add")).to_contain_text("setError('pelican')")
    expect(edit.locator(".tool-result.error")).to_contain_text("String to replace not found")
    # TodoWrite is a checklist.
    todo = page.locator('[data-tool-use-id="toolu_todo1"]')
    expect(todo.locator("li[data-status=in_progress]")).to_contain_text("Write walrus test")
    expect(todo.locator("li[data-status=pending]")).to_contain_text("Run suite")
    # The model is said once; tokens sit quietly under each call.
    expect(page.locator(".context-change .model")).to_have_count(1)
    expect(page.locator(".tokens").first).to_contain_text("cache read")
    thinking = page.locator("details.thinking").first
    expect(thinking).not_to_have_attribute("open", "")
    expect(page.locator(".divider.compaction").first).to_be_visible()
    expect(page.locator("img.shot").first).to_be_visible()
    assert page.locator("img.shot").first.get_attribute("src").startswith("data:image/png;base64,")
    # Bookkeeping is hidden, an unknown type is shown raw, a malformed line as text.
    expect(page.locator(".ln.meta").first).to_be_hidden()
    expect(page.locator(".ln.unknown")).to_contain_text("hologram-sync line")
    expect(page.locator(".ln.raw-line")).to_contain_text("this line is not JSON")
    page.get_by_role("link", name="Show bookkeeping").click()
    expect(page).to_have_url(re.compile(r"meta=1"))
    meta = page.locator(".ln.meta")
    expect(meta.first).to_be_visible()
    expect(page.locator(".ln.meta", has_text="queue: enqueue")).to_be_visible()
    expect(page.locator(".ln.meta", has_text="turn took 21.0 s")).to_be_visible()
    expect(page.locator(".ln.meta", has_text="stop hooks")).to_be_visible()
    # The subagent: a visible link from the Task call (found by its agentId).
    task = page.locator('[data-tool-use-id="toolu_task1"]')
    expect(task).to_contain_text("Find validation helpers")
    task.locator("a.subagent-link").click()
    expect(page.locator("h1")).to_have_text("Find validation helpers")
    expect(page.locator(".session-head .badge")).to_contain_text("subagent · Explore")
    assert page.errors == []


def test_exports_and_resume_command_from_the_header(sample_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=sample_server)
    page = context.new_page()
    try:
        page.goto(sample_server + f"/s/{SAMPLE}")
        expect(page.locator(".divider.summary")).to_contain_text("Login form validation and tests")
        for name, start in (("Markdown", b"# Login form validation\n"), ("HTML", b"<!doctype html>"),
                            ("Download JSONL", b'{"type":"summary"')):
            with page.expect_download() as info:
                page.get_by_role("link", name=name).click()
            assert Path(info.value.path()).read_bytes().startswith(start), name
        page.get_by_role("button", name="Copy resume command").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == f"cd /home/dev/webapp && claude --resume {SAMPLE}"
    finally:
        context.close()


def test_unterminated_line_and_archived_rollout_in_the_timeline(sample_server, page, sample):
    path = sample.agent_dir("claude") / "projects" / "-home-dev-webapp" / f"{SAMPLE}.jsonl"
    with open(path, "ab") as f:  # Claude Code sometimes ends a file without the newline
        f.write(b'{"type":"user","uuid":"q-1","timestamp":"2026-11-22T10:00:00Z","message":{"role":"user","content":"the quiet manatee"}}')
    page.goto(sample_server + "/?q=manatee")
    for _ in range(30):  # searchable once the file has been quiet a few seconds
        if page.locator("a.hit").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("a.hit").first).to_contain_text("the quiet manatee")
    # Codex archives a rollout by moving it: still one session, not "deleted".
    [rollout] = (sample.agent_dir("codex") / "sessions").rglob("rollout-*.jsonl")
    (sample.agent_dir("codex") / "archived_sessions").mkdir()
    rollout.rename(sample.agent_dir("codex") / "archived_sessions" / rollout.name)
    page.goto(sample_server + "/?provider=codex")
    card = page.locator(".card", has_text="Why does the quokka endpoint return 500?")
    page.wait_for_timeout(3000)
    page.reload()
    expect(card).to_have_count(1)
    expect(card.locator(".badge.deleted")).to_have_count(0)


def test_tool_renderers_and_rare_lines(sample_server, page):
    page.goto(sample_server + f"/s/{TOOLS}")
    expect(page.locator(".turn-user").first).to_contain_text("/review the parser")
    write = page.locator('[data-tool-use-id="tu_write"]')
    expect(write.locator(".path")).to_have_text("/home/dev/tools/app.py")
    expect(write.locator(".tok-keyword").first).to_have_text("def")  # highlighted as Python
    read = page.locator('[data-tool-use-id="tu_read"]')
    expect(read.locator(".tool-result")).to_contain_text("return 'ocelot'")
    expect(read.locator(".tool-result")).not_to_contain_text("1→")
    expect(page.locator('[data-tool-use-id="tu_multi"] .dl.add')).to_contain_text("margay")
    fetch = page.locator('[data-tool-use-id="tu_fetch"]')
    expect(fetch.get_by_role("link", name="https://example.org/docs")).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(page.locator('[data-tool-use-id="tu_search"]')).to_contain_text("“margay habitat”")
    mcp = page.locator('[data-tool-use-id="tu_mcp"]')
    expect(mcp.locator("dl.kv dt")).to_have_text(["title", "labels", "priority"])
    expect(mcp.locator(".tool-result")).to_contain_text("Created issue #42")
    # Long output: 12 lines, then a button for all 40.
    build = page.locator('[data-tool-use-id="tu_build"]')
    expect(build.locator(".tool-result pre")).not_to_contain_text("line 40 of the build log")
    build.get_by_role("button", name="Show all 40 lines").click()
    expect(build.locator(".tool-result pre")).to_contain_text("line 40 of the build log")
    # Bash mode: the command and its output.
    expect(page.locator(".turn-user pre.command", has_text="! git status")).to_be_visible()
    expect(page.get_by_text("nothing to commit")).to_be_visible()
    # Bookkeeping said in words once shown.
    page.goto(sample_server + f"/s/{TOOLS}?meta=1")
    expect(page.locator(".ln.meta", has_text="API error 529")).to_be_visible()
    expect(page.locator(".ln.meta", has_text="micro-compaction · 12,000 tokens saved")).to_be_visible()
    expect(page.locator(".ln.meta", has_text="teleported from")).to_be_attached()
    assert page.locator(".ln.unknown").count() == 0
    assert page.errors == []


def test_subagent_without_a_prompt_is_linked_by_its_agent_id(sample_server, page):
    page.goto(sample_server + f"/s/{TOOLS}")
    task = page.locator('[data-tool-use-id="tu_task"]')
    link = task.locator("a.subagent-link")
    expect(link).to_have_text("Open subagent transcript: Survey the wild cats")
    link.click()
    expect(page.get_by_text("Ocelot, margay and jaguarundi live in the Americas.")).to_be_visible()
    expect(page.get_by_role("link", name="↑ parent session")).to_have_attribute("href", f"/s/{TOOLS}")


def test_codex_rollout_before_the_envelope_reads_as_a_conversation(sample, monkeypatch, page):
    sid = "5973b6c0-94b8-487b-a530-2aeb6098ae0e"
    path = sample.agent_dir("codex") / "sessions" / "2025" / "05" / "07" / f"rollout-2025-05-07T17-24-21-{sid}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in [
        {"id": sid, "timestamp": "2025-05-07T17:24:21.123Z", "instructions": None, "git": {"branch": "main"}},
        {"record_type": "state"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  <cwd>/Users/x/dev/legacy</cwd>\n</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "why is the pangolin test flaky?"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Looking at timing"}]},
        {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"bash\",\"-lc\",\"pytest -k pangolin\"]}", "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "{\"output\":\"1 failed\"}"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It races the clock."}]},
    ]))
    url = start_daemon(sample, monkeypatch)
    try:
        page.goto(url + f"/s/{sid}")
        expect(page.locator(".turn-user")).to_have_count(1)
        expect(page.locator(".turn-user")).to_contain_text("why is the pangolin test flaky?")
        shell = page.locator('[data-tool-use-id="call_1"]')
        expect(shell.locator("pre.command")).to_have_text("$ pytest -k pangolin")
        expect(shell.locator(".tool-result")).to_contain_text("1 failed")
        expect(page.locator(".turn-assistant")).to_contain_text("It races the clock.")
        expect(page.locator("details.thinking")).not_to_have_attribute("open", "")
        expect(page.get_by_text("<environment_context>")).to_be_hidden()  # bookkeeping, shown on request
        assert page.errors == []
    finally:
        zergd("stop")


def test_usage_page(sample_server, browser):
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(sample_server + "/")
            page.get_by_role("link", name="Usage").click()
            expect(page).to_have_url(re.compile(r"/usage$"))
            expect(page.locator(".usage-totals")).to_be_visible()
            page.select_option("select[name=days]", "")  # all time: the fixtures are from May 2026
            expect(page).to_have_url(re.compile(r"days=$"))
            expect(page.locator(".figure", has_text="estimated cost")).to_contain_text(re.compile(r"\$\d+\.\d\d"))
            bars = page.locator("svg.usage-chart rect.series")
            expect(bars.first).to_be_attached()
            assert "claude-sonnet-4-5-20250929" in {b.get_attribute("data-model") for b in bars.all()}
            expect(page.locator(".usage-table", has_text="By model")).to_contain_text("gpt-5-codex")
            expect(page.locator(".usage-table.blocks tbody tr").first).to_be_visible()  # the 5-hour windows
            page.select_option("select[name=measure]", "tokens")
            expect(page.locator("svg.usage-chart")).to_have_attribute("aria-label", "tokens per day by model")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"usage-{scheme}.png"), full_page=True)
            page.locator(".usage-table", has_text="Sessions that cost most").locator("a").first.click()
            expect(page.locator(".session-head .cost")).to_contain_text("≈ $")
            assert errors == []
        finally:
            context.close()


def test_keyboard_turns_and_shortcuts(sample_server, page):
    page.goto(sample_server + f"/s/{TOOLS}")
    expect(page.locator(".turn").first).to_be_visible()
    page.keyboard.press("j")
    turns = page.locator(".turn")
    expect(turns.nth(0)).to_have_class(re.compile("focused"))
    page.keyboard.press("j")
    expect(turns.nth(1)).to_have_class(re.compile("focused"))
    expect(turns.nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(turns.nth(0)).to_have_class(re.compile("focused"))
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Keyboard shortcuts")
    expect(dialog).to_contain_text("next / previous turn")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()


def test_fork_in_the_fixture(sample_server, page):
    page.goto(sample_server + f"/s/{TOOLS}")
    expect(page.locator(".divider.fork")).to_contain_text("branch 2 of 2")
    expect(page.get_by_text("Renamed to jaguarundi.")).to_be_visible()
    expect(page.get_by_text("Renamed to serval.")).to_have_count(0)
    # A link to a line on the other branch opens that branch.
    hit = json.loads(zerg("search", "serval", "--json").stdout)
    line = next(h for h in hit if h["session_id"] == TOOLS and h["role"] == "assistant")
    page.goto(sample_server + f"/s/{TOOLS}#g{line['generation']}-{line['offset']}")
    expect(page.get_by_text("Renamed to serval.")).to_be_visible()
    expect(page.locator(".divider.fork")).to_contain_text("branch 1 of 2")


def test_errors_name_what_failed_and_retry(sample_server, page):
    page.goto(sample_server + "/s/no-such-session")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Could not load this session")
    expect(alert).to_contain_text("404")
    expect(alert).to_contain_text("no session 'no-such-session'")
    # A request that fails once: Retry loads the page.
    failed = []

    def flaky(route):
        if not failed:
            failed.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route(f"**/api/sessions/{SAMPLE}", flaky)
    page.goto(sample_server + f"/s/{SAMPLE}")
    expect(page.get_by_role("alert")).to_contain_text("zergd is not answering")
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("h1")).to_have_text("Login form validation")


def test_session_screenshots(sample_server, page):
    page.goto(sample_server + f"/s/{TOOLS}")
    expect(page.locator(".turn").first).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 900})
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "session-1280.png"), full_page=True)


def test_long_session_renders_lazily(sample, monkeypatch, page):
    path = sample.agent_dir("claude") / "projects" / "-tmp-long" / "long-session.jsonl"
    path.parent.mkdir()
    with open(path, "wb") as f:
        parent = None
        for i in range(2500):
            f.write(json.dumps({"type": "user", "uuid": f"u{i}", "parentUuid": parent, "timestamp": "2026-05-05T10:00:00Z",
                                "message": {"role": "user", "content": f"question {i} about the tapir"}}).encode() + b"\n")
            f.write(json.dumps({"type": "assistant", "uuid": f"a{i}", "parentUuid": f"u{i}", "timestamp": "2026-05-05T10:00:01Z",
                                "message": {"id": f"m{i}", "role": "assistant", "model": "claude-opus-4-6",
                                            "content": [{"type": "text", "text": f"answer {i}: **tapirs** are odd-toed"}]}}).encode() + b"\n")
            parent = f"a{i}"
    url = start_daemon(sample, monkeypatch)
    try:
        page.goto(url + "/s/long-session")
        expect(page.locator(".turn-user", has_text="question 0 about the tapir")).to_be_visible()
        assert page.locator(".turn").count() <= 300  # not all 5,000 lines at once
        for _ in range(120):  # scrolling loads the rest
            if page.get_by_text("answer 2499:").count():
                break
            page.keyboard.press("End")
            page.wait_for_timeout(100)
        assert page.locator(".turn").count() == 5000, page.locator(".turn").count()
        expect(page.get_by_text("answer 2499: tapirs are odd-toed")).to_be_attached()
        assert page.errors == []
    finally:
        zergd("stop")


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


def test_sessions_from_another_machine_live_and_filtered(sample_server, page, tmp_path):
    """A session another machine ships appears live in the open Timeline,
    under its machine's name; the Machine filter shows only that machine's."""
    from test_ship import Home

    page.goto(sample_server + "/")
    expect(page.locator(".card", has_text="Login form validation")).to_be_visible()
    expect(page.locator("select[name=machine]")).to_have_count(0)  # one machine: no filter, no names
    token = tmp_path / "token"
    token.write_text(zergd("token", "create", "laptop", check=True).stdout.strip())
    laptop = Home(tmp_path / "laptop", "laptop")
    project = laptop.root / "claude" / "projects" / "-home-me-garden"
    project.mkdir(parents=True)
    (project / "0e0e0e0e-1111-4222-8333-444444444444.jsonl").write_text(
        '{"type":"user","message":{"role":"user","content":"Plan the laptop-only tapir garden"},"uuid":"l1",'
        '"timestamp":"2026-11-30T10:00:00Z","cwd":"/home/me/garden","sessionId":"0e0e0e0e-1111-4222-8333-444444444444"}\n'
        '{"type":"assistant","message":{"id":"m1","role":"assistant","model":"claude-sonnet-4-5","content":'
        '[{"type":"text","text":"Here is the <script>alert(1)</script> plan."}]},"uuid":"l2","parentUuid":"l1",'
        '"timestamp":"2026-11-30T10:00:05Z"}\n')
    laptop.run("ship", "--to", sample_server, "--token-file", str(token), tool="zerg", check=True)
    card = page.locator(".card", has_text="laptop-only tapir garden")
    expect(card).to_be_visible(timeout=10_000)  # arrived over the live event stream

    page.reload()
    expect(page.locator(".card", has_text="laptop-only tapir garden").locator(".machine")).to_have_text("⌂ laptop")
    page.select_option("select[name=machine]", label="laptop")
    expect(page).to_have_url(re.compile(r"machine=laptop"))
    expect(page.locator(".card", has_text="Login form validation")).to_have_count(0)
    expect(page.locator(".card")).to_have_count(1)
    page.locator(".card").click()
    expect(page.locator(".session-head .machine")).to_have_text("⌂ laptop")
    expect(page.get_by_text("Here is the <script>alert(1)</script> plan.")).to_be_visible()
    assert page.dialogs == [] and page.errors == []


def test_a_deleted_transcript_offers_restore_then_resume(sample_server, page, sample):
    """Claude Code's cleanup deleted the file: the header's command restores
    it first; run, the session is present again and the command is plain."""
    source = sample.agent_dir("claude") / "projects" / "-home-dev-webapp" / f"{SAMPLE}.jsonl"
    source.unlink()
    page.goto(sample_server + f"/s/{SAMPLE}")
    for _ in range(40):  # the daemon notices within its rescan interval
        if page.locator(".session-head .badge.deleted").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    button = page.get_by_role("button", name="Copy restore & resume command")
    expect(button).to_have_attribute(
        "data-command", f"zerg restore {SAMPLE} && cd /home/dev/webapp && claude --resume {SAMPLE}")
    assert zerg("restore", SAMPLE).returncode == 0
    for _ in range(40):
        page.reload()
        if not page.locator(".session-head .badge.deleted").count():
            break
        page.wait_for_timeout(250)
    expect(page.get_by_role("button", name="Copy resume command")).to_have_attribute(
        "data-command", f"cd /home/dev/webapp && claude --resume {SAMPLE}")
    assert page.errors == []


def test_shipping_trouble_shows_in_the_banner(sample, page, tmp_path, monkeypatch):
    """Shipping to a zergd that does not answer: every page says so (and how
    much waits); once it answers, the banner goes by itself."""
    from test_ship import Home

    server = Home(tmp_path / "server", "server")
    token = tmp_path / "token"
    token.write_text(server.token())  # made before that daemon ever runs
    monkeypatch.setenv("ZERG_RESCAN_INTERVAL", "1")
    port = free_port()
    zergd("start", "--port", str(port), "--ship-to", server.url, "--token-file", str(token), check=True)
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        banner = page.locator("#status-banner")
        expect(banner).to_contain_text(f"Shipping to {server.url} is paused", timeout=15_000)
        expect(banner).to_contain_text("not shipped yet")
        server.start()
        expect(banner).to_be_hidden(timeout=30_000)  # a status.changed event, no reload
        assert page.errors == []
    finally:
        zergd("stop")
        server.stop()
