// One table row per image: preview, file name, and a verdict cell that follows the entry's state
// (waiting, checking, done, error). Every piece of text from a file name or the API goes in
// through textContent, never as HTML.
import { el, icon, formatBytes, formatPercent } from "./dom.js";
import { evidenceSummary, renderEvidence } from "./evidence.js";

// The API's `verdict` (docs/api.md) in words. Only evidence or an in-scope score outside the unsure
// band gets a verdict; everything else is "Unsure", shown in amber, never in the AI colour.
export const VERDICT_TEXT = {
  ai_generated_by_credentials: "AI-generated, say its Content Credentials",
  likely_ai: "Likely AI-generated",
  unsure: "Unsure",
  likely_real: "Likely real",
};
const VERDICT_STYLE = {
  ai_generated_by_credentials: { className: "verdict-credentials", icon: "credentials", bar: "is-fake" },
  likely_ai: { className: "verdict-fake", icon: "fake", bar: "is-fake" },
  unsure: { className: "verdict-unsure", icon: "unsure", bar: "is-unsure" },
  likely_real: { className: "verdict-real", icon: "real", bar: "is-real" },
};
// Said under a result whose `verdict` is missing or unknown, shown as "Unsure".
const UNKNOWN_VERDICT_NOTE = "The detector's answer has no verdict this page knows, so it is shown as Unsure.";

// Within this distance of the threshold a verdict is marked as a close call.
const CLOSE_CALL_MARGIN = 0.1;

/** The verdict code of a result: the API's `verdict` when the page knows it, else "unsure".
 *  There is no fallback to `label`: the page and the API are deployed together, so a result
 *  without a known verdict is a bug or a newer API, and must never be shown as an accusation. */
export function verdictOf(result) {
  return knowsVerdict(result) ? result.verdict : "unsure";
}

function knowsVerdict(result) {
  return typeof result?.verdict === "string" && Object.hasOwn(VERDICT_TEXT, result.verdict);
}

// What each error code means, in words; the message is shown under it. Every code in docs/api.md's
// error table has one (tests/site/test_site_config.py checks), then the page's own codes.
const ERROR_TITLES = {
  empty_file: "This file is empty",
  file_too_large: "This file is too large",
  too_many_pixels: "This image has too many pixels",
  decode_too_large: "This image is too large to decode",
  image_too_complex: "This image is too complex to decode",
  extreme_aspect_ratio: "This image is too long and thin to judge",
  unsupported_media_type: "Not an image the detector can read",
  undecodable_image: "This image is damaged or incomplete",
  no_file: "The image did not reach the detector",
  too_many_files: "Too many images in one upload",
  request_too_large: "This upload is too large",
  unsupported_content_type: "The upload was not sent as an image",
  malformed_request: "The upload arrived garbled",
  not_found: "The detector service was not found at its address",
  method_not_allowed: "The detector service refused this kind of request",
  model_unavailable: "The detector's model is not available",
  overloaded: "The detector is busy",
  deadline_exceeded: "The detector ran out of time for this image",
  name_too_long: "The file name is too long",
  internal_error: "The detector had a problem",
  unreadable_file: "The file could not be read",
  network_error: "Could not reach the detector",
  timeout: "The detector took too long",
  bad_response: "The detector's answer could not be read",
  display_error: "This page could not show the result",
  cancelled: "The check was cancelled",
};

/** Build the <tr> for a new entry; `onRetry(entry)` is called by its Retry button. */
export function createRow(entry, onRetry) {
  const previewCell = el("td", { className: "cell-preview" });
  // The name is the user's file's: shown without formatting controls, isolated from the text around it.
  const nameCell = el("td", { className: "cell-file" }, [
    el("bdi", { className: "file-name", text: entry.shownName }),
    el("span", { className: "file-meta" }),
  ]);
  const verdictCell = el("td", { className: "cell-verdict", attrs: { tabindex: "-1" } });
  const row = el("tr", { className: "result-row" }, [previewCell, nameCell, verdictCell]);
  row.dataset.rowId = String(entry.id);
  entry.row = row;
  entry.onRetry = onRetry;
  renderPreview(entry);
  renderRow(entry);
  return row;
}

/** Show the decoded preview (or a placeholder when the browser cannot decode the file). */
export function renderPreview(entry) {
  const cell = entry.row.querySelector(".cell-preview");
  if (entry.preview === undefined) {
    cell.replaceChildren(el("span", { className: "no-preview", text: "…" }));
  } else if (entry.preview === null) {
    cell.replaceChildren(el("span", { className: "no-preview", text: "No preview" }));
  } else {
    cell.replaceChildren(entry.preview.canvas);
  }
  renderFileMeta(entry);
}

/** Bring the row in line with `entry.status`. */
export function renderRow(entry) {
  const { row } = entry;
  row.dataset.status = entry.status;
  row.setAttribute("aria-busy", String(isPending(entry)));
  const cell = row.querySelector(".cell-verdict");
  if (entry.status === "waiting") {
    cell.replaceChildren(stateLine("Waiting…", false));
  } else if (entry.status === "checking") {
    cell.replaceChildren(stateLine("Checking…", true));
  } else if (entry.status === "busy") {
    cell.replaceChildren(stateLine("Busy, retrying…", true));
  } else if (entry.status === "done") {
    cell.replaceChildren(...verdictContent(entry.result));
  } else {
    cell.replaceChildren(...errorContent(entry));
  }
  renderFileMeta(entry);
}

