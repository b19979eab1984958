"""Library management and search options in a real browser: add with progress, relabel,
delete with confirmation, near-duplicates, minimum similarity, export, search by URL, and the
write key asked for in the page."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from services.dataset import content_id, iter_image_files
from tests.support.browser import (
    answer_confirm,
    card_ids,
    card_similarities,
    open_page,
    start_api_beside,
    start_indexed_stack,
)
from tests.support.synthetic import make_dataset, make_image

pytestmark = [pytest.mark.integration, pytest.mark.browser]
WRITE_KEY = "browser-test-write-key"


@pytest.fixture(scope="module")
def lib_stack(tmp_path_factory):
    images = make_dataset(tmp_path_factory.mktemp("lib-ui-dataset"), per_breed=6)
    stack = start_indexed_stack(tmp_path_factory.mktemp("lib-ui-stack"), images)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def keyed_api(lib_stack, tmp_path_factory):
    """A search API with a write key over the same Milvus, encoder and library."""
    api = start_api_beside(
        lib_stack, tmp_path_factory.mktemp("keyed-api"), SEARCH_API_WRITE_KEY=WRITE_KEY
    )
    yield api
    api.stop()


@pytest.fixture
def page(chromium, lib_stack, console):
    page = open_page(chromium, console, lib_stack.api_url, viewport={"width": 1280, "height": 900})
    yield page
    page.context.close()
    assert console.unexpected() == [], "the page logged errors"


def assert_gone(stack, image_id: str) -> None:
    """404 once every API worker's browse catalogue has refreshed (0.5 s in these tests)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if requests.get(f"{stack.api_url}/api/images/{image_id}", timeout=10).status_code == 404:
            return
        time.sleep(0.2)
    raise AssertionError(f"{image_id} is still served after its deletion")


def test_add_photos_with_progress_per_file(page, lib_stack, console, tmp_path):
    console.allow("status of 400")
    photos = []
    for seed in (70_001, 70_002):
        path = tmp_path / f"new-{seed}.jpg"
        make_image(seed, (300, 220)).save(path, quality=90)
        photos.append(path)
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    page.get_by_role("button", name="Add photos…").click()
    page.get_by_label("Label them as").select_option("Chihuahua")
    page.set_input_files("#add-input", [str(p) for p in photos] + [str(text)])
    outcomes = page.locator("#add-progress .outcome")
    expect(outcomes).to_have_count(3)
    expect(outcomes.nth(0)).to_have_text("added")
    expect(outcomes.nth(1)).to_have_text("added")
    expect(outcomes.nth(2)).to_contain_text("not a photo we can read")
    expect(page.get_by_role("link", name="Chihuahua 8")).to_be_visible()
    new_id = content_id(photos[0].read_bytes())
    detail = requests.get(f"{lib_stack.api_url}/api/images/{new_id}", timeout=10).json()
    assert detail["breed"] == "Chihuahua" and detail["path"].startswith("@library/")


def test_relabel_and_delete_from_the_large_view(page, lib_stack):
    page.get_by_role("link", name=re.compile("^Japanese spaniel")).click()
    expect(page.locator("#grid .card")).to_have_count(6)
    target = card_ids(page)[0]
    page.locator("#grid .card").first.click()
    page.get_by_label("Change breed").select_option("golden retriever")
    page.get_by_role("button", name="Save breed").click()
    expect(page.locator("#lightbox-title")).to_have_text("Golden retriever")
    expect(page.get_by_role("link", name=re.compile("^Japanese spaniel 5"))).to_be_visible()
    row = requests.get(f"{lib_stack.api_url}/api/images/{target}", timeout=10).json()
    assert row["breed"] == "golden retriever"

    page.get_by_role("button", name="Delete…").click()  # changing one's mind keeps the photo
    answer_confirm(page, accept=False)
    expect(page.locator("#lightbox")).to_be_visible()
    assert requests.get(f"{lib_stack.api_url}/api/images/{target}", timeout=10).ok
    page.get_by_role("button", name="Delete…").click()
    answer_confirm(page, accept=True)
    expect(page.locator("#lightbox")).to_be_hidden()
    assert target not in card_ids(page)
    assert_gone(lib_stack, target)


