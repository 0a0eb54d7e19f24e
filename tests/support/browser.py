"""The web UI in a real browser for end-to-end tests: Debian's chromium (headless) through playwright,
a page per device, screenshots, the login form. The ``browser`` fixture is in tests/e2e/conftest.py."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from devtools.demo import DEMO_USERS
from shared.config import REPO_ROOT

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
STATIC = REPO_ROOT / "services" / "gateway" / "static"
SHOTS = REPO_ROOT / "tests" / "e2e" / "screenshots"
README_SHOTS = {"lao-inbox": REPO_ROOT / "docs" / "screenshots" / "lao-inbox.png",
                "province-follow-up": REPO_ROOT / "docs" / "screenshots" / "province-follow-up.png"}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
TIMEOUT_MS = 60_000  # a page on a busy two-core machine beside other stacks may take this long


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
        "--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage"])


def expect(locator):
    from playwright.sync_api import expect as playwright_expect
    return playwright_expect(locator)


def new_page(browser, stack, device):
    context = browser.new_context(locale="th-TH", timezone_id="Asia/Bangkok", **device)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and not message.text.startswith(
        "Failed to load resource") and page.errors.append(message.text))  # 401/404 answers are expected
    page.goto(stack.gateway_url + "/")
    return page


def shot(page, name, full_page=True):
    """Save tests/e2e/screenshots/<name>.png (and the README's copy of the two it shows)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    toast = page.locator("#toast")
    toast.evaluate("el => { el.style.display = 'none' }")  # a passing toast is not part of the page
    page.evaluate("document.fonts.ready")
    path = SHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=full_page)
    toast.evaluate("el => { el.style.display = '' }")
    # The README's copies are refreshed on request only, so a test run leaves the checkout clean.
    if name in README_SHOTS and os.environ.get("THONGTHIN_UPDATE_README_SCREENSHOTS") == "1":
        README_SHOTS[name].parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SHOTS[name])


def login(page, username):
    page.get_by_label("ชื่อผู้ใช้").fill(username)
    page.get_by_label("รหัสผ่าน").fill(PASSWORDS[username])
    page.get_by_role("button", name="เข้าสู่ระบบ").click()
    page.locator("nav.tabs").wait_for()


def no_horizontal_overflow(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page overflows sideways"