/** Waiting for its turn, being checked, or waiting to be asked again. */
export function isPending(entry) {
  return entry.status === "waiting" || entry.status === "checking" || entry.status === "busy";
}

/** The sentence the live region reads for a finished entry. */
export function announcement(entry) {
  if (entry.status === "done") {
    const { result } = entry;
    const evidence = evidenceSummary(result.evidence);
    const note = noteOf(result);
    return `${entry.shownName}: ${VERDICT_TEXT[verdictOf(result)]}, `
      + `${formatPercent(result.probability_fake)} probability of being AI-generated.`
      + (isCloseCall(result) ? " A close call." : "")
      + (evidence ? ` ${evidence}.` : "")
      + (note ? ` ${note}` : "");
  }
  return `${entry.shownName}: ${errorTitle(entry.error)}. ${entry.error.message}`;
}

export function errorTitle(error) {
  if (Object.hasOwn(ERROR_TITLES, error.code)) {
    return ERROR_TITLES[error.code];
  }
  if (error.status === 429) {
    return ERROR_TITLES.overloaded;
  }
  if (error.kind === "service") {
    return "Could not use the detector service";
  }
  return error.kind === "rejected" ? "The detector could not check this file" : "The detector had a problem";
}

/** The API's note, plus a word when the verdict is one the page does not know. */
function noteOf(result) {
  const parts = [result.note, knowsVerdict(result) ? null : UNKNOWN_VERDICT_NOTE].filter(Boolean);
  return parts.join(" ");
}

// The pixel size is the API's (after EXIF orientation): previews are decoded already shrunk.
function renderFileMeta(entry) {
  const parts = [formatBytes(entry.size)];
  const width = entry.result?.width;
  const height = entry.result?.height;
  if (width && height) {
    parts.push(`${width} × ${height} px`);
  }
  entry.row.querySelector(".file-meta").textContent = parts.join(" · ");
}

function stateLine(text, spinning) {
  const children = [el("span", { text })];
  if (spinning) {
    children.unshift(el("span", { className: "spinner", attrs: { "aria-hidden": "true" } }));
  }
  return el("p", { className: "state" }, children);
}

// Near the threshold a score is little better than a coin toss: said next to a verdict the score made.
function isCloseCall(result) {
  const fromScore = ["likely_ai", "likely_real"].includes(verdictOf(result)) && !decidedByEvidence(result);
  return fromScore && Math.abs(result.probability_fake - result.threshold) < CLOSE_CALL_MARGIN;
}

// The API's rule (imageauth/verdict.py `_from_evidence`): valid credentials that say AI, valid
// credentials from a trusted signer that say "captured", or generator metadata decide the verdict.
function decidedByEvidence(result) {
  const evidence = (Array.isArray(result.evidence) ? result.evidence : [])
    .filter((entry) => entry !== null && typeof entry === "object");
  const credentials = evidence.filter((entry) => entry.kind === "c2pa" && entry.status === "valid");
  return credentials.some((entry) => entry.ai_generated === true
      || (entry.ai_generated === false && entry.trusted === true))
    || evidence.some((entry) => entry.kind === "metadata" && entry.ai_generated === true);
}

function verdictContent(result) {
  const probability = result.probability_fake;
  const style = VERDICT_STYLE[verdictOf(result)];
  // The file's own evidence leads: it is stronger than anything the model can say.
  const evidence = renderEvidence(result.evidence);
  const verdict = el("p", { className: `verdict ${style.className}` }, [
    icon(style.icon),
    el("strong", { className: "verdict-text", text: VERDICT_TEXT[verdictOf(result)] }),
  ]);
  if (isCloseCall(result)) {
    verdict.append(el("span", { className: "close-call", text: "close call" }));
  }
  const noteText = noteOf(result);
  const note = noteText ? el("p", { className: "verdict-note", text: noteText }) : null;
  const bar = el("div", { className: `probability-bar ${style.bar}` }, [
    el("span", { className: "probability-fill" }),
    el("span", { className: "probability-threshold" }),
  ]);
  bar.setAttribute("role", "img");
  bar.setAttribute(
    "aria-label",
    `Probability AI-generated ${formatPercent(probability)}, threshold ${formatPercent(result.threshold)}`,
  );
  // Positions go through CSS custom properties set with the CSSOM, which the page's CSP allows
  // (inline style attributes it does not).
  bar.style.setProperty("--probability", String(clamp01(probability)));
  bar.style.setProperty("--threshold", String(clamp01(result.threshold)));
  const value = el("data", { className: "probability", text: formatPercent(probability) });
  value.value = String(probability);
  const numbers = el("p", { className: "probability-text" }, [
    value,
    document.createTextNode(" probability AI-generated · threshold "),
    el("span", { className: "threshold", text: formatPercent(result.threshold) }),
  ]);
  const model = el("p", { className: "row-model", text: `Model ${result.model_version ?? "unknown"}` });
  return [evidence, verdict, note, bar, numbers, model].filter(Boolean);
}

function errorContent(entry) {
  const { error } = entry;
  const children = [
    el("p", { className: "error-title" }, [icon("error"), el("strong", { text: errorTitle(error) })]),
    el("p", { className: "error-message", text: error.message }),
  ];
  if (error.retryable) {
    const retry = el("button", { className: "retry secondary", text: "Retry", attrs: { type: "button" } });
    retry.setAttribute("aria-label", `Retry ${entry.shownName}`);
    retry.addEventListener("click", () => entry.onRetry(entry));
    children.push(retry);
  }
  return children;
}

function clamp01(value) {
  return Math.min(1, Math.max(0, Number(value) || 0));
}
