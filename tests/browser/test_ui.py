"""The web page in a real browser against the real stack: browse, look, search, errors."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from services.dataset import content_id, iter_image_files
from tests.support.browser import card_ids, card_similarities, open_page

pytestmark = [pytest.mark.integration, pytest.mark.browser]


LOOK = re.compile(r"^((Same|Other) breed · )?looks \d+\.\d% alike$")


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_breed_list_and_all_thumbnails(page):
    breeds = page.get_by_role("navigation", name="Breeds").get_by_role("link")
    expect(breeds).to_have_count(4)  # "All breeds" and the 3 breeds
    expect(page.get_by_role("link", name="All breeds 24")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="Japanese spaniel 8")).to_be_visible()
    expect(page.locator("#grid .card")).to_have_count(24)
    expect(page.locator("#view-meta")).to_have_text("1\u201324 of 24 photos")
    alts = page.locator("#grid img").evaluate_all("imgs => imgs.map(i => i.alt)")
    assert all(alt.endswith("photo") for alt in alts)
    assert page.locator("#grid img").first.get_attribute("loading") == "lazy"


def test_picking_a_breed_shows_only_its_thumbnails_and_back_works(page):
    page.get_by_role("link", name="Golden retriever 8").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Golden retriever")
    expect(page.locator("#grid .card")).to_have_count(8)
    expect(page.locator("#grid .caption")).to_have_text(["Golden retriever"] * 8)
    assert query(page) == {"breed": ["golden retriever"]}
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("All breeds")
    expect(page.locator("#grid .card")).to_have_count(24)


def test_breed_filter_box(page):
    page.get_by_label("Filter breeds").fill("span")
    visible = page.locator("#breed-list li:visible")
    expect(visible).to_have_count(1)
    expect(visible).to_have_text(re.compile("Japanese spaniel"))


def test_a_bookmarked_breed_page_opens_as_it_was(chromium, ui_stack, console):
    url = f"{ui_stack.api_url}/?breed=Chihuahua"
    page = open_page(chromium, console, url, viewport={"width": 1280, "height": 900})
    expect(page.locator("#grid .caption")).to_have_text(["Chihuahua"] * 8)
    expect(page.get_by_role("link", name="Chihuahua 8")).to_have_attribute("aria-current", "page")
    page.context.close()
    assert console.unexpected() == []


def test_lightbox_keys_and_more_like_this(page):
    page.get_by_role("link", name="Chihuahua 8").click()
    expect(page.locator("#grid .card")).to_have_count(8)
    second = card_ids(page)[1]
    page.locator("#grid .card").nth(1).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#lightbox-meta")).to_contain_text("2 of 8")
    expect(dialog.locator("#lightbox-meta")).to_contain_text("320 \u00d7 240 px")
    expect(dialog.locator("#lightbox-meta")).to_contain_text("KB")
    page.keyboard.press("ArrowRight")
    expect(dialog.locator("#lightbox-meta")).to_contain_text("3 of 8")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(dialog.locator("#lightbox-meta")).to_contain_text("1 of 8")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.locator("#grid .card").nth(1).click()
    page.get_by_role("button", name="More like this").click()
    expect(page.locator("#grid .card.ranked, #grid.ranked .card").first).to_be_visible()
    assert query(page)["similar"] == [second]
    assert second not in card_ids(page)  # more like this: other photos, not the query
    similarities = card_similarities(page)
    assert similarities == sorted(similarities, reverse=True) and similarities[0] < 1
    # Each card says whether it is the stored photo's breed and how alike it looks.
    captions = page.locator("#grid .caption").all_inner_texts()
    lines = page.locator("#grid .score-line").all_inner_texts()
    assert len(lines) == len(captions) and all(LOOK.search(line) for line in lines), lines
    assert [line.startswith("Same breed") for line in lines] == [
        caption == "Chihuahua" for caption in captions
    ]
    same = captions.count("Chihuahua")
    expect(page.locator("#understanding")).to_contain_text(
        f"{same} of {len(captions)} results are Chihuahua, this photo\u2019s breed."
    )
    expect(page.locator("#query-image")).to_have_attribute("src", f"/thumbs/{second}")
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chihuahua")


def test_upload_finds_the_indexed_copy_first(page, ui_stack):
    photo = sorted(iter_image_files(ui_stack.dataset_root), key=lambda f: f.relative_path)[5]
    page.set_input_files("#photo-input", str(photo.path))
    expect(page.locator("#grid.ranked .card")).to_have_count(12)
    page.get_by_role("button", name="Options").click()  # beside the results, searches again
    page.get_by_label("Results").select_option("6")
    expect(page.locator("#grid.ranked .card")).to_have_count(6)
    assert card_ids(page)[0] == content_id(photo.path.read_bytes())
    similarities = card_similarities(page)
    assert similarities[0] == 1.0 and similarities == sorted(similarities, reverse=True)
    expect(page.locator("#grid .score-line").first).to_have_text(
        re.compile(r"^(Same|Other) breed · looks 100\.0% alike$")
    )
    guess = page.locator("#predictions li span").first.inner_text()
    lines = page.locator("#grid .score-line").all_inner_texts()
    captions = page.locator("#grid .caption").all_inner_texts()
    assert [line.startswith("Same breed") for line in lines] == [c == guess for c in captions]
    same = sum(c == guess for c in captions)
    expect(page.locator("#query-summary")).to_contain_text(f"{same} of 6 results are {guess}")
    expect(page.locator("#view-meta")).to_contain_text("encoding")
    expect(page.locator("#query-panel")).to_be_visible()
    expect(page.locator("#query-image")).to_have_attribute("src", re.compile("^blob:"))
    assert query(page) == {"view": ["photo"]}


def test_upload_restricted_to_a_breed(page, ui_stack):
    photo = next(iter_image_files(ui_stack.dataset_root))
    page.set_input_files("#photo-input", str(photo.path))
    expect(page.locator("#grid.ranked .card")).to_have_count(12)
    page.get_by_role("button", name="Options").click()
    page.get_by_label("Search within").select_option("golden retriever")
    expect(page.locator("#grid.ranked .card")).to_have_count(8)
    expect(page.locator("#grid .caption")).to_have_text(["Golden retriever"] * 8)


def test_a_non_image_gets_a_clear_message(page, console, tmp_path):
    console.allow("status of 400")  # Chromium logs every 4xx response
    fake = tmp_path / "not-a-dog.jpg"
    fake.write_text("this is text, not a JPEG")
    before = card_ids(page)
    page.set_input_files("#photo-input", str(fake))
    alert = page.locator("#notice")
    expect(alert).to_have_text(
        "That file is not a photo we can read. Try a JPEG, PNG, WebP or GIF."
    )  # one message, for a person: not the API's words too
    # A failed search changes nothing else: the heading, the grid and the URL stay as they were.
    expect(page.get_by_role("heading", level=1)).to_have_text("All breeds")
    assert card_ids(page) == before and query(page) == {}
    expect(page.locator("#query-panel")).to_be_hidden()


def test_a_file_over_the_limit_is_refused_before_upload(page, tmp_path):
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8" + b"\0" * (21 * 1024 * 1024))
    requests_sent = []
    page.on("request", lambda r: "/api/search" in r.url and requests_sent.append(r.url))
    page.set_input_files("#photo-input", str(big))
    expect(page.locator("#notice")).to_contain_text("too big")
    assert requests_sent == []


def test_keyboard_reaches_a_photo_and_opens_it(page):
    page.locator("#grid .card").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("button", name="More like this")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#grid .card").first).to_be_focused()


def test_footer_names_the_model_and_the_offline_backbone(page):
    footer = page.locator("footer")
    expect(footer).to_contain_text("24 photos indexed")
    expect(footer).to_contain_text("efficientnet_lite0 \u00b7 1400-d \u00b7 checkpoint weights")
    expect(footer).to_contain_text("offline backbone")
    expect(footer).to_contain_text("fine-tuned")


def test_the_fine_tuned_heads_predictions_are_shown(page, ui_stack):
    photo = next(iter_image_files(ui_stack.dataset_root))
    page.set_input_files("#photo-input", str(photo.path))
    predictions = page.get_by_role("list", name="Predicted breeds").get_by_role("listitem")
    expect(predictions).to_have_count(5)
    texts = predictions.all_inner_texts()
    assert all(re.fullmatch(r"[A-Z][\w' -]+ \d+\.\d%", text) for text in texts), texts
    shares = [float(text.rsplit(" ", 1)[1].rstrip("%")) for text in texts]
    assert shares == sorted(shares, reverse=True)


def test_empty_index_says_to_run_the_ingest(chromium, ui_stack, console):
    """The frontend's empty state, with the API's answers for an empty index."""
    context = chromium.new_context()
    empty = {"images": [], "breed": None, "page": 1, "per_page": 48, "total": 0, "pages": 0}
    context.route("**/api/images?*", lambda route: route.fulfill(json=empty))
    context.route("**/api/breeds", lambda route: route.fulfill(json={"breeds": [], "total": 0}))
    page = context.new_page()
    page.on("pageerror", lambda e: console.errors.append(str(e)))
    page.goto(ui_stack.api_url)
    expect(page.locator("#empty")).to_contain_text("The index is empty: run the ingest.")
    expect(page.locator("#empty")).to_contain_text("scripts.jobs.ingest")
    context.close()
    assert console.unexpected() == []


def test_phone_sized_screen_has_no_sideways_scroll(chromium, ui_stack, console):
    page = open_page(
        chromium, console, ui_stack.api_url, viewport={"width": 375, "height": 740}, is_mobile=True
    )
    expect(page.locator("#grid .card")).to_have_count(24)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    columns = page.evaluate(
        "getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length"
    )
    assert columns == 2
    page.context.close()
    assert console.unexpected() == []


def test_arrow_keys_in_the_breed_list_change_only_the_list(page):
    """▲ With focus on "Change breed", \u2192 also moved to the next photo (and Save breed then
    mislabelled it)."""
    page.get_by_role("link", name="Chihuahua 8").click()
    page.locator("#grid .card").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("#lightbox-meta")).to_contain_text("1 of 8")
    shown = dialog.locator("#lightbox-image").get_attribute("src")
    breed = page.get_by_label("Change breed")
    breed.focus()
    chosen = breed.input_value()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    expect(breed).not_to_have_value(chosen)  # the list's own keys still work on the list
    page.wait_for_timeout(300)
    expect(dialog.locator("#lightbox-meta")).to_contain_text("1 of 8")
    assert dialog.locator("#lightbox-image").get_attribute("src") == shown
    page.get_by_role("button", name="More like this").focus()
    page.keyboard.press("ArrowRight")  # elsewhere in the dialog the keys still move
    expect(dialog.locator("#lightbox-meta")).to_contain_text("2 of 8")


def test_keyboard_on_search_options_keeps_focus_and_searches_once_per_pause(page, ui_stack):
    """▲ One key press fired one search and focus jumped to <main>; later presses did nothing."""
    first = sorted(iter_image_files(ui_stack.dataset_root), key=lambda f: f.relative_path)[0]
    page.goto(f"{ui_stack.api_url}/?similar={content_id(first.path.read_bytes())}")
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    searches: list[str] = []
    page.on("request", lambda r: "/similar" in r.url and searches.append(r.url))
    page.get_by_role("button", name="Options").click()
    slider = page.get_by_label("Min. similarity")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile("min=5"))
    expect(slider).to_be_focused()
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "false")
    assert len(searches) == 1 and "min_similarity=0.05" in searches[0]
    page.keyboard.press("ArrowRight")  # later presses still work
    expect(page).to_have_url(re.compile("min=6"))
    expect(slider).to_be_focused()
    results = page.get_by_label("Results")
    results.focus()
    page.keyboard.press("ArrowDown")
    expect(page).to_have_url(re.compile("k=24"))
    expect(results).to_be_focused()


def test_a_page_past_the_end_shows_the_last_page(page, ui_stack):
    page.goto(f"{ui_stack.api_url}/?breed=Chihuahua&page=99")
    expect(page.locator("#grid .card")).to_have_count(8)
    expect(page.locator("#view-meta")).to_have_text("1\u20138 of 8 photos")
    assert query(page) == {"breed": ["Chihuahua"]}


def test_links_with_values_the_page_cannot_show_are_corrected_in_view(page, ui_stack):
    """restrict=nosuch showed "any breed" silently; k=1000 added a "1000" choice."""
    first = sorted(iter_image_files(ui_stack.dataset_root), key=lambda f: f.relative_path)[0]
    image = content_id(first.path.read_bytes())
    page.goto(f"{ui_stack.api_url}/?similar={image}&k=1000&restrict=nosuch")
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    expect(page.locator("#note")).to_contain_text("no breed \u201cnosuch\u201d")
    expect(page.locator("#note")).to_contain_text("showing 100")
    expect(page.get_by_label("Results")).to_have_value("100")
    assert "1000" not in page.get_by_label("Results").locator("option").all_inner_texts()
    expect(page.get_by_label("Search within")).to_have_value("")
    assert query(page) == {"similar": [image], "k": ["100"]}
    page.goto(f"{ui_stack.api_url}/?restrict=chihuahua&similar={image}")  # any case is the breed
    expect(page.get_by_label("Search within")).to_have_value("Chihuahua")
    expect(page.locator("#grid .caption").first).to_have_text("Chihuahua")


def test_a_photo_that_is_not_in_the_library(page, ui_stack, console):
    console.allow("status of 404")
    page.get_by_role("link", name="Chihuahua 8").click()
    page.goto(f"{ui_stack.api_url}/?similar=nothex")
    expect(page.get_by_role("heading", level=1)).to_have_text("Photo not found")
    expect(page.locator("#empty")).to_contain_text("not in the library")
    expect(page.locator("#grid .card")).to_have_count(0)
    expect(page.locator("#query-panel")).to_be_hidden()
    expect(page.locator("#breed-list [aria-current]")).to_have_count(0)
    page.goto(f"{ui_stack.api_url}/?similar={'ab' * 12}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Photo not found")


def test_the_page_says_what_the_query_was_taken_for(page, ui_stack):
    """The synthetic photos are shapes, not dogs: the page says so, with the breed guesses and
    how close the best match is."""
    photo = next(iter_image_files(ui_stack.dataset_root))
    page.set_input_files("#photo-input", str(photo.path))
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    understanding = page.locator("#understanding")
    expect(understanding).to_contain_text("doesn\u2019t look like a dog")
    expect(understanding).to_contain_text(re.compile(r"\d+ of \d+ results are .+\. Most alike"))
    expect(understanding).not_to_contain_text("Close matches")  # any photo of a breed is one
    expect(page.locator("#predictions-title")).to_have_text("Looks like")
    first = page.locator("#grid .card").first
    expect(first.locator(".tag")).to_have_text("Same photo")  # the indexed copy of the upload


def test_enter_on_search_by_photo_opens_the_file_chooser(page):
    button = page.get_by_role("button", name="Search by photo")
    button.focus()
    expect(button).to_be_focused()
    with page.expect_file_chooser() as chooser:
        button.press("Enter")  # focuses it again first: a busy machine once lost the focus
    assert not chooser.value.is_multiple()


def test_phone_shows_results_first_and_breeds_behind_a_button(chromium, ui_stack, console):
    page = open_page(
        chromium, console, ui_stack.api_url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    grid_top = page.locator("#grid").bounding_box()["y"]
    assert grid_top < 400, grid_top  # it started ~640 px down, under every breed
    expect(page.locator("#breed-list")).to_be_hidden()
    expect(page.get_by_label("Results")).to_be_hidden()  # search options folded away
    page.get_by_role("button", name="Breeds").click()
    expect(page.get_by_role("link", name="Chihuahua 8")).to_be_visible()
    page.get_by_role("link", name="Chihuahua 8").click()
    expect(page.locator("#breed-list")).to_be_hidden()
    expect(page.locator("#grid .caption")).to_have_text(["Chihuahua"] * 8)
    page.locator("#grid .card").first.click()
    prev = page.locator("#lightbox-prev").bounding_box()
    following = page.locator("#lightbox-next").bounding_box()
    assert abs(prev["y"] - following["y"]) < 2  # ← and → side by side
    page.context.close()
    assert console.unexpected() == []


def test_breed_filter_that_matches_nothing_says_so(page):
    page.get_by_label("Filter breeds").fill("zebra")
    expect(page.locator("#breed-none")).to_have_text("No breed matches \u201czebra\u201d.")
    page.get_by_label("Filter breeds").fill("")
    expect(page.locator("#breed-none")).to_be_hidden()


def test_back_closes_the_large_view_and_stays_on_the_page(page):
    """▲ Back with the large view open left the page (here: for "All breeds") instead."""
    page.get_by_role("link", name="Chihuahua 8").click()
    expect(page.locator("#grid .card")).to_have_count(8)
    dialog = page.get_by_role("dialog")
    page.locator("#grid .card").nth(2).click()
    expect(dialog).to_be_visible()
    page.go_back()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_have_text("Chihuahua")
    assert query(page) == {"breed": ["Chihuahua"]}
    expect(page.locator("#grid .card").nth(2)).to_be_focused()
    page.locator("#grid .card").nth(2).click()  # closed with Esc, it leaves no entry behind
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # The page takes its own entry off with history.back(); a person's Back comes after it.
    page.wait_for_function("() => !(history.state && history.state.lightbox)")
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("All breeds")
    expect(dialog).to_be_hidden()


def test_a_reloaded_photo_search_says_so_and_corrects_the_link(page, ui_stack):
    """▲ ``?view=photo`` went to "All breeds" without a word."""
    page.goto(f"{ui_stack.api_url}/?view=photo")
    expect(page.locator("#note")).to_contain_text("not kept")
    expect(page.get_by_role("heading", level=1)).to_have_text("All breeds")
    assert query(page) == {}


CONTRAST = """el => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  let back = el;
  while (back && rgb(getComputedStyle(back).backgroundColor)[3] === 0) back = back.parentElement;
  const a = lum(rgb(getComputedStyle(el).color));
  const b = lum(rgb(getComputedStyle(back).backgroundColor));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_export_buttons_are_readable_in_either_colour_scheme(chromium, ui_stack, console, scheme):
    """▲ axe-core: JSON and CSV were 2.3:1 in dark mode."""
    page = open_page(chromium, console, ui_stack.api_url, color_scheme=scheme)
    photo = next(iter_image_files(ui_stack.dataset_root))
    page.set_input_files("#photo-input", str(photo.path))
    for name in ("JSON", "CSV"):
        button = page.get_by_role("button", name=name, exact=True)
        expect(button).to_be_visible()
        assert button.evaluate(CONTRAST) >= 4.5, name
    page.context.close()
    assert console.unexpected() == []