def add_resized_copy(stack, n: int = 0) -> tuple[str, str]:
    """A slightly resized copy of the ``n``-th dataset photo, added through the API:
    (copy id, original id)."""
    original = sorted(iter_image_files(stack.dataset_root), key=lambda f: f.relative_path)[n]
    data = original.path.read_bytes()
    image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    image.resize((image.width - 6, image.height - 4)).save(out, "JPEG", quality=75)
    added = requests.post(
        f"{stack.api_url}/api/images", files={"image": ("copy.jpg", out.getvalue())}, timeout=60
    )
    assert added.status_code in (200, 201)
    return content_id(out.getvalue()), content_id(data)


def test_near_duplicates_delete_asks_first_and_can_be_undone(page, lib_stack):
    """▲ It deleted at once, with no question and no undo."""
    copy_id, original_id = add_resized_copy(lib_stack)
    page.get_by_role("link", name="Near-duplicates").click()
    group = page.locator(".dup-group").filter(has=page.locator(f"img[src$='{copy_id}']"))
    expect(group).to_have_count(1)
    expect(group.locator(".card")).to_have_count(2)
    copy_card = group.locator("li").filter(has=page.locator(f"img[src$='{copy_id}']"))
    questions = []
    copy_card.get_by_role("button", name="Delete").click()
    questions.append(answer_confirm(page, accept=False))
    expect(page.locator(f"#grid img[src$='{copy_id}']")).to_have_count(1)
    assert requests.get(f"{lib_stack.api_url}/api/images/{copy_id}", timeout=10).ok
    assert "Delete this" in questions[0] and "restore" in questions[0]

    copy_card.get_by_role("button", name="Delete").click()
    answer_confirm(page, accept=True)
    expect(page.locator(f"#grid img[src$='{copy_id}']")).to_have_count(0)  # the group is gone
    assert_gone(lib_stack, copy_id)
    expect(page.locator("#toast")).to_contain_text("Deleted")
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(page.locator(f"#grid img[src$='{copy_id}']")).to_have_count(1)  # back, in its group
    assert requests.get(f"{lib_stack.api_url}/api/images/{copy_id}", timeout=10).ok
    assert original_id != copy_id


def test_a_photo_in_a_duplicate_group_opens_large(page, lib_stack, console):
    """▲ A click threw "Cannot read properties of undefined (reading 'breed')"."""
    copy_id, _ = add_resized_copy(lib_stack)
    page.goto(f"{lib_stack.api_url}/?view=duplicates")  # loaded directly, too
    group = page.locator(".dup-group").filter(has=page.locator(f"img[src$='{copy_id}']"))
    group.locator(f"button.card:has(img[src$='{copy_id}'])").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#lightbox-image")).to_have_attribute("src", f"/images/{copy_id}")
    expect(dialog.locator("#lightbox-meta")).to_contain_text("of 2")
    page.keyboard.press("Escape")
    expect(group.locator(f"button.card:has(img[src$='{copy_id}'])")).to_be_focused()
    assert console.unexpected() == []


