// The session's results as CSV and JSON downloads, built in the browser (nothing is uploaded).
import { evidenceSummary } from "./evidence.js";
import { VERDICT_TEXT, verdictOf } from "./rows.js";

const CSV_COLUMNS = [
  "filename", "status", "verdict", "verdict_text", "label", "probability_fake", "threshold", "note", "evidence",
  "width", "height", "sha256", "model_version", "error_code", "error_message",
];

/** One flat record per entry; the numbers are the API's, unrounded. */
export function toRecord(entry) {
  const result = entry.result ?? {};
  return {
    filename: entry.name,
    status: entry.status,
    verdict: entry.status === "done" ? verdictOf(result) : null,
    verdict_text: entry.status === "done" ? VERDICT_TEXT[verdictOf(result)] : null,
    label: result.label ?? null,
    probability_fake: result.probability_fake ?? null,
    threshold: result.threshold ?? null,
    note: result.note ?? null,
    // A few words per entry; the JSON download also carries the entries in full (evidence_entries).
    evidence: entry.status === "done" ? evidenceSummary(result.evidence) : null,
    width: result.width ?? null,
    height: result.height ?? null,
    sha256: result.sha256 ?? null,
    model_version: result.model_version ?? null,
    error_code: entry.error?.code ?? null,
    error_message: entry.error?.message ?? null,
  };
}

export function toCsv(entries) {
  const lines = [CSV_COLUMNS.join(",")];
  for (const entry of entries) {
    const record = toRecord(entry);
    lines.push(CSV_COLUMNS.map((column) => csvCell(record[column])).join(","));
  }
  // The byte-order mark makes Excel read the file as UTF-8; without it, it uses the local code
  // page and mangles every non-ASCII file name.
  return `\uFEFF${lines.join("\r\n")}\r\n`;
}

export function toJson(entries, apiBaseUrl) {
  const document = {
    generated_at: new Date().toISOString(),
    api: apiBaseUrl || window.location.origin,
    results: entries.map((entry) => ({ ...toRecord(entry), evidence_entries: entry.result?.evidence ?? null })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** Offer `text` as a file download. */
export function download(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function csvCell(value) {
  // Only plain values are written: anything else in an answer is not this page's to interpret.
  if (!["string", "number", "boolean"].includes(typeof value)) {
    return "";
  }
  let text = String(value);
  // A file name is user input: one starting with = + - @ would run as a formula in a spreadsheet.
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
