// The breed list (browse by breed), its filter box, and on phones the button that shows it.
import { actions, app, labelOf } from "./context.js";
import { $, element } from "./dom.js";
import { count, plural } from "./format.js";

const PHONE = window.matchMedia("(max-width: 720px)");

export function renderBreeds() {
  const link = (name, label, n) => {
    const a = element("a", { href: name ? `/?breed=${encodeURIComponent(name)}` : "/" }, [
      element("span", { textContent: label }),
      element("span", { className: "count", textContent: count(n) }),
    ]);
    a.dataset.breed = name;
    return element("li", {}, [a]);
  };
  $("breed-list").replaceChildren(
    link("", "All breeds", app.total),
    ...app.breeds.map((b) => link(b.name, labelOf(b.name), b.count)),
  );
  $("breed-filter").placeholder = `Filter ${plural(app.breeds.length, "breed")}`;
  filterBreeds();
}

/** Mark the breed being browsed (none while searching). */
export function markCurrentBreed(state, breed) {
  for (const a of $("breed-list").querySelectorAll("a")) {
    const current = !state.similar && !state.view && a.dataset.breed === (breed ?? "");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function filterBreeds() {
  const needle = $("breed-filter").value.trim().toLowerCase();
  let shown = 0;
  for (const item of $("breed-list").children) {
    item.hidden = Boolean(needle) && !item.textContent.toLowerCase().includes(needle);
    shown += item.hidden ? 0 : 1;
  }
  const none = $("breed-none");
  none.textContent = shown ? "" : `No breed matches “${needle.slice(0, 40)}”.`;
  none.hidden = shown > 0;
}

function setBreedsOpen(open) {
  $("layout").classList.toggle("breeds-open", open);
  $("breeds-toggle").setAttribute("aria-expanded", String(open));
  $("breeds-toggle").textContent = open ? "Hide breeds" : "Breeds";
}

export function initBreeds() {
  $("breed-filter").addEventListener("input", filterBreeds);
  $("breed-list").addEventListener("click", (event) => {
    const link = event.target.closest("a");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    if (PHONE.matches) setBreedsOpen(false);
    actions.navigate({ breed: link.dataset.breed || null, page: 1 });
  });
  $("breeds-toggle").addEventListener("click", () => {
    const open = !$("layout").classList.contains("breeds-open");
    setBreedsOpen(open);
    if (open) $("breed-filter").focus();
  });
}
