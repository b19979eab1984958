"""The design pass of issue 26 (item 13) in a real browser: search options only beside search
results, behind one control; the page's own confirmation dialog; the large view at natural size
or smaller, with zoom; hover and focus actions on cards; one set of controls in the palette."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from playwright.sync_api import expect

from services.dataset import content_id, iter_image_files
from tests.support.browser import card_ids, open_page

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def open_similar(page, stack) -> str:
    first = sorted(iter_image_files(stack.dataset_root), key=lambda f: f.relative_path)[0]
    image = content_id(first.path.read_bytes())
    page.goto(f"{stack.api_url}/?similar={image}")
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    return image


def test_search_options_show_only_beside_search_results_behind_one_button(page, ui_stack):
    """▲ Every option showed all the time, browsing included, above the photos."""
    options = page.get_by_role("button", name="Options")
    for view in ("/", "/?breed=Chihuahua", "/?view=deleted", "/?view=duplicates"):
        page.goto(ui_stack.api_url + view)
        page.wait_for_selector("body[data-ready=true]")
        expect(options).to_be_hidden()
        expect(page.get_by_label("Results")).to_be_hidden()
        expect(page.get_by_label("Min. similarity")).to_be_hidden()
    open_similar(page, ui_stack)
    expect(options).to_be_visible()
    expect(options).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_label("Results")).to_be_hidden()  # the photos first
    options.click()
    expect(options).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Results")).to_be_focused()
    expect(page.get_by_label("Hide near-duplicates")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_label("Results")).to_be_hidden()
    expect(options).to_be_focused()


def test_delete_asks_in_the_page_with_focus_kept_inside_and_esc_cancelling(page, ui_stack):
    """▲ window.confirm: the browser's own pop-up, unstyled, blocking the page."""
    native = []
    page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
    page.get_by_role("link", name="Chihuahua 8").click()
    expect(page.locator("#grid .card")).to_have_count(8)
    target = card_ids(page)[0]
    page.locator("#grid .card").first.click()
    delete = page.get_by_role("button", name="Delete…")
    delete.click()
    confirm = page.get_by_role("dialog", name="Delete this Chihuahua photo?")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("restore it from")
    cancel = confirm.get_by_role("button", name="Cancel")
    sure = confirm.get_by_role("button", name="Delete", exact=True)
    expect(cancel).to_be_focused()  # a stray Enter keeps the photo
    page.keyboard.press("Tab")
    expect(sure).to_be_focused()
    page.keyboard.press("Tab")
    expect(cancel).to_be_focused()  # Tab stays in the dialog
    page.keyboard.press("Shift+Tab")
    expect(sure).to_be_focused()
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(page.locator("#lightbox")).to_be_visible()  # Esc answered the question only
    expect(delete).to_be_focused()  # back where it was opened
    delete.click()
    cancel.click()
    expect(confirm).to_be_hidden()
    expect(delete).to_be_focused()
    assert native == []
    assert requests.get(f"{ui_stack.api_url}/api/images/{target}", timeout=10).ok


def shown_width(page) -> float:
    return page.locator("#lightbox-image").bounding_box()["width"]


