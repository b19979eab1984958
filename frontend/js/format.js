// Display helpers: how numbers and durations read on the page. Breed names: context.labelOf.

export const count = (n) => Number(n).toLocaleString("en");

export const percent = (similarity) => `${(similarity * 100).toFixed(1)}%`;

export function bytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} KB`;
}

export const ms = (value) => `${Math.round(value)} ms`;

export function plural(n, word) {
  return `${count(n)} ${word}${n === 1 ? "" : "s"}`;
}
