"""The HTML report in a real headless browser (issue 14 item 10): Debian's chromium driven by
selenium through chromedriver (`make browser` installs both). The page is one self-contained file,
loads without console errors, every chart is a non-empty SVG, tables sort on a header click, and a
screenshot is saved to test-artifacts/ (report-html.png: the page; report-html-top.png: its top,
copied to docs/report-html.png for the README)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from pipelines.cli import main
from pipelines.report_html import CHARTS

pytestmark = [pytest.mark.integration]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail(
            "the HTML report test needs Debian's chromium and chromedriver on PATH: run `make browser` "
            "(as root it installs them: apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1200,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_html_report_renders_in_chromium(
    report_catalog: Path, tmp_path: Path, browser: webdriver.Chrome, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    code = main(["report", "--catalog", str(report_catalog), "--format", "html", "--out", str(page)])
    assert (code, capsys.readouterr().err) == (0, "")
    html = page.read_text()
    # self-contained: nothing to fetch at view time
    assert not re.search(r"""(src|href)\s*=|@import|url\(|https?://""", html)

    browser.get(page.as_uri())
    assert browser.title == "Soracom usage and cost report - 2026-11"
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == len(CHARTS)
    for chart in charts:
        box = browser.execute_script(
            "var r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", chart
        )
        assert box[0] > 0 and box[1] > 0 and chart.find_elements(By.CSS_SELECTOR, "rect, path, circle")
    for key in ("daily_traffic", "top_cost", "top_traffic", "cost_by_group", "cost_by_tag", "idle_sims"):
        marks = browser.find_elements(By.CSS_SELECTOR, f"#{key} svg.chart .bar, #{key} svg.chart .series")
        assert marks, f"the {key} chart draws no data"

    ARTIFACTS.mkdir(exist_ok=True)
    browser.set_window_size(1000, 1500)  # the page's top: the README's image
    assert browser.save_screenshot(str(ARTIFACTS / "report-html-top.png"))
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1200, min(height + 40, 10000))  # the whole page
    assert browser.save_screenshot(str(ARTIFACTS / "report-html.png"))
    assert (ARTIFACTS / "report-html.png").stat().st_size > 10_000
    browser.set_window_size(1200, 900)

    # sortable: a click on "total" sorts the top-cost table ascending, a second one descending
    header = browser.find_element(By.XPATH, "//table[@id='t-top_cost']//th[text()='total']")
    totals_js = (
        "var t = document.getElementById('t-top_cost'); var i = arguments[0];"
        "return Array.prototype.map.call(t.tBodies[0].rows,"
        " function (r) { return parseFloat(r.cells[i].dataset.v); });"
    )
    index = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#t-top_cost th")].index("total")
    header.click()
    ascending = browser.execute_script(totals_js, index)
    assert ascending == sorted(ascending) and len(ascending) > 1
    header.click()
    assert browser.execute_script(totals_js, index) == sorted(ascending, reverse=True)
    header.click()

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_a_month_without_traffic_still_draws_every_chart(
    report_catalog: Path, tmp_path: Path, browser: webdriver.Chrome, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "october.html"
    args = ["report", "--catalog", str(report_catalog), "--format", "html", "--month", "2026-10"]
    assert main([*args, "--out", str(page)]) == 0
    browser.get(page.as_uri())
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == len(CHARTS)
    assert all(c.find_elements(By.CSS_SELECTOR, "rect") and c.size["height"] > 0 for c in charts)
    idle = browser.find_element(By.CSS_SELECTOR, "#idle_sims svg.chart").text
    assert "no traffic loaded for this month" in idle
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