def test_the_large_view_shows_natural_size_or_smaller_and_zooms(page):
    """▲ Small photos were stretched to about twice their size, blurred, with no zoom."""
    page.get_by_role("link", name="Chihuahua 8").click()
    page.locator("#grid .card").first.click()
    image = page.locator("#lightbox-image")
    page.wait_for_function("() => document.getElementById('lightbox-image').naturalWidth > 0")
    natural = image.evaluate("i => i.naturalWidth")
    level = page.locator("#zoom-reset")
    expect(level).to_have_text("100%")
    assert abs(shown_width(page) - natural) <= 1  # 320 px fits: shown as it is, not stretched
    page.get_by_role("button", name="Zoom in").click()
    expect(level).to_have_text("150%")
    assert abs(shown_width(page) - 1.5 * natural) <= 1
    page.keyboard.press("+")
    expect(level).to_have_text("225%")
    page.keyboard.press("0")
    expect(level).to_have_text("100%")
    expect(page.get_by_role("button", name="Zoom out")).to_be_disabled()  # not below fitted
    image.click()  # a click zooms in where it points, a second one goes back
    expect(level).to_have_text("200%")
    image.click()
    expect(level).to_have_text("100%")
    box = page.locator("#viewer-stage").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -120)
    expect(level).to_have_text("125%")
    level.click()  # the level button resets
    expect(level).to_have_text("100%")
    page.set_viewport_size({"width": 300, "height": 700})  # now it cannot fit: smaller, whole
    expect(level).not_to_have_text("100%")
    stage = page.locator("#viewer-stage").bounding_box()
    assert shown_width(page) <= stage["width"] + 1 and shown_width(page) < natural
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    zoomed = level.inner_text()
    middle = (stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
    page.mouse.move(*middle)
    page.mouse.down()
    page.mouse.move(middle[0] - 60, middle[1], steps=4)
    page.mouse.up()
    assert page.locator("#viewer-stage").evaluate("s => s.scrollLeft") > 0  # dragged along
    expect(level).to_have_text(zoomed)  # the end of a drag is not a click


def test_cards_offer_more_like_this_and_delete_on_hover_and_keyboard_focus(page, ui_stack):
    """▲ A card had one action (open it); "More like this" and delete were two steps away."""
    page.get_by_role("link", name="Chihuahua 8").click()
    expect(page.locator("#grid .card")).to_have_count(8)
    ids = card_ids(page)
    second = page.locator("#grid > li").nth(1)
    actions = second.locator(".card-hover")
    expect(actions).to_have_css("opacity", "0")
    second.hover()
    expect(actions).to_have_css("opacity", "1")
    page.mouse.move(2, 2)
    expect(actions).to_have_css("opacity", "0")
    second.locator("button.card").focus()
    page.keyboard.press("Tab")
    more = second.get_by_role("button", name="Find more like Chihuahua photo 2")
    expect(more).to_be_focused()
    expect(actions).to_have_css("opacity", "1")  # shown to the keyboard as to the mouse
    page.keyboard.press("Tab")
    delete = second.get_by_role("button", name=re.compile("^Delete Chihuahua photo 2"))
    expect(delete).to_be_focused()
    page.keyboard.press("Enter")
    confirm = page.get_by_role("dialog", name="Delete this Chihuahua photo?")
    expect(confirm).to_be_visible()
    page.keyboard.press("Escape")
    expect(delete).to_be_focused()
    assert card_ids(page) == ids
    delete.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    assert parse_qs(urlparse(page.url).query)["similar"] == [ids[1]]


# The page's brown, and Chromium's own grey and blue for controls left unstyled.
NATIVE = {"rgb(239, 239, 239)", "rgb(107, 107, 107)", "rgb(0, 117, 255)", "rgb(16, 16, 16)"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_control_wears_the_pages_palette(chromium, ui_stack, console, scheme):
    """▲ Native grey buttons and blue sliders, checkboxes and progress bars beside the brown."""
    page = open_page(chromium, console, ui_stack.api_url, color_scheme=scheme)
    open_similar(page, ui_stack)
    page.get_by_role("button", name="Options").click()
    page.get_by_role("button", name="Add photos…").click()
    page.evaluate(
        "document.getElementById('add-progress').append(document.createElement('progress'))"
    )
    found = page.evaluate(
        """() => {
          const root = getComputedStyle(document.documentElement);
          const probe = document.createElement('span');
          probe.style.color = root.getPropertyValue('--accent').trim();
          document.body.append(probe);
          const brown = getComputedStyle(probe).color;
          probe.remove();
          const shown = (el) => el.offsetParent !== null || el.tagName === 'PROGRESS';
          return {brown, controls: [...document.querySelectorAll('button, input, select, progress')]
            .filter((el) => shown(el) && el.type !== 'file')
            .map((el) => { const s = getComputedStyle(el); return {
              what: el.id || el.className || el.textContent.trim().slice(0, 20), tag: el.tagName,
              type: el.type, background: s.backgroundColor, accent: s.accentColor,
              appearance: s.appearance, radius: s.borderRadius }; })};
        }"""
    )
    brown, controls = found["brown"], found["controls"]
    assert len(controls) > 15
    for control in controls:
        assert control["accent"] == brown, control  # checkboxes, sliders, progress: no blue
        if control["tag"] in ("BUTTON", "SELECT") or control["type"] in ("url", "search"):
            assert control["background"] not in NATIVE, control
            assert control["radius"] != "0px", control
        if control["type"] == "range" or control["tag"] == "PROGRESS":
            assert control["appearance"] == "none", control  # drawn by the page, in its colours
    page.context.close()
    assert console.unexpected() == []
