// Download the ranked results on screen as JSON or CSV (made in the browser, nothing uploaded).

const COLUMNS = ["rank", "id", "breed", "similarity", "look", "same_breed", "path", "width", "height", "image_url"];

function csvCell(value) {
  const text = value === undefined || value === null ? "" : String(value);
  // Quote every cell; a leading = + - @ is neutralised so spreadsheets never run it as a formula.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replaceAll('"', '""')}"`;
}

export function resultsAsCsv(items) {
  const rows = items.map((item, i) => COLUMNS.map((c) => csvCell(c === "rank" ? i + 1 : item[c])));
  return [COLUMNS.map(csvCell), ...rows].map((row) => row.join(",")).join("\r\n") + "\r\n";
}

export function resultsAsJson(items, query) {
  const results = items.map((item, i) => Object.fromEntries(COLUMNS.map((c) => [c, c === "rank" ? i + 1 : item[c]])));
  return `${JSON.stringify({ query, results }, null, 2)}\n`;
}

export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
