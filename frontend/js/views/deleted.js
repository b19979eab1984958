// ?view=deleted: every deleted photo, newest first, with Restore; photos added through the page
// can also be deleted for good (dataset originals stay in the dataset folder whatever happens).
import { api } from "../api.js";
import { confirmAction } from "../confirm-dialog.js";
import { actions, app, labelOf } from "../context.js";
import { $, element } from "../dom.js";
import { setHeading, showEmpty, showError, toast } from "../feedback.js";
import { plural } from "../format.js";
import { renderGrid } from "../grid.js";
import { restorePhoto } from "../library-actions.js";
import { hideQuery, showItems } from "./results.js";

async function purge(item) {
  const label = `${labelOf(item.breed)} photo`;
  const sure = await confirmAction({
    title: `Delete this ${label} for good?`,
    message: "Its file is removed; this cannot be undone.",
    confirm: "Delete for good",
  });
  if (!sure) return;
  try {
    await api.purge(item.id);
  } catch (error) {
    showError(error);
    return;
  }
  toast(`Deleted the ${label} for good.`);
  await actions.refresh();
}

function actionsFor(item, index) {
  const restore = element("button", { type: "button", textContent: "Restore" });
  restore.setAttribute("aria-label", `Restore ${labelOf(item.breed)} photo ${index + 1}`);
  restore.addEventListener("click", () => restorePhoto(item.id, `${labelOf(item.breed)} photo`));
  const buttons = [restore];
  if (item.in_library) {
    const forGood = element("button", { type: "button", className: "danger", textContent: "Delete for good…" });
    forGood.setAttribute("aria-label", `Delete ${labelOf(item.breed)} photo ${index + 1} for good`);
    forGood.addEventListener("click", () => purge(item));
    buttons.push(forGood);
  }
  return element("div", { className: "card-actions" }, buttons);
}

export async function deletedView(state, token) {
  hideQuery();
  setHeading("Deleted photos");
  const body = await api.deleted();
  if (token !== app.token) return;
  showItems([], { ranked: false });
  renderGrid($("grid"), body.images);
  app.items = body.images;
  $("grid").querySelectorAll(":scope > li").forEach((li, i) => li.append(actionsFor(body.images[i], i)));
  setHeading(
    "Deleted photos",
    body.total ? `${plural(body.total, "photo")}, newest first. Restored photos are searchable at once.` : "",
  );
  if (!body.total) showEmpty("Nothing has been deleted.", "Photos you delete appear here, ready to restore.");
}
