// Small DOM and formatting helpers shared by the page's modules.

const SVG_NS = "http://www.w3.org/2000/svg";

// Each verdict has its own shape as well as its own colour, so colour is never the only signal.
const ICON_PATHS = {
  real: "M12 2a10 10 0 100 20 10 10 0 000-20zm-1.2 14.2L6.6 12l1.4-1.4 2.8 2.8 5.2-5.2 1.4 1.4-6.6 6.6z",
  fake: "M12 2l2.2 7.8L22 12l-7.8 2.2L12 22l-2.2-7.8L2 12l7.8-2.2L12 2z",
  error: "M12 2L1 21h22L12 2zm1 15h-2v2h2v-2zm0-7h-2v5h2v-5z",
  // A circle with a question mark: the model's score is not a verdict here.
  unsure: "M12 2a10 10 0 100 20 10 10 0 000-20zm1 16h-2v-2h2v2zm2.1-7.8l-.9.9c-.7.7-1.2 1.3-1.2 2.9h-2v-.5"
    + "c0-1.1.5-2.1 1.2-2.8l1.2-1.3c.4-.4.6-.9.6-1.4 0-1.1-.9-2-2-2s-2 .9-2 2H8c0-2.2 1.8-4 4-4s4 1.8 4 4"
    + "c0 .9-.4 1.7-.9 2.2z",
  // A shield with a tick: signed Content Credentials.
  credentials: "M12 1L3 5v6c0 5.6 3.8 10.7 9 12 5.2-1.3 9-6.4 9-12V5l-9-4zm-1.6 15.2L6.6 12.4 8 11l2.4 2.4L16 7.8"
    + "l1.4 1.4-7 7z",
  // A shield with an exclamation mark: Content Credentials that failed validation or could not be read.
  "credentials-unverified": "M12 1L3 5v6c0 5.6 3.8 10.7 9 12 5.2-1.3 9-6.4 9-12V5l-9-4zm-1 5h2v7h-2zm0 9h2v2h-2z",
  // A tag: metadata written into the file.
  metadata: "M21.4 11.6l-9-9C12 2.2 11.5 2 11 2H4c-1.1 0-2 .9-2 2v7c0 .6.2 1.1.6 1.4l9 9c.4.4.9.6 1.4.6s1-.2 1.4-.6"
    + "l7-7c.4-.4.6-.9.6-1.4s-.2-1-.6-1.4zM5.5 7C4.7 7 4 6.3 4 5.5S4.7 4 5.5 4 7 4.7 7 5.5 6.3 7 5.5 7z",
};

// Bidirectional formatting characters (embeddings, overrides, isolates, marks), control characters
// and line or paragraph separators. A name taken from a file could use them to reverse or hide the
// words shown after it ("Nikon" + U+202E + "...").
const UNSAFE_TEXT = /[\p{Cc}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/gu;

/** A string from an uploaded file, fit to show: formatting controls removed; "" for a non-string. */
export function cleanText(value) {
  if (typeof value !== "string" && typeof value !== "number") {
    return "";
  }
  return String(value).replace(UNSAFE_TEXT, "").trim();
}

/** Create an element; `text` sets textContent, `attrs` sets attributes. */
export function el(tag, { className, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  for (const [name, value] of Object.entries(attrs ?? {})) {
    node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

/** A decorative inline SVG icon; the text next to it carries the meaning. */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICON_PATHS[name]);
  path.setAttribute("fill-rule", "evenodd");
  svg.append(path);
  return svg;
}

/** 0.7341 -> "73.4%"; the ends say "<0.1%" and ">99.9%" rather than round to a certainty. */
export function formatPercent(probability) {
  const value = Number(probability);
  if (!Number.isFinite(value)) {
    return "–";
  }
  if (value > 0 && value < 0.0005) {
    return "<0.1%";
  }
  if (value < 1 && value >= 0.9995) {
    return ">99.9%";
  }
  return `${(value * 100).toFixed(1)}%`;
}

/** 1536 -> "1.5 KB". */
export function formatBytes(bytes) {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
