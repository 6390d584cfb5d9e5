"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a live
server on a free localhost port. Every request leaving 127.0.0.1 is recorded and aborted, and
the test fails if there is any, as it does on any page error or Content-Security-Policy report
(so waits are functions: the policy refuses the `eval` a string expression would need).
Screenshots go to ``tests/web/artifacts/``."""

from __future__ import annotations

from pathlib import Path

from dashboard_helpers import REAL_NAME, RUN_NAME, SHARED_DATA, open_page

ARTIFACTS = Path(__file__).parent / "artifacts"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ready(page) -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


def test_new_run_replay_and_stress(page_on):
    page, url = page_on, page_on.server.url
    page.goto(url + "/")
    ready(page)
    assert page.locator(f"#runs tr[data-run='{RUN_NAME}']").count() == 1
    # start a small flash-crash run from the page: the shock is one hour in
    page.select_option("#preset", "flash-crash")
    page.fill("#hours", "1.1")
    page.fill("#accounts", "300")
    page.fill("#seed", "5")
    page.click("#start")
    page.wait_for_selector("#open-run:not([hidden])", timeout=90_000)
    assert page.locator("#run-error").inner_text() == ""
    assert page.locator("#runs tbody tr").count() == 2
    shot(page, "runs")
    page.click("#open-run")
    ready(page)
    assert page.locator("#error").inner_text() == ""
    assert "flash-crash" in page.locator("#title").inner_text()
    chart = page.locator("#chart")
    assert chart.get_attribute("data-frame") == "0"
    bars = int(page.locator("#slider").get_attribute("max")) + 1
    assert bars >= 60  # 1.1 h of 1-minute bars
    page.click("#play")
    page.wait_for_function("() => Number(document.getElementById('chart').dataset.frame) > 10")
    page.click("#pause")
    frame = int(chart.get_attribute("data-frame"))
    assert int(page.locator("#slider").input_value()) == frame > 10
    plotted = page.evaluate("document.getElementById('chart').data[0].x.length")
    assert plotted == frame + 1  # the price trace has grown with the replay
    page.wait_for_timeout(300)
    assert int(chart.get_attribute("data-frame")) == frame  # paused means paused
    page.locator("#slider").fill(str(bars - 1))
    page.wait_for_function(f"() => document.getElementById('chart').dataset.frame === '{bars - 1}'")
    assert "$" in page.locator("#now").inner_text()
    shot(page, "run")
    # stress: the map of this run's start state and a shock slider
    page.click("#stress-link")
    ready(page)
    page.wait_for_selector("#shock[data-shown]")
    page.select_option("#depth", "5")  # a deep book: the cascade stops short of the bound
    page.locator("#shock").fill("-1")
    page.wait_for_function("() => document.getElementById('shock').dataset.shown === '-0.01'")
    before = {k: page.locator(k).inner_text() for k in ("#final-price", "#long-liq")}
    assert before["#final-price"].startswith("$")
    page.locator("#shock").fill("-20")
    page.wait_for_function("() => document.getElementById('shock').dataset.shown === '-0.2'")
    after = {k: page.locator(k).inner_text() for k in ("#final-price", "#long-liq")}
    assert after["#final-price"] != before["#final-price"]
    assert after["#long-liq"] != before["#long-liq"]
    page.locator("#shock").fill("10")
    page.wait_for_function("() => document.getElementById('shock').dataset.shown === '0.1'")
    assert page.locator("#long-liq").inner_text() == "$0"
    assert page.locator("#short-liq").inner_text() != "$0"
    shot(page, "stress")
    assert page.external == [], page.external
    assert page.errors == [], page.errors


def test_monitor_and_themes_offline(page_on):
    page, url = page_on, page_on.server.url
    page.goto(url + "/monitor")
    ready(page)
    if (SHARED_DATA / REAL_NAME).is_file():
        assert page.locator("#error").inner_text() == ""
        assert "market stress report" in page.locator("#report-title").inner_text()
        assert page.locator("#t-headline tr").count() > 3
        assert page.evaluate("document.getElementById('chart').data.length") == 5
    shot(page, "monitor")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.click("#theme")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(246, 247, 249)"
    page.goto(url + "/")  # the theme is remembered
    ready(page)
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    shot(page, "runs-light")
    assert page.external == [], page.external
    assert page.errors == [], page.errors


def test_external_requests_are_caught(page_on, browser):
    """The offline check itself works: a page that asks for a CDN is refused by the server's
    Content-Security-Policy before anything leaves, and without the policy the request is
    recorded (and aborted)."""
    cdn = "https://cdn.plot.ly/plotly-2.0.0.min.js"
    page = page_on
    page.goto(page.server.url + "/")
    ready(page)
    page.evaluate(f"fetch('{cdn}').catch(() => null)")
    page.wait_for_timeout(300)
    assert page.external == []
    assert [e for e in page.errors if "connect-src" in e and cdn in e], page.errors
    bare = open_page(browser, page.server, bypass_csp=True)
    bare.goto(page.server.url + "/")
    ready(bare)
    bare.evaluate(f"fetch('{cdn}').catch(() => null)")
    bare.wait_for_timeout(300)
    assert bare.external == [cdn]
    bare.context.close()
