// The upload page: takes images from the picker, drag and drop or the clipboard, sends each one to
// the detector in its own request (so rows finish independently), and keeps the session's results.
import { API_BASE_URL, MAX_PARALLEL_REQUESTS } from "./config.js";
import { ApiError, getModelCard, predictPatiently } from "./api.js";
import { cleanText, el } from "./dom.js";
import { download, toCsv, toJson } from "./export.js";
import { describeLimits, renderModelNote, renderModelNoteError } from "./model-note.js";
import { announcement, createRow, isPending, renderPreview, renderRow, verdictOf } from "./rows.js";
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
    // `name` is kept as it is for the downloads; `shownName` is what the page shows and reads out.
    entry.shownName = cleanText(entry.name) || "unnamed";
    entry.controller = new AbortController();
    entries.push(entry);
    // A file over the API's size limit is refused here, rather than after uploading all of it.
    if (maxBytes && file.size > maxBytes) {
      entry.status = "error";
      const message = `The file is larger than the limit of ${maxBytes} bytes.`;
      entry.error = new ApiError("rejected", "file_too_large", message);
    }
    page.rows.append(createRow(entry, retry));
    makeThumbnail(file, `Preview of ${entry.shownName}`, entry.controller.signal).then((preview) => {
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
  setStatus(entry, "checking");
  try {
    // A busy detector is asked again after its Retry-After; the row says so meanwhile. The slot
    // stays taken while waiting, so a busy detector is not sent more work.
    const onBusy = () => setStatus(entry, "busy");
    entry.result = await predictPatiently(entry.file, entry.controller.signal, onBusy);
    entry.error = null;
    entry.status = "done";
  } catch (error) {
    entry.result = null;
    entry.error = error;
    entry.status = "error";
  } finally {
    running -= 1;
  }
  // Whatever happens while showing this row, the next image must still be sent.
  try {
    if (entries.includes(entry)) {
      showFinished(entry);
    }
  } finally {
    pump();
  }
}

function setStatus(entry, status) {
  entry.status = status;
  if (entries.includes(entry)) {
    renderRow(entry);
    updateToolbar();
  }
}

function showFinished(entry) {
  try {
    renderRow(entry);
    announce(announcement(entry));
  } catch (error) {
    // An answer this page cannot draw (a shape it does not expect) becomes an error on its own row.
    console.warn("Could not show the detector's answer", error);
    entry.status = "error";
    entry.result = null;
    entry.error = new ApiError("server", "display_error", "This page could not show the detector's answer.");
    renderRow(entry);
    announce(announcement(entry));
  }
  updateToolbar();
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
  const verdict = (code) => (e) => e.status === "done" && verdictOf(e.result) === code;
  const parts = [
    [count(verdict("ai_generated_by_credentials")), "AI-generated by their Content Credentials"],
    [count(verdict("likely_ai")), "likely AI-generated"],
    [count(verdict("unsure")), "unsure"],
    [count(verdict("likely_real")), "likely real"],
    [count((e) => e.status === "error"), "not checked (error)"],
    [count(isPending), "in progress"],
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
