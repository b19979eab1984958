// One message per error, written for a person. The API's codes stay in the API (and in the
// browser console, for whoever debugs); its English messages are for developers.

const MESSAGES = {
  network: "Cannot reach the dogsearch server. Is it running?",
  invalid_image: "That file is not a photo we can read. Try a JPEG, PNG, WebP or GIF.",
  empty_file: "That file is empty.",
  image_too_large: "That file is too big to upload.",
  too_many_pixels: "That photo has too many pixels to search. Make it smaller (fewer megapixels) and try again.",
  too_many_images: "That is too many photos at once. Add them in smaller batches.",
  no_image: "Choose a photo first.",
  url_not_allowed: "That address cannot be fetched: only public http and https addresses can.",
  url_credentials: "Addresses with a user name or password are not fetched. Use the photo's public address.",
  url_fetch_failed: "The photo at that address could not be downloaded.",
  encoder_unavailable: "Photo search is down: the encoder service is not answering. Browsing still works.",
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
  invalid_box: "That region of the photo could not be used. Draw it again.",
};

/** The person's message for an ``ApiError`` (or any error). */
export function messageFor(error) {
  if (MESSAGES[error?.code]) return MESSAGES[error.code];
  if (error?.code?.startsWith("invalid_")) return "One of the search options was out of range; it has been reset.";
  if (error?.status >= 500) return "Something went wrong on the server. Try again in a moment.";
  if (error?.status >= 400) return "The server could not do that.";
  return "Something went wrong in the page. Reload it and try again.";
}