def test_the_api_docs_fit_a_phone_and_the_keyboard_reaches_every_example(chromium, ui_stack):
    """▲ axe-core at 390 px: the examples scrolled sideways, out of the keyboard's reach, and
    the page had no way back to the app."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{ui_stack.api_url}/api/docs")
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    sideways = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.scrollWidth > e.clientWidth + 1"
        " && getComputedStyle(e).overflowX !== 'visible' && e.tabIndex < 0).length"
    )
    assert sideways == 0
    examples = page.locator("pre")
    assert examples.count() > 5
    for n in range(examples.count()):
        assert examples.nth(n).get_attribute("tabindex") == "0"
        assert examples.nth(n).get_attribute("aria-label")
    page.get_by_role("link", name=re.compile("Back to dogsearch")).click()
    page.wait_for_selector("body[data-ready=true]")
    assert urlparse(page.url).path == "/"
    context.close()


def test_phone_photo_search_shows_results_in_the_first_screen(chromium, ui_stack, console):
    """▲ At 390 x 844 the first result started at 704 px, under the query card."""
    page = open_page(
        chromium, console, ui_stack.api_url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    photo = next(iter_image_files(ui_stack.dataset_root))
    page.set_input_files("#photo-input", str(photo.path))
    first = page.locator("#grid.ranked .card").first
    expect(first).to_be_visible()
    box = first.bounding_box()
    assert box["y"] + box["height"] <= 844, box  # the whole first result, without scrolling
    predictions = page.get_by_role("list", name="Predicted breeds")
    expect(predictions).to_be_hidden()
    details = page.get_by_role("button", name="Details")
    expect(details).to_have_attribute("aria-expanded", "false")
    details.click()
    expect(predictions).to_be_visible()
    expect(details).to_have_attribute("aria-expanded", "true")
    page.context.close()
    assert console.unexpected() == []
