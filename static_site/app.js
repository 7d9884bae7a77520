// The upload page: takes images from the picker, drag and drop or the clipboard, sends each one to
// the detector in its own request (so rows finish independently), and keeps the session's results.
import { API_BASE_URL, MAX_PARALLEL_REQUESTS } from "./config.js";
import { ApiError, getModelCard, predict } from "./api.js";
import { el } from "./dom.js";
import { download, toCsv, toJson } from "./export.js";
import { describeLimits, renderModelNote, renderModelNoteError } from "./model-note.js";
import { announcement, createRow, renderPreview, renderRow } from "./rows.js";
import { makeThumbnail } from "./thumbnail.js";

const page = {
  dropZone: document.getElementById("drop-zone"),
  fileInput: document.getElementById("file-input"),
  rows: document.getElementById("result-rows"),
  summary: document.getElementById("summary"),
  announcer: document.getElementById("announcer"),
  modelNote: document.getElementById("model-note"),
  modelVersion: document.getElementById("model-version"),
  limitsHint: document.getElementById("limits-hint"),
  downloadCsv: document.getElementById("download-csv"),
  downloadJson: document.getElementById("download-json"),
  clear: document.getElementById("clear-results"),
};

const entries = [];
const queue = [];
let running = 0;
let nextId = 1;
let pasteCount = 0;
let maxBytes = null;

function addFiles(files) {
  for (const file of files) {
    const entry = { id: nextId++, file, name: file.name || "unnamed", size: file.size, status: "waiting" };
    entry.controller = new AbortController();
    entries.push(entry);
    // A file over the API's size limit is refused here, rather than after uploading all of it.
    if (maxBytes && file.size > maxBytes) {
      entry.status = "error";
      const message = `The file is larger than the limit of ${maxBytes} bytes.`;
      entry.error = new ApiError("rejected", "file_too_large", message);
    }
    page.rows.append(createRow(entry, retry));
    makeThumbnail(file, `Preview of ${entry.name}`).then((preview) => {
      entry.preview = preview;
      if (entries.includes(entry)) {
        renderPreview(entry);
      }
    });
    if (entry.status === "error") {
      announce(announcement(entry));
    } else {
      queue.push(entry);
    }
  }
  updateToolbar();
  pump();
}

function pump() {
  while (running < MAX_PARALLEL_REQUESTS && queue.length > 0) {
    check(queue.shift());
  }
}

async function check(entry) {
  running += 1;
  entry.status = "checking";
  renderRow(entry);
  updateToolbar();
  try {
    entry.result = await predict(entry.file, entry.controller.signal);
    entry.error = null;
    entry.status = "done";
  } catch (error) {
    entry.result = null;
    entry.error = error;
    entry.status = "error";
  } finally {
    running -= 1;
  }
  if (entries.includes(entry)) {
    renderRow(entry);
    announce(announcement(entry));
    updateToolbar();
  }
  pump();
}

function retry(entry) {
  entry.status = "waiting";
  entry.error = null;
  renderRow(entry);
  queue.push(entry);
  pump();
  // The Retry button has just gone; keep keyboard focus in the row instead of losing it to <body>.
  entry.row.querySelector(".cell-verdict").focus();
}

function clearAll() {
  for (const entry of entries) {
    entry.controller.abort();
  }
  entries.length = 0;
  queue.length = 0;
  page.rows.replaceChildren();
  announce("The results list was cleared.");
  updateToolbar();
  page.dropZone.focus();
}

function announce(text) {
  page.announcer.append(el("p", { text }));
  while (page.announcer.childElementCount > 20) {
    page.announcer.firstElementChild.remove();
  }
}

function updateToolbar() {
  const empty = entries.length === 0;
  page.downloadCsv.disabled = empty;
  page.downloadJson.disabled = empty;
  page.clear.disabled = empty;
  page.summary.textContent = summarize();
}

function summarize() {
  if (entries.length === 0) {
    return "No images checked yet.";
  }
  const count = (predicate) => entries.filter(predicate).length;
  const parts = [
    [count((e) => e.status === "done" && e.result.label === "real"), "likely real"],
    [count((e) => e.status === "done" && e.result.label === "fake"), "likely AI-generated"],
    [count((e) => e.status === "error"), "not checked (error)"],
    [count((e) => e.status === "waiting" || e.status === "checking"), "in progress"],
  ].filter(([number]) => number > 0);
  const total = `${entries.length} image${entries.length === 1 ? "" : "s"}`;
  return `${total}: ${parts.map(([number, text]) => `${number} ${text}`).join(", ")}.`;
}

function timestamp() {
  return new Date().toISOString().replace(/[:]/g, "-").replace(/\..*$/, "");
}

async function loadModelCard() {
  page.modelVersion.textContent = "Model: loading…";
  try {
    const card = await getModelCard();
    maxBytes = Number(card.limits?.max_bytes) || null;
    renderModelNote(page.modelNote, card);
    page.limitsHint.textContent = describeLimits(card.limits) ?? "";
    page.modelVersion.textContent = `Model version ${card.version ?? "unknown"}`;
  } catch (error) {
    page.modelVersion.textContent = "Model: unavailable";
    renderModelNoteError(page.modelNote, error.message, loadModelCard);
  }
}

function wireInputs() {
  page.dropZone.addEventListener("click", () => page.fileInput.click());
  page.fileInput.addEventListener("change", () => {
    addFiles(Array.from(page.fileInput.files));
    // Reset so that choosing the same file again still fires "change".
    page.fileInput.value = "";
  });

  // Drops are accepted anywhere on the page, so a near miss never navigates away to the file.
  let dragDepth = 0;
  const hasFiles = (event) => Array.from(event.dataTransfer?.types ?? []).includes("Files");
  window.addEventListener("dragenter", (event) => {
    if (hasFiles(event)) {
      dragDepth += 1;
      page.dropZone.classList.add("is-dragging");
    }
  });
  window.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) {
      page.dropZone.classList.remove("is-dragging");
    }
  });
  window.addEventListener("dragover", (event) => {
    if (hasFiles(event)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    }
  });
  window.addEventListener("drop", (event) => {
    if (!hasFiles(event)) {
      return;
    }
    event.preventDefault();
    dragDepth = 0;
    page.dropZone.classList.remove("is-dragging");
    addFiles(Array.from(event.dataTransfer.files));
  });

  document.addEventListener("paste", (event) => {
    const pasted = Array.from(event.clipboardData?.files ?? []).filter((file) => file.type.startsWith("image/"));
    if (pasted.length === 0) {
      return;
    }
    event.preventDefault();
    // Browsers name every pasted image "image.png"; number them so the rows can be told apart.
    addFiles(pasted.map((file) => {
      pasteCount += 1;
      const extension = file.type.split("/")[1]?.replace("jpeg", "jpg") || "png";
      return new File([file], `pasted-image-${pasteCount}.${extension}`, { type: file.type });
    }));
  });
}

function wireToolbar() {
  page.downloadCsv.addEventListener("click", () => {
    download(toCsv(entries), `imageauth-results-${timestamp()}.csv`, "text/csv;charset=utf-8");
  });
  page.downloadJson.addEventListener("click", () => {
    download(toJson(entries, API_BASE_URL), `imageauth-results-${timestamp()}.json`, "application/json");
  });
  page.clear.addEventListener("click", clearAll);
}

wireInputs();
wireToolbar();
updateToolbar();
loadModelCard();