def wait_until_settled(page) -> None:
    """The old results stay on screen while new ones load; the grid says when it is done."""
    expect(page.locator("#grid")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#grid.ranked .card").first).to_be_visible()


def test_min_similarity_hide_duplicates_and_export(page, lib_stack):
    first = next(iter_image_files(lib_stack.dataset_root))
    page.goto(f"{lib_stack.api_url}/?similar={content_id(first.path.read_bytes())}&k=24")
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    everything = [100 * value for value in card_similarities(page)]
    cut = int(sorted(everything)[len(everything) // 2])
    page.get_by_role("button", name="Options").click()
    page.locator("#min-similarity").fill(str(cut))
    page.locator("#min-similarity").dispatch_event("change")
    expect(page).to_have_url(re.compile(f"min={cut}"))
    wait_until_settled(page)
    shown = [100 * value for value in card_similarities(page)]
    assert shown and all(value >= cut for value in shown) and len(shown) < len(everything)
    page.get_by_label("Hide near-duplicates").check()
    expect(page).to_have_url(re.compile("dedupe=1"))
    wait_until_settled(page)
    count = page.locator("#grid .card").count()
    with page.expect_download() as info:
        page.get_by_role("button", name="CSV").click()
    rows = list(csv.reader(io.StringIO(Path(info.value.path()).read_text())))
    assert rows[0][:4] == ["rank", "id", "breed", "similarity"] and len(rows) == count + 1
    assert rows[1][1] == card_ids(page)[0]


def test_search_by_url_refuses_a_private_address(page, console):
    console.allow("status of 400")
    page.get_by_role("textbox", name="Image address").fill("http://127.0.0.1:9/dog.jpg")
    page.get_by_role("button", name="Search URL").click()
    expect(page.locator("#notice")).to_contain_text("cannot be fetched")


def test_drawing_a_region_on_the_query_searches_only_that_part(page, lib_stack):
    photo = next(iter_image_files(lib_stack.dataset_root))
    page.set_input_files("#photo-input", str(photo.path))
    expect(page.locator("#grid.ranked .card").first).to_be_visible()
    expect(page.locator("#crop-hint")).to_be_visible()
    frame = page.locator("#query-image").bounding_box()
    page.mouse.move(frame["x"] + frame["width"] * 0.3, frame["y"] + frame["height"] * 0.4)
    page.mouse.down()
    page.mouse.move(frame["x"] + frame["width"] * 0.7, frame["y"] + frame["height"] * 0.6, steps=5)
    page.mouse.up()
    expect(page.get_by_role("button", name="Search the whole photo")).to_be_visible()
    expect(page.locator("#crop-box")).to_be_visible()
    expect(page.locator("#query-meta")).not_to_contain_text("320 \u00d7 240")
    width, height = map(
        int, re.search(r"(\d+) \u00d7 (\d+) px", page.locator("#query-meta").inner_text()).groups()
    )
    assert 100 < width < 200 and 30 < height < 70  # about 40 % x 20 % of 320 x 240
    page.get_by_role("button", name="Search the whole photo").click()
    expect(page.locator("#query-meta")).to_contain_text("320 \u00d7 240")
    expect(page.locator("#crop-box")).to_be_hidden()


def test_after_a_delete_every_count_updates_and_focus_moves_to_the_next_photo(page, lib_stack):
    """▲ The heading kept the old count ("49-96 of 168" beside 167) and focus fell to <body>."""
    page.get_by_role("link", name=re.compile("^Golden retriever")).click()
    meta = page.locator("#view-meta")
    expect(meta).to_have_text(re.compile(r"of \d+ photos"))
    total = int(re.search(r"of (\d+)", meta.inner_text()).group(1))
    ids = card_ids(page)
    page.locator("#grid .card").nth(1).click()
    page.get_by_role("button", name="Delete…").click()
    answer_confirm(page, accept=True)
    expect(meta).to_have_text(re.compile(f"of {total - 1} photos?$"))
    expect(page.get_by_role("link", name=f"Golden retriever {total - 1}")).to_be_visible()
    assert card_ids(page) == [ids[0], *ids[2:]]
    focused = page.evaluate("document.activeElement.closest('button.card')?.dataset.id ?? null")
    assert focused == ids[2]  # the photo that took its place
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(meta).to_have_text(re.compile(f"of {total} photos$"))


def test_a_relabelled_photo_leaves_its_old_breeds_grid(page, lib_stack):
    """▲ It stayed in the old breed's grid, captioned "Unknown"."""
    page.get_by_role("link", name=re.compile("^Chihuahua")).click()
    expect(page.locator("#grid .card").first).to_be_visible()
    moved = card_ids(page)[0]
    page.locator("#grid .card").first.click()
    page.get_by_label("Change breed").select_option("unknown")
    page.get_by_role("button", name="Save breed").click()
    expect(page.locator("#lightbox-title")).to_have_text("Unknown")
    page.keyboard.press("Escape")
    expect(page.locator(f"#grid img[src$='{moved}']")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Unknown"))).to_be_visible()
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(page.locator(f"#grid img[src$='{moved}']")).to_have_count(1)


def test_deleted_photos_can_be_restored_from_their_view(page, lib_stack):
    target = sorted(iter_image_files(lib_stack.dataset_root), key=lambda f: f.relative_path)[-1]
    target_id = content_id(target.path.read_bytes())
    assert requests.delete(f"{lib_stack.api_url}/api/images/{target_id}", timeout=10).ok
    page.get_by_role("link", name="Deleted photos").click()
    card = page.locator("#grid > li").filter(has=page.locator(f"img[src$='{target_id}']"))
    expect(card).to_have_count(1)
    expect(card.get_by_role("button", name=re.compile("for good"))).to_have_count(0)  # original
    card.get_by_role("button", name=re.compile("^Restore")).click()
    expect(card).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("Restored")
    assert requests.get(f"{lib_stack.api_url}/api/images/{target_id}", timeout=10).ok


def test_add_panel_failures_exists_and_escape(page, lib_stack, console, tmp_path):
    console.allow("status of 400")
    existing = sorted(iter_image_files(lib_stack.dataset_root), key=lambda f: f.relative_path)[0]
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    page.get_by_role("button", name="Add photos…").click()
    page.get_by_label("Label them as").select_option("Japanese spaniel")
    page.set_input_files("#add-input", [str(existing.path), str(text)])
    rows = page.locator("#add-progress li")
    expect(rows.nth(0).locator(".outcome")).to_have_text(
        f"already in the library as {existing.breed[:1].upper() + existing.breed[1:]}; label kept"
    )
    expect(rows.nth(1).locator(".outcome")).to_contain_text("not a photo we can read")
    expect(rows.nth(1).locator("progress")).to_be_hidden()  # no full bar for a failure
    page.keyboard.press("Escape")
    expect(page.locator("#add-panel")).to_be_hidden()
    expect(page.get_by_role("button", name="Add photos…")).to_be_focused()


def test_a_write_asks_for_the_key_in_the_page_then_succeeds(chromium, console, keyed_api):
    """Writes need the key: the controls still show, the first write asks for it in a dialog,
    the tab keeps it (a second write and an undo do not ask), a stale key is asked again."""
    console.allow("status of 401")  # the refused write of a stale key, below
    url = keyed_api.api_url
    assert requests.get(f"{url}/api/stats", timeout=10).json()["writes"] == "key"
    page = open_page(chromium, console, url, viewport={"width": 1280, "height": 900})
    dialog = page.get_by_role("dialog", name="Write key needed")
    expect(page.get_by_role("button", name="Add photos…")).to_be_visible()
    target = card_ids(page)[0]
    before = requests.get(f"{url}/api/images/{target}", timeout=10).json()["breed"]
    new = "beagle" if before != "beagle" else "golden retriever"

    def breed_of() -> str:
        return requests.get(f"{url}/api/images/{target}", timeout=10).json()["breed"]

    page.locator("#grid .card").first.click()
    expect(page.get_by_role("button", name="Save breed")).to_be_visible()
    page.get_by_label("Change breed").select_option(new)
    page.get_by_role("button", name="Save breed").click()
    expect(dialog).to_be_visible()  # stats said so: asked before anything was sent
    page.get_by_label("Write key", exact=True).fill("not the key")
    page.get_by_role("button", name="Use key").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#notice")).to_contain_text("needs the write key")
    assert breed_of() == before
    assert page.evaluate("sessionStorage.getItem('dogsearch.writeKey')") is None

    page.get_by_role("button", name="Save breed").click()
    expect(dialog).to_be_visible()
    expect(page.get_by_text("That key was not accepted")).to_be_hidden()
    page.get_by_label("Write key", exact=True).fill(WRITE_KEY)
    page.get_by_label("Write key", exact=True).press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#lightbox-title")).to_have_text(re.compile(new, re.I))
    assert breed_of() == new
    assert page.evaluate("sessionStorage.getItem('dogsearch.writeKey')") == WRITE_KEY

    page.keyboard.press("Escape")
    page.locator("#toast").get_by_role("button", name="Undo").click()  # the tab has the key
    deadline = time.monotonic() + 10
    while breed_of() != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert breed_of() == before
    expect(dialog).to_be_hidden()

    page.evaluate("sessionStorage.setItem('dogsearch.writeKey', 'stale')")  # the key changed
    page.locator("#grid .card").filter(has=page.locator(f"img[src$='{target}']")).click()
    page.get_by_label("Change breed").select_option(new)
    page.get_by_role("button", name="Save breed").click()
    expect(dialog).to_be_visible()  # refused with 401, then asked
    expect(page.get_by_text("That key was not accepted")).to_be_visible()
    page.get_by_label("Write key", exact=True).fill(WRITE_KEY)
    page.get_by_role("button", name="Use key").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#lightbox-title")).to_have_text(re.compile(new, re.I))  # retried
    assert breed_of() == new
    headers = {"Authorization": f"Bearer {WRITE_KEY}"}
    restored = requests.patch(
        f"{url}/api/images/{target}", json={"breed": before}, headers=headers, timeout=10
    )
    assert restored.status_code == 200
    page.context.close()
    assert console.unexpected() == [], "the page logged errors"


def test_a_photo_deleted_from_a_photo_searchs_results_leaves_them(page, lib_stack):
    """▲ It stayed in the grid after a delete from the large view; "More like this" on it
    then said "Photo not found". Undo puts it back in its place."""
    photo = sorted(iter_image_files(lib_stack.dataset_root), key=lambda f: f.relative_path)[7]
    page.set_input_files("#photo-input", str(photo.path))
    wait_until_settled(page)
    ids = card_ids(page)
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(f"{len(ids)} similar photos")
    page.locator("#grid .card").nth(1).click()
    page.get_by_role("button", name="Delete…").click()
    answer_confirm(page, accept=True)
    expect(page.locator(f"#grid img[src$='{ids[1]}']")).to_have_count(0)
    assert card_ids(page) == [ids[0], *ids[2:]]
    expect(heading).to_have_text(f"{len(ids) - 1} similar photos")
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(page.locator(f"#grid img[src$='{ids[1]}']")).to_have_count(1)
    assert card_ids(page) == ids


def dup_layout(page) -> list[list[str]]:
    """The near-duplicates view as shown: each group's photo ids, in order."""
    return page.locator(".dup-group").evaluate_all(
        "groups => groups.map(g => [...g.querySelectorAll('img')]"
        ".map(i => i.getAttribute('src').split('/').pop()))"
    )


def test_undo_in_near_duplicates_puts_every_group_back_as_it_was(page, lib_stack):
    """▲ After delete A and Undo, "Delete…" on B said "This is the last copy left in its
    group" (A was back), and the groups came back in another order."""
    live = []
    for n in range(1, 12):  # originals the other tests have not deleted
        copy_id, original_id = add_resized_copy(lib_stack, n)
        if requests.get(f"{lib_stack.api_url}/api/images/{original_id}", timeout=10).ok:
            live.append((copy_id, original_id))
        if len(live) == 2:
            break
    (copy_id, original_id), _ = live
    page.get_by_role("link", name="Near-duplicates").click()
    group = page.locator(".dup-group").filter(has=page.locator(f"img[src$='{original_id}']"))
    expect(group.locator(".card")).to_have_count(2)
    before = dup_layout(page)
    original = group.locator("li").filter(has=page.locator(f"img[src$='{original_id}']"))
    original.get_by_role("button", name="Delete").click()
    answer_confirm(page, accept=True)
    expect(page.locator(f"#grid img[src$='{copy_id}']")).to_have_count(0)  # its group went
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(page.locator(f"#grid img[src$='{original_id}']")).to_have_count(1)
    assert dup_layout(page) == before
    questions = []
    copy = group.locator("li").filter(has=page.locator(f"img[src$='{copy_id}']"))
    copy.get_by_role("button", name="Delete").click()
    questions.append(answer_confirm(page, accept=False))
    expect(page.locator(f"#grid img[src$='{copy_id}']")).to_have_count(1)
    assert questions and "last copy" not in questions[0], questions


def test_the_undo_toast_waits_for_the_keyboard_and_keeps_clear_of_the_footer(page, lib_stack):
    """▲ It went after 10 s, about 50 Tabs away from the card focus was on, and covered the
    footer."""
    page.clock.install()
    page.get_by_role("link", name=re.compile("^Chihuahua")).click()
    expect(page.locator("#grid .card").first).to_be_visible()
    target = card_ids(page)[0]
    page.locator("#grid .card").first.focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Delete…").click()
    answer_confirm(page, accept=True)
    toast = page.locator("#toast")
    undo = toast.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    assert undo.get_attribute("aria-keyshortcuts")
    page.clock.run_for(15_000)
    expect(undo).to_be_visible()
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    footer, box = page.locator("footer").bounding_box(), undo.bounding_box()
    assert footer["y"] + footer["height"] <= box["y"], (footer, box)
    toast.hover()  # it stays while the pointer (or focus) is on it
    page.clock.run_for(60_000)
    expect(undo).to_be_visible()
    page.mouse.move(5, 5)
    focused = page.evaluate("document.activeElement.closest('button.card')?.dataset.id ?? null")
    assert focused  # focus stayed on the grid, where it was
    page.keyboard.press("Control+z")  # the shortcut the toast announces
    expect(page.locator(f"#grid img[src$='{target}']")).to_have_count(1)
    expect(toast).to_contain_text("Restored")
    page.clock.run_for(25_000)
    expect(toast).to_be_hidden()


def test_after_restore_focus_goes_to_the_next_deleted_photo(page, lib_stack):
    """▲ Focus fell to <body> with the Restore button it was on."""
    files = sorted(iter_image_files(lib_stack.dataset_root), key=lambda f: f.relative_path)
    ids = [content_id(f.path.read_bytes()) for f in files if f.breed == "golden retriever"][-3:]
    for image_id in ids:
        requests.delete(f"{lib_stack.api_url}/api/images/{image_id}", timeout=10)
    page.get_by_role("link", name="Deleted photos").click()
    first = page.locator("#grid > li").first
    gone = first.locator("img").get_attribute("src").rsplit("/", 1)[-1]
    first.get_by_role("button", name=re.compile("^Restore")).focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#grid img[src$='{gone}']")).to_have_count(0)
    expect(page.locator("#grid > li").first.locator("button.card")).to_be_focused()
    for image_id in ids:
        requests.post(f"{lib_stack.api_url}/api/images/{image_id}/restore", timeout=10)


def test_enter_again_while_searching_by_address_sends_one_search(page, console):
    """▲ Enter pressed five times sent five searches."""
    console.allow("status of 400")
    held = []
    page.route("**/api/search", lambda route: held.append(route))
    address = page.get_by_role("textbox", name="Image address")
    address.fill("http://127.0.0.1:9/dog.jpg")
    for _ in range(5):
        address.press("Enter")
    page.wait_for_timeout(500)
    assert len(held) == 1
    held.pop().continue_()
    expect(page.locator("#notice")).to_contain_text("cannot be fetched")
    address.press("Enter")  # once it has answered, the next search goes
    page.wait_for_timeout(300)
    assert len(held) == 1
    held.pop().continue_()
