"""Issue 25 in the page, on real photos: the dogs of a photo outlined and searched one by one,
with the choice in the URL, and "Why?" in the large view (heat maps, a legend, hidden again)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import open_page
from tests.support.real_photos import PER_BREED, TWO_DOGS, two_dog_photo

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.realdata]

OUTLINES = "#dog-outlines .dog-outline"


@pytest.fixture
def real_page(chromium, real_stack, console):
    page = open_page(chromium, console, real_stack.api_url, viewport={"width": 1280, "height": 900})
    yield page
    page.context.close()
    assert console.unexpected() == [], "the page logged errors"


@pytest.fixture(scope="module")
def two_dogs(stanford_sample, tmp_path_factory):
    return two_dog_photo(stanford_sample, tmp_path_factory.mktemp("two-dogs") / "two-dogs.jpg")


def searches(page) -> list[dict]:
    """Record the query of every answer to POST /api/search from now on (Chromium does not
    show a multipart body with a file, so the answer says what was searched)."""
    sent: list[dict] = []
    page.on(
        "response",
        lambda r: sent.append(r.json()["query"]) if r.url.endswith("/api/search") else None,
    )
    return sent


def answered(page, sent: list[dict], count: int = 1) -> list[dict]:
    """``sent`` once it holds ``count`` answers: Playwright runs the response handler during a
    later call, so the page can show an answer before the handler has recorded it."""
    for _ in range(100):
        if len(sent) >= count:
            break
        page.wait_for_timeout(50)
    return sent


def test_a_two_dog_photo_outlines_both_and_searches_the_other(real_page, two_dogs):
    page = real_page
    page.set_input_files("#photo-input", str(two_dogs))
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    outlines = page.locator(OUTLINES)
    expect(outlines).to_have_count(2)
    first, second = outlines.nth(0), outlines.nth(1)
    expect(first).to_have_attribute("aria-pressed", "true")
    # Named by where each is: the photo has one dog on each half.
    side = re.compile(r"^Showing the dog on the (left|right): .+ \d+ %$")
    expect(first).to_have_accessible_name(side)
    other = "right" if "left" in first.get_attribute("aria-label") else "left"
    expect(second).to_have_accessible_name(
        re.compile(rf"^Search the dog on the {other}: .+ \d+ %$")
    )
    expect(page.locator("#dogs-hint")).to_contain_text("2 dogs found")
    # Each outline lies over the photo, one on each half (the two photos side by side).
    image = page.locator("#query-image").bounding_box()
    boxes = [first.bounding_box(), second.bounding_box()]
    centres = sorted((b["x"] + b["width"] / 2 - image["x"]) / image["width"] for b in boxes)
    assert centres[0] < 0.5 < centres[1], centres
    whole = page.locator("#grid .card").first.get_attribute("data-id")
    width = page.evaluate("document.getElementById('query-image').naturalWidth")

    sent = searches(page)
    second.click()  # the other dog: searched on its crop, a new entry in the history
    expect(page).to_have_url(re.compile(r"[?&]dog=2"))
    expect(page.locator(OUTLINES).nth(1)).to_have_attribute("aria-pressed", "true")
    expect(page.locator(OUTLINES).nth(0)).to_have_accessible_name(re.compile("^Search the dog"))
    # The crop was searched: smaller than the photo, and not localised again.
    assert len(answered(page, sent)) == 1 and "dogs" not in sent[0], sent
    assert sent[0]["width"] < 0.8 * width, (sent[0]["width"], width)
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    expect(page.locator("#crop-box")).to_be_hidden()  # the outline marks the crop

    page.go_back()  # the first dog again, from memory
    expect(page).not_to_have_url(re.compile("dog="))
    expect(page.locator(OUTLINES).nth(0)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#grid .card").first).to_have_attribute("data-id", whole)
    page.go_forward()
    expect(page).to_have_url(re.compile(r"[?&]dog=2"))
    expect(page.locator(OUTLINES).nth(1)).to_have_attribute("aria-pressed", "true")
    assert len(sent) == 1, "Back and Forward searched again"

    # By keyboard: the first dog's outline is a button like any other.
    page.locator(OUTLINES).nth(0).focus()
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile("dog="))
    expect(page.locator(OUTLINES).nth(0)).to_have_attribute("aria-pressed", "true")


def test_two_dogs_of_one_breed_are_answered_for_the_whole_photo(
    real_page, stanford_sample, tmp_path
):
    """Two German shepherds: the whole photo's results (no blur of breeds to avoid), no
    outline marked, and the hint says so; a click still searches one dog alone."""
    page = real_page
    folder = TWO_DOGS[0]
    photo = two_dog_photo(stanford_sample, tmp_path / "shepherds.jpg", (folder, folder))
    sent = searches(page)
    page.set_input_files("#photo-input", str(photo))
    outlines = page.locator(OUTLINES)
    expect(outlines).to_have_count(2)
    assert "searched_dog" not in answered(page, sent)[0], sent[0]
    expect(page.locator(f"{OUTLINES}[aria-pressed=true]")).to_have_count(0)
    expect(page.locator("#dogs-hint")).to_contain_text("these results are for the whole photo")
    outlines.nth(0).click()
    expect(page).to_have_url(re.compile(r"[?&]dog=1"))
    expect(outlines.nth(0)).to_have_attribute("aria-pressed", "true")


def test_why_shows_heat_maps_with_a_legend_and_hides_again(real_page, stanford_sample):
    page = real_page
    folder = stanford_sample / "Images" / "n02099601-golden_retriever"
    page.set_input_files("#photo-input", str(sorted(folder.glob("*.jpg"))[PER_BREED + 3]))
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    page.locator("#grid .card").first.click()
    why = page.get_by_role("button", name="Why?")
    expect(why).to_be_visible()
    expect(page.locator("#why-heat")).to_be_hidden()
    why.focus()
    page.keyboard.press("Enter")
    expect(why).to_have_attribute("aria-pressed", "true")
    heat = page.locator("#why-heat")
    expect(heat).to_be_visible(timeout=30_000)
    expect(page.locator("#why-query-heat")).to_be_visible()
    expect(page.get_by_role("img", name="Regions that made them similar:")).to_be_visible()
    expect(page.locator("#why-panel")).to_contain_text("low")
    # The map covers the photo and is painted: some cells warm, not all of them.
    assert heat.bounding_box() == page.locator("#lightbox-image").bounding_box()
    alphas = heat.evaluate(
        """c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)
              .filter((_, i) => i % 4 === 3)"""
    )
    assert len(alphas) > 1 and max(alphas) > 150 and min(alphas) < max(alphas)
    page.get_by_role("button", name="Hide").click()
    expect(heat).to_be_hidden()
    expect(page.locator("#why-panel")).to_be_hidden()
    expect(why).to_be_focused()
    expect(why).to_have_attribute("aria-pressed", "false")
    why.click()  # again: kept for this result, shown at once
    expect(heat).to_be_visible()
    page.keyboard.press("ArrowRight")  # another result: its maps are not the last one's
    expect(heat).to_be_hidden()


def test_why_says_when_the_encoder_is_down(real_page, stanford_sample, console):
    page = real_page
    console.allow("503")
    page.route(
        "**/api/why",
        lambda route: route.fulfill(
            status=503,
            json={"error": {"code": "encoder_unavailable", "message": "encoder is unavailable"}},
        ),
    )
    folder = stanford_sample / "Images" / "n02085936-Maltese_dog"
    page.set_input_files("#photo-input", str(sorted(folder.glob("*.jpg"))[PER_BREED + 1]))
    page.locator("#grid.ranked .card").first.click()
    page.get_by_role("button", name="Why?").click()
    expect(page.get_by_role("alert").filter(has_text="Explaining a match")).to_contain_text(
        "the encoder service is not answering"
    )
    expect(page.locator("#why-heat")).to_be_hidden()
