"""axe-core on the page's main views, as a person meets them: desktop and phone width, light and
dark, "Why?" in the large view and a photo of two dogs outlined among them. Any serious or
critical violation fails (``tests/support/axe.py``)."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from services.dataset import content_id, iter_image_files
from tests.support.axe import describe, failing, run_axe
from tests.support.browser import open_page
from tests.support.real_photos import two_dog_photo

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SCREENS = {
    "desktop-light": {"viewport": {"width": 1366, "height": 900}, "color_scheme": "light"},
    "desktop-dark": {"viewport": {"width": 1366, "height": 900}, "color_scheme": "dark"},
    "phone-dark": {
        "viewport": {"width": 390, "height": 844},
        "color_scheme": "dark",
        "is_mobile": True,
    },
}


def visit_views(page, stack, check) -> None:
    """Walk through the main views, calling ``check(name)`` on each as it shows."""
    base = stack.api_url
    check("all breeds")
    page.goto(f"{base}/?breed=Chihuahua")
    expect(page.locator("#grid .card").first).to_be_visible()
    check("a breed")
    photo = sorted(iter_image_files(stack.dataset_root), key=lambda f: f.relative_path)[3]
    page.set_input_files("#photo-input", str(photo.path))
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    page.get_by_role("button", name="Options").click()
    page.locator("#grid > li").first.hover()
    check("search results, options open")
    page.locator("#grid .card").first.click()
    page.wait_for_function("() => document.getElementById('lightbox-image').complete")
    check("large view")
    page.get_by_role("button", name="Why?").click()
    expect(page.locator("#why-heat")).to_be_visible(timeout=30_000)
    check("why this matches")
    page.get_by_role("button", name="Hide").click()
    page.get_by_role("button", name="Delete…").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    check("confirmation dialog")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).to_be_hidden()
    if page.viewport_size["width"] < 720:  # on a phone the library tools are with the breeds
        page.get_by_role("button", name="Breeds").click()
    page.get_by_role("button", name="Add photos…").click()
    check("add panel")
    page.goto(f"{base}/?view=deleted")
    expect(page.locator("#grid .card").first).to_be_visible()
    check("deleted photos")
    page.goto(f"{base}/?view=duplicates")
    expect(page.get_by_role("heading", level=1)).to_contain_text("near-duplicates")
    check("near-duplicates")
    page.goto(f"{base}/api/docs")
    check("API docs")


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_no_serious_accessibility_violation_on_the_main_views(chromium, ui_stack, console, screen):
    # One photo deleted for the run, so "Deleted photos" has a card and its buttons to check.
    first = sorted(iter_image_files(ui_stack.dataset_root), key=lambda f: f.relative_path)[-1]
    deleted = content_id(first.path.read_bytes())
    assert requests.delete(f"{ui_stack.api_url}/api/images/{deleted}", timeout=10).ok
    page = open_page(chromium, console, ui_stack.api_url, **SCREENS[screen])
    found: dict[str, str] = {}

    def check(view: str) -> None:
        bad = failing(run_axe(page))
        if bad:
            found[view] = describe(bad)

    try:
        visit_views(page, ui_stack, check)
    finally:
        page.context.close()
        restored = requests.post(f"{ui_stack.api_url}/api/images/{deleted}/restore", timeout=10)
        assert restored.ok
    assert found == {}, "\n".join(f"[{view}]\n{text}" for view, text in found.items())
    assert console.unexpected() == []


@pytest.mark.realdata
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_no_serious_violation_with_two_dogs_outlined(
    chromium, real_stack, console, stanford_sample, tmp_path, screen
):
    """The outlines of a photo of two dogs (real photos: the localiser needs real dogs), with
    the second dog searched."""
    page = open_page(chromium, console, real_stack.api_url, **SCREENS[screen])
    try:
        page.set_input_files(
            "#photo-input", str(two_dog_photo(stanford_sample, tmp_path / "2.jpg"))
        )
        expect(page.locator("#dog-outlines .dog-outline")).to_have_count(2)
        if page.locator("#query-more").is_visible():  # a phone: the panel starts folded
            page.locator("#query-more").click()
        page.locator("#dog-outlines .dog-outline").nth(1).click()
        expect(page).to_have_url(re.compile("dog=2"))
        expect(page.locator("#grid.ranked .card").first).to_be_visible()
        bad = failing(run_axe(page))
    finally:
        page.context.close()
    assert bad == [], describe(bad)
    assert console.unexpected() == []


def test_a_serious_violation_fails_the_check(page):
    """The check can fail: a button with no name (axe's "button-name", critical) is caught."""
    assert failing(run_axe(page)) == []
    page.evaluate("document.getElementById('grid').prepend(document.createElement('button'))")
    ids = {v["id"] for v in failing(run_axe(page))}
    assert "button-name" in ids
