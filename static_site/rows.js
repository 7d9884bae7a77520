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
// An API without `verdict` (older than docs/api.md's) still gets words from its label.
const LABEL_VERDICT = { fake: "likely_ai", real: "likely_real" };

// Within this distance of the threshold a verdict is marked as a close call.
const CLOSE_CALL_MARGIN = 0.1;

/** The verdict code of a result: the API's `verdict`, else one derived from `label`. */
export function verdictOf(result) {
  return VERDICT_TEXT[result.verdict] ? result.verdict : (LABEL_VERDICT[result.label] ?? "unsure");
}

// What each API error code means, in words; the API's own message is shown under it.
const ERROR_TITLES = {
  empty_file: "This file is empty",
  file_too_large: "This file is too large",
  request_too_large: "This upload is too large",
  too_many_pixels: "This image has too many pixels",
  unsupported_media_type: "Not an image the detector can read",
  undecodable_image: "This image is damaged or incomplete",
  no_file: "The image did not reach the detector",
  too_many_files: "Too many images in one upload",
  network_error: "Could not reach the detector",
  timeout: "The detector took too long",
};

/** Build the <tr> for a new entry; `onRetry(entry)` is called by its Retry button. */
export function createRow(entry, onRetry) {
  const previewCell = el("td", { className: "cell-preview" });
  const nameCell = el("td", { className: "cell-file" }, [
    el("span", { className: "file-name", text: entry.name }),
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
  row.setAttribute("aria-busy", String(entry.status === "waiting" || entry.status === "checking"));
  const cell = row.querySelector(".cell-verdict");
  if (entry.status === "waiting") {
    cell.replaceChildren(stateLine("Waiting…", false));
  } else if (entry.status === "checking") {
    cell.replaceChildren(stateLine("Checking…", true));
  } else if (entry.status === "done") {
    cell.replaceChildren(...verdictContent(entry.result));
  } else {
    cell.replaceChildren(...errorContent(entry));
  }
  renderFileMeta(entry);
}

/** The sentence the live region reads for a finished entry. */
export function announcement(entry) {
  if (entry.status === "done") {
    const { result } = entry;
    const evidence = evidenceSummary(result.evidence);
    return `${entry.name}: ${VERDICT_TEXT[verdictOf(result)]}, `
      + `${formatPercent(result.probability_fake)} probability of being AI-generated.`
      + (isCloseCall(result) ? " A close call." : "")
      + (evidence ? ` ${evidence}.` : "")
      + (result.note ? ` ${result.note}` : "");
  }
  return `${entry.name}: ${errorTitle(entry.error)}. ${entry.error.message}`;
}

export function errorTitle(error) {
  if (ERROR_TITLES[error.code]) {
    return ERROR_TITLES[error.code];
  }
  return error.kind === "server" ? "The detector had a problem" : "The detector could not check this file";
}

function renderFileMeta(entry) {
  const parts = [formatBytes(entry.size)];
  const width = entry.result?.width ?? entry.preview?.width;
  const height = entry.result?.height ?? entry.preview?.height;
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

function decidedByEvidence(result) {
  return (result.evidence ?? []).some((entry) => entry.ai_generated === true && entry.status !== "invalid"
    && entry.status !== "unreadable");
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
  const note = result.note ? el("p", { className: "verdict-note", text: result.note }) : null;
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
    retry.setAttribute("aria-label", `Retry ${entry.name}`);
    retry.addEventListener("click", () => entry.onRetry(entry));
    children.push(retry);
  }
  return children;
}

function clamp01(value) {
  return Math.min(1, Math.max(0, Number(value) || 0));
}
