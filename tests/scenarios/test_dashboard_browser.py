"""The dashboard in a real browser: Debian's Chromium driven by Playwright (scenarios/dashboard_app.py).

Starts ``python -m scenarios.dashboard`` on a free loopback port, loads the
page, switches the government to the Pigouvian tax, resets, presses Step five
times and checks that the step counter, the summary and the charts follow,
then plays a few years and pauses;
it times each click until the counter and the charts have updated, checks
that every request stayed on the local server (no CDN: the page must work
offline), and saves a screenshot and the timings into the test's tmp_path.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the Python
``playwright`` package; no browser is ever downloaded (no ``playwright install``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scenarios.dashboard import SERVER_ENV, THREADS_ENV

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # the dashboard extra is not installed
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
STEPS = 5

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.skipif(sync_playwright is None, reason="needs the playwright Python package (the dashboard extra)"),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard server exited with code {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the dashboard server did not answer within {timeout:.0f} s:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path):
    """``python -m scenarios.dashboard`` on a free loopback port; yields its URL; stops it (and solara) after."""
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, **SERVER_ENV, THREADS_ENV: "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "scenarios.dashboard", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        # its own session, so that the server and the solara process it starts stop together
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url + "/", proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


# In-page timing: the moment of the click and of each update of the step counter and of the charts,
# on the page's own clock (performance.now()), free of Playwright's round trips.
_RECORD_UPDATES = """() => {
  window.__updates = [];
  const now = () => performance.now();
  document.addEventListener('click', () => window.__updates.push(['click', now()]), true);
  new MutationObserver(muts => {
    for (const m of muts) {
      if (m.type === 'attributes' && m.target.tagName === 'IMG') {
        const i = Array.prototype.indexOf.call(document.querySelectorAll('img'), m.target);
        window.__updates.push(['img' + i, now()]);
      } else if ((m.target.textContent || '').startsWith('Step:')) {
        window.__updates.push(['counter', now()]);
      }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributeFilter: ['src']});
}"""
# every time series (panels 1-5) has a new image and the counter shows the step
_UPDATED = """([step, old]) => {
  const s = Array.from(document.querySelectorAll('img')).map(e => e.src);
  const counter = Array.from(document.querySelectorAll('div, span')).some(d => d.textContent === 'Step: ' + step);
  return counter && s.length === old.length && [1, 2, 3, 4, 5].every(j => s[j] !== old[j]);
}"""


_COUNTER = "[...document.querySelectorAll('span')].find(s => s.textContent.startsWith('Step: '))"
_COUNTER_AT_LEAST = f"least => {{ const c = {_COUNTER}; return !!c && parseInt(c.textContent.slice(6)) >= least; }}"
_COUNTER_MATCHES_SUMMARY = f"""() => {{
  const c = {_COUNTER};
  const year = [...document.querySelectorAll('p')].find(p => p.textContent.startsWith('Year '));
  return !!c && !!year && year.textContent.startsWith('Year ' + c.textContent.slice(6) + ' of');
}}"""


def _chart_sources(page) -> list[str]:
    return page.locator("img").evaluate_all("els => els.map(e => e.src)")


def _in_page_latency(events: list) -> float:
    """Seconds from the click to the last of: the counter's update and the time-series charts' updates."""
    click = max(t for kind, t in events if kind == "click")
    done = [t for kind, t in events if t >= click and kind in ("counter", "img1", "img2", "img3", "img4", "img5")]
    return (max(done) - click) / 1000.0


def test_dashboard_steps_and_charts_update(server, tmp_path):
    requests: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(30_000)
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
            page.on("response", lambda r: failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            started = time.perf_counter()
            page.goto(server + "/")
            page.get_by_text("Step: 0").wait_for(timeout=60_000)
            page.get_by_text("Year 0 of 20").wait_for()
            load_s = time.perf_counter() - started

            # change a parameter (the government), then Reset applies it
            page.locator(".v-select").filter(has_text="Government").click()
            page.locator(".v-menu__content .v-list-item", has_text="pigouvian").first.click()
            page.get_by_role("button", name="Reset").click()
            page.get_by_text("Pigouvian carbon tax (the SCC per tonne)").wait_for()
            page.locator("img").nth(6).wait_for()  # seven charts drawn
            charts = page.locator("img")
            n_charts = charts.count()
            assert n_charts == 7
            shares_chart = charts.nth(1)  # panels in order: types, shares, policy, welfare, cost, beliefs, grid
            first_pixels = shares_chart.screenshot()

            page.evaluate(_RECORD_UPDATES)
            step_button = page.get_by_role("button", name="Step")
            latencies, observed = [], []
            for i in range(1, STEPS + 1):
                before = _chart_sources(page)
                t0 = time.perf_counter()
                step_button.click()
                page.wait_for_function(_UPDATED, arg=[i, before])
                observed.append(time.perf_counter() - t0)
                latencies.append(_in_page_latency(page.evaluate("window.__updates.splice(0)")))

            assert page.get_by_text(f"Step: {STEPS}", exact=True).is_visible()
            page.get_by_text(f"Year {STEPS} of 20").wait_for()
            summary = page.locator("p", has_text=f"Year {STEPS} of 20").locator("xpath=..").inner_text()
            assert "Carbon tax $2" in summary  # the Pigouvian carbon tax, $/tCO2: the parameter took effect
            assert page.title() == "Green tax dashboard"
            assert page.get_by_text("Page 0", exact=False).count() == 0  # no tab of one page
            thumbs = page.locator(".v-slider__thumb-label").all_inner_texts()
            assert len(thumbs) >= 8 and all(t.strip() for t in thumbs)  # every slider shows its value
            assert shares_chart.screenshot() != first_pixels  # the chart's pixels changed

            # Play runs the steps in a worker thread until paused
            page.get_by_role("button", name="▶").click()
            page.wait_for_function(_COUNTER_AT_LEAST, arg=STEPS + 3, timeout=30_000)  # redraws may skip a step
            page.get_by_role("button", name="❚❚").click()
            page.get_by_role("button", name="▶").wait_for()
            page.wait_for_function(_COUNTER_MATCHES_SUMMARY)  # the last step before the pause is drawn
            played = int(page.locator("span", has_text="Step: ").inner_text().split(":")[1])
            assert played >= STEPS + 3
            assert page.get_by_text("error in").count() == 0  # Mesa shows step errors on the page
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    local = (server + "/", server.replace("http", "ws", 1) + "/", "blob:" + server + "/", "data:")
    outside = [u for u in requests if not u.startswith(local)]
    assert not outside, f"the page fetched from outside the local server (no CDN allowed): {outside}"
    assert not failed, f"failed requests: {failed}"
    assert not errors, f"errors in the page: {errors}"
    assert shot.stat().st_size > 10_000
    timings = {
        "page_load_s": load_s,
        "click_to_update_s": latencies,
        "median_click_to_update_s": sorted(latencies)[len(latencies) // 2],
        "click_to_update_seen_by_playwright_s": observed,
        "steps_after_play": played,
        "households": 10_000,
        "screenshot": str(shot),
    }
    (tmp_path / "timings.json").write_text(json.dumps(timings, indent=2))
    print(
        f"dashboard: page load {load_s:.2f} s; Playwright saw updates after "
        + ", ".join(f"{x * 1e3:.0f}" for x in observed)
        + " ms; Step click -> counter and charts updated (page clock): "
        + ", ".join(f"{x * 1e3:.0f} ms" for x in latencies)
        + f"; screenshot {shot}"
    )
    assert max(latencies) < 10.0
