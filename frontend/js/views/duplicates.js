// ?view=duplicates: groups of near-copies side by side, each photo with Delete (asked first,
// undoable). The view is fetched again after every change, so a group with one photo left goes.
import { api } from "../api.js";
import { app, labelOf } from "../context.js";
import { $, element } from "../dom.js";
import { setHeading, showEmpty } from "../feedback.js";
import { count, percent, plural } from "../format.js";
import { renderGrid } from "../grid.js";
import { deletePhoto } from "../library-actions.js";
import { hideQuery, showItems } from "./results.js";

const groupOf = new Map(); // photo id -> the ids of its group, as last shown

/** What to ask before deleting ``item``: more when no other copy of it would be left. */
export function deleteQuestion(item) {
  const label = `${labelOf(item.breed)} photo`;
  // A group may still list a photo deleted a moment ago; an undone delete counts again.
  const others = (groupOf.get(item.id) ?? []).filter((id) => id !== item.id && !app.removed.has(id));
  if (groupOf.has(item.id) && others.length === 0) {
    return `This is the last copy left in its group: nothing like this ${label} will be left in the library. You can restore it from “Deleted photos”.`;
  }
  return null;
}

function groupSection(group, n) {
  const list = element("ul", { className: "grid" });
  const items = group.images.map((image, i) => ({ ...image, similarity: i ? group.max_similarity : undefined }));
  renderGrid(list, items);
  list.querySelectorAll("li").forEach((li, i) => {
    const remove = element("button", { type: "button", className: "danger", textContent: "Delete…" });
    remove.setAttribute("aria-label", `Delete ${labelOf(items[i].breed)} photo ${i + 1} of group ${n + 1}`);
    remove.addEventListener("click", () => deletePhoto(items[i], { question: deleteQuestion(items[i]) }));
    li.append(element("div", { className: "card-actions" }, [remove]));
  });
  const title = `Group ${n + 1}: ${group.images.length} photos, up to ${percent(group.max_similarity)} alike`;
  return element("section", { className: "dup-group" }, [element("h2", { textContent: title }), list]);
}

const cards = () => [...$("grid").querySelectorAll(".dup-group button.card")];

export async function duplicatesView(state, token) {
  const active = document.activeElement?.closest?.(".dup-group li")?.querySelector("button.card");
  const focused = cards().indexOf(active); // after a delete, focus goes to the card that took its place
  hideQuery();
  setHeading("Near-duplicates");
  const body = await api.duplicates();
  if (token !== app.token) return;
  showItems([], { ranked: false });
  groupOf.clear();
  for (const group of body.groups) {
    const ids = group.images.map((image) => image.id);
    for (const id of ids) groupOf.set(id, ids);
  }
  $("grid").classList.add("groups");
  $("grid").replaceChildren(
    ...body.groups.map((group, n) => element("li", { className: "dup-item" }, [groupSection(group, n)])),
  );
  setHeading(
    `${plural(body.groups.length, "group")} of near-duplicates`,
    `${count(body.compared)} photos compared at a look similarity of ${percent(body.threshold)} or more in ${body.seconds} s`,
  );
  if (focused >= 0) (cards()[Math.min(focused, cards().length - 1)] ?? $("main")).focus();
  if (!body.groups.length) showEmpty("No near-duplicates.", "Every photo looks different from the others.");
}
