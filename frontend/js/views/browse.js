// Browsing: all photos or one breed's, a page at a time.
import { api } from "../api.js";
import { actions, app, findBreed, labelOf } from "../context.js";
import { element } from "../dom.js";
import { setHeading, showEmpty } from "../feedback.js";
import { count, plural } from "../format.js";
import { showItems, showPager } from "./results.js";

export const PER_PAGE = 48;

export async function browse(state, token) {
  const breed = state.breed ? (findBreed(state.breed) ?? state.breed) : null;
  const title = breed ? labelOf(breed) : "All breeds";
  setHeading(title);
  let body;
  try {
    body = await api.images({ breed, page: state.page, perPage: PER_PAGE });
  } catch (error) {
    if (error.code !== "unknown_breed" || token !== app.token) throw error;
    showItems([], { ranked: false });
    setHeading("Breed not found");
    const all = element("a", { href: "/", textContent: "Show all breeds" });
    all.addEventListener("click", (event) => {
      event.preventDefault();
      actions.navigate({ breed: null, page: 1 });
    });
    showEmpty(`There is no breed “${state.breed.slice(0, 60)}” in the library.`, "", all);
    return;
  }
  if (token !== app.token) return;
  if (body.pages > 0 && body.page > body.pages) {
    // A link past the end (or the last page emptied by deletions): the last page there is.
    actions.navigate({ ...state, breed, page: body.pages }, { replace: true, focus: false });
    return;
  }
  showItems(body.images, { ranked: false });
  const first = (body.page - 1) * body.per_page + 1;
  const last = first + body.images.length - 1;
  setHeading(title, body.total ? `${count(first)}–${count(last)} of ${plural(body.total, "photo")}` : "");
  showPager(body.page, body.pages);
  if (body.total === 0 && !breed) {
    showEmpty(
      "The index is empty: run the ingest.",
      "Index a folder of photos in the Stanford Dogs layout with `make up IMAGES=/path/to/Images` " +
        "or `python -m scripts.jobs.ingest /path/to/Images`, then reload this page.",
    );
  } else if (body.total === 0) {
    showEmpty(`No ${labelOf(breed)} photos are left.`, "Pick another breed, or restore one from “Deleted photos”.");
  }
}
