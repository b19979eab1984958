// Three ways to give a query photo: the file picker, drag-and-drop anywhere, or paste.

function firstImageFile(items) {
  for (const item of items ?? []) {
    const file = item instanceof File ? item : item.kind === "file" ? item.getAsFile() : null;
    if (file) return file;
  }
  return null;
}

/** Calls ``onPhoto(file)`` for every photo the user gives, however they give it. */
export function listenForPhotos(onPhoto) {
  const input = document.getElementById("photo-input");
  const overlay = document.getElementById("drop-overlay");
  let dragDepth = 0;

  input.addEventListener("change", () => {
    const file = input.files?.[0];
    if (file) onPhoto(file);
    input.value = ""; // choosing the same file again still searches
  });

  const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    dragDepth += 1;
    overlay.hidden = false;
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) overlay.hidden = true;
  });
  document.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault(); // allow the drop
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    overlay.hidden = true;
    const file = firstImageFile(event.dataTransfer.files);
    if (file) onPhoto(file);
  });

  document.addEventListener("paste", (event) => {
    if (event.target instanceof HTMLInputElement && event.target.type !== "file") return;
    const file = firstImageFile(event.clipboardData?.items);
    if (file) {
      event.preventDefault();
      onPhoto(file);
    }
  });
}
