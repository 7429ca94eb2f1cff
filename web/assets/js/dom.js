// Building the page from data: every string becomes a text node or an attribute value,
// never markup, so user-supplied text (chat, names, titles) can only ever show as text.

/** An element: `h("a", {href: "/", class: "x", onclick: fn}, "text", child, ...)`. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "disabled" || key === "hidden") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (elements, strings as text, arrays, nothing for null/false). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A <time> for chat lines: hours and minutes, the full instant as its datetime. */
export function clock(iso) {
  const at = new Date(iso);
  return h("time", { datetime: at.toISOString(), title: dateFormat.format(at) }, timeFormat.format(at));
}

export function when(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "";
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600), minutes = Math.floor((s % 3600) / 60), rest = s % 60;
  return hours ? `${hours} h ${minutes} min` : minutes ? `${minutes} min ${rest} s` : `${rest} s`;
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/** A user's initials, for an avatar without a picture. */
export function initials(name) {
  return (name || "?").trim().slice(0, 1).toUpperCase() || "?";
}

/** An avatar: the image when there is one, else the initial. */
export function avatar(url, name, size = "") {
  if (url) return h("img", { class: `avatar ${size}`, src: url, alt: "" });
  return h("span", { class: `avatar ${size}`, "aria-hidden": "true" }, initials(name));
}

/** Announces a short status to screen readers (and shows it in `el`). */
export function say(el, text) {
  if (el) el.textContent = text;
}
