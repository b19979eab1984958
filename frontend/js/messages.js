// One message per error, written for a person. The API's codes stay in the API (and in the
// browser console, for whoever debugs); its English messages are for developers, except that
// a message that carries numbers (a size and its limit) is shown too: they are the point.

// What the person was doing, as the messages name it.
const ACTIONS = {
  search: { doing: "Photo search", options: "One of the search options was out of range; it has been reset." },
  add: { doing: "Adding photos", options: "The server refused one of the values sent." },
  why: { doing: "Explaining a match", options: "The server refused one of the values sent." },
};

// A message, or [what happened, what to do], or a function of the action's words.
const MESSAGES = {
  network: "Cannot reach the dogsearch server. Is it running?",
  invalid_image: "That file is not a photo we can read. Try a JPEG, PNG, WebP or GIF.",
  empty_file: "That file is empty.",
  image_too_large: ["That file is too big to upload.", "Make it smaller and try again."],
  too_many_pixels: ["That photo has too many pixels.", "Make it smaller (fewer megapixels) and try again."],
  too_many_images: ["That is too many photos at once.", "Add them in smaller batches."],
  payload_too_large: ["That is too much to upload at once.", "Send fewer or smaller photos."],
  uri_too_long: "That address is too long.",
  no_image: "Choose a photo first.",
  url_not_allowed: "That address cannot be fetched: only public http and https addresses can.",
  url_credentials: "Addresses with a user name or password are not fetched. Use the photo's public address.",
  url_fetch_failed: "The photo at that address could not be downloaded.",
  encoder_unavailable: ({ doing }) => `${doing} is down: the encoder service is not answering. Browsing still works.`,
  encoder_timeout: "The encoder took too long to answer. Try again.",
  milvus_unavailable: "The photo database (Milvus) is not answering. Try again in a moment.",
  overloaded: "The service is busy. Try again in a moment.",
  model_mismatch: "The library was indexed by another model than the one running now; it needs re-indexing.",
  unknown_breed: "There is no such breed in the library.",
  invalid_breed: "Choose a breed from the list.",
  not_found: "That photo is not in the library. It may have been deleted.",
  file_missing: "The photo's file is missing from the dataset folder, so it cannot be restored.",
  file_changed: "The photo's file has changed since it was deleted, so it cannot be restored as it was.",
  read_only_original: "Dataset originals are never deleted for good; they can only be restored.",
  storage_error: "The photo could not be stored: the library folder is not writable or is full.",
  unauthorized: "Changing the library needs the write key, and none was accepted. Try again to enter it.",
  invalid_box: "That region of the photo could not be used. Draw it again.",
};

// Codes whose API message gives the size and the limit (only these: an address in another
// message is not for the person).
const WITH_NUMBERS = new Set([
  "image_too_large",
  "too_many_pixels",
  "too_many_images",
  "payload_too_large",
  "uri_too_long",
]);

/** The API's message as a sentence, when it carries the numbers of a limit; else "". */
function numbersOf(error) {
  const text = String(error?.message ?? "").trim();
  if (!WITH_NUMBERS.has(error?.code) || !/\d/.test(text)) return "";
  const sentence = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/**
 * The person's message for an ``ApiError`` (or any error), in the words of ``action``
 * ("search", "add" or "why"): what happened, the API's numbers if it gave any, what to do.
 */
export function messageFor(error, action = "search") {
  const words = ACTIONS[action] ?? ACTIONS.search;
  let known = MESSAGES[error?.code];
  if (typeof known === "function") known = known(words);
  if (known) {
    const [what, advice] = Array.isArray(known) ? known : [known, ""];
    return [what, numbersOf(error), advice].filter(Boolean).join(" ");
  }
  if (error?.code?.startsWith("invalid_")) return words.options;
  if (error?.status >= 500) return "Something went wrong on the server. Try again in a moment.";
  if (error?.status >= 400) return "The server could not do that.";
  return "Something went wrong in the page. Reload it and try again.";
}

/** Said when a link or a reload asks for a photo search's results: the photo is not kept. */
export const PHOTO_NOT_KEPT =
  "The photo of that search is not kept after a reload or in a new tab, so all breeds are shown. Search with it again to see its results.";

/** What to try when a search found nothing, naming only the options that narrowed it. */
export function noMatchHint({ breed = null, minSimilarity = 0 } = {}) {
  const tries = [];
  if (breed) tries.push("choose “any breed”");
  if (minSimilarity > 0) tries.push("lower the minimum similarity");
  if (!tries.length) return "No photo in the library is close enough to show. Try another photo.";
  const text = tries.join(" or ");
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}
