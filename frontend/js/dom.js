// The two DOM helpers every module uses.

export const $ = (id) => document.getElementById(id);

/** A new element with properties and children: element("a", { href }, ["text"]). */
export function element(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

/** ``fn`` once the calls stop for ``wait`` ms: a search per pause, not per key press. */
export function debounce(fn, wait) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}
