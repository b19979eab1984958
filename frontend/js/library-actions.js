// Changes to the library from any view: delete (asked first, undoable), relabel, restore. Each
// ends by refreshing every view that shows the photo and the breed counts.
import { api } from "./api.js";
import { confirmAction } from "./confirm-dialog.js";
import { actions, app, labelOf } from "./context.js";
import { showError, toast } from "./feedback.js";

/** Restore a deleted photo; true when it is back. */
export async function restorePhoto(id, label = "photo") {
  try {
    await api.restore(id);
  } catch (error) {
    showError(error);
    return false;
  }
  app.removed.delete(id);
  toast(`Restored the ${label}.`);
  await Promise.all([actions.refresh(), actions.refreshBreeds()]);
  return true;
}

/** Delete ``item`` after asking (``question`` overrides the words); true when deleted. */
export async function deletePhoto(item, { question = null } = {}) {
  const label = `${labelOf(item.breed)} photo`;
  const message = question ?? `You can restore it from “Deleted photos”.`;
  if (!(await confirmAction({ title: `Delete this ${label}?`, message }))) return false;
  try {
    await api.deleteImage(item.id);
  } catch (error) {
    showError(error);
    return false;
  }
  app.removed.add(item.id);
  toast(`Deleted the ${label}.`, { action: "Undo", onAction: () => restorePhoto(item.id, label) });
  await Promise.all([actions.refresh(), actions.refreshBreeds()]);
  return true;
}

/** Give ``item`` another breed; returns the stored row, or null when it failed. */
export async function relabelPhoto(item, breed) {
  let row;
  try {
    row = await api.relabel(item.id, breed);
  } catch (error) {
    showError(error);
    return null;
  }
  const before = item.breed;
  item.breed = row.breed;
  toast(`Now labelled ${labelOf(row.breed)}.`, {
    action: "Undo",
    onAction: async () => {
      if (await api.relabel(item.id, before).catch(showError)) item.breed = before;
      await Promise.all([actions.refresh(), actions.refreshBreeds()]);
    },
  });
  await Promise.all([actions.refresh(), actions.refreshBreeds()]);
  return row;
}
