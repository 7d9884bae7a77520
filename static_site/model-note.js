// The always-visible honesty note, written from the model card (GET /api/model). The card grows
// as the model matures, so every field is optional: the note says what the card says, no more.
import { el, formatBytes, formatPercent } from "./dom.js";

/** Replace the contents of `container` with a note built from `card`. */
export function renderModelNote(container, card) {
  const items = [];
  const dataset = describeDataset(card.dataset);
  items.push(fact("Trained on", dataset ?? "not stated in the model card."));
  const size = Number(card.image_size);
  if (size > 0) {
    items.push(fact("Looks at", [
      document.createTextNode("the centre square of the image, shrunk to "),
      el("strong", { text: `${size} × ${size} pixels` }),
      document.createTextNode(". A large photo is judged from that tiny copy, not from its fine detail."),
    ]));
  }
  const metrics = describeMetrics(card.metrics);
  if (metrics) {
    items.push(fact("Tested", metrics));
  }
  const scope = Number(card.scope?.max_short_side);
  if (scope > 0) {
    items.push(fact(
      "Validated on",
      `images up to ${scope} px on their short side. A larger image gets "Unsure" from the score alone: `
        + "only evidence in the file itself can decide it.",
    ));
  } else if (card.scope && card.scope.max_short_side === null) {
    // A card widens the scope to every size only with a measured false-positive rate on real photos.
    const why = typeof card.scope.why === "string" && card.scope.why ? ` (${card.scope.why})` : "";
    items.push(fact("Validated on", `images of any size${why}.`));
  }
  const photos = describeLargePhotos(card.robustness?.real_photos, scope);
  if (photos) {
    items.push(fact("Large photos", photos));
  }
  const band = card.unsure_band;
  if (band && typeof band.low === "number" && typeof band.high === "number" && band.high > band.low) {
    items.push(fact(
      "Unsure band",
      `scores from ${formatPercent(band.low)} to under ${formatPercent(band.high)} give "Unsure"; "Likely real" `
        + `below ${formatPercent(band.low)}, "Likely AI-generated" from ${formatPercent(band.high)}.`,
    ));
  } else if (typeof card.threshold === "number") {
    items.push(fact(
      "Verdict line",
      `"Likely AI-generated" from ${formatPercent(card.threshold)} up; close to that line it is a coin toss.`,
    ));
  }
  items.push(fact(
    "Also reads",
    "Content Credentials (C2PA) and generator settings in the file. Valid credentials that say AI decide "
      + "the verdict; unsigned metadata can make it \"Likely AI-generated\" at most.",
  ));
  const limitations = toList(card.limitations);
  for (const limitation of limitations) {
    items.push(fact("Limitation", limitation));
  }
  const children = [el("ul", { className: "facts" }, items)];
  if (typeof card.note === "string" && card.note) {
    children.push(el("p", { className: "card-note", text: `Note from the model card: ${card.note}` }));
  }
  // The exported card lists its own limitations; without them, the page states the general one.
  if (limitations.length === 0) {
    children.push(el("p", {
      className: "caveat",
      text: "A verdict is a statistical guess, not proof: it can be wrong, especially for kinds of "
        + "images the model was not trained on.",
    }));
  }
  container.replaceChildren(...children);
}

/** "Files up to 20 MB each", from the limits /api/model reports, or null. */
export function describeLimits(limits) {
  const bytes = limits && Number(limits.max_bytes ?? limits.max_file_bytes);
  return bytes ? `Files up to ${formatBytes(bytes)} each.` : null;
}

function fact(label, content) {
  const body = typeof content === "string" ? [document.createTextNode(` ${content}`)] : [" ", ...content];
  return el("li", {}, [el("span", { className: "fact-label", text: `${label}:` }), ...body]);
}

/** Show that the card could not be loaded, keeping the generic note and offering a retry. */
export function renderModelNoteError(container, message, onRetry) {
  const retry = el("button", { className: "secondary", text: "Try again", attrs: { type: "button" } });
  retry.addEventListener("click", onRetry);
  const existing = container.querySelector(".card-error");
  existing?.remove();
  container.append(el("div", { className: "card-error" }, [
    el("p", { text: `Model details could not be loaded: ${message}` }),
    retry,
  ]));
}

function describeDataset(dataset) {
  if (typeof dataset === "string") {
    return dataset || null;
  }
  if (!dataset || typeof dataset !== "object") {
    return null;
  }
  const name = [dataset.name, dataset.title, dataset.id, sourceName(dataset.source)]
    .find((part) => typeof part === "string" && part);
  const details = [dataset.description, trainingCounts(dataset.counts)]
    .filter((part) => typeof part === "string" && part);
  const text = [name, details.join("; ")].filter(Boolean).join(": ");
  return text ? `${text.replace(/\.$/, "")}.` : null;
}

/** "cifake-dev.zip" from "/some/path/cifake-dev.zip" or "s3://bucket/cifake-dev.zip". */
function sourceName(source) {
  return typeof source === "string" ? source.split(/[\\/]/).pop() : null;
}

/** "40,500 real and 39,757 AI-generated training images" from {train: {real, fake}}. */
function trainingCounts(counts) {
  const train = counts?.train;
  if (!train || typeof train !== "object") {
    return null;
  }
  const real = Number(train.real);
  const fake = Number(train.fake);
  if (Number.isFinite(real) && Number.isFinite(fake)) {
    return `${real.toLocaleString("en")} real and ${fake.toLocaleString("en")} AI-generated training images`;
  }
  const total = Object.values(train).reduce((sum, value) => sum + (Number(value) || 0), 0);
  return total ? `${total.toLocaleString("en")} training images` : null;
}

// The test metrics worth a reader's attention, in the order they are shown.
const METRICS = [
  ["accuracy", "accuracy"],
  ["balanced_accuracy", "balanced accuracy"],
  ["roc_auc", "ROC AUC"],
  ["auc", "ROC AUC"],
  // CIFAKE's real test images are 32 px CIFAR-10 photos: not what "real photos" means to a reader.
  ["false_positive_rate", "real test images called AI-generated"],
  ["precision", "precision"],
  ["recall", "recall"],
];

/** "accuracy 93.1% · ROC AUC 98.0% · … on 9,905 held-out test images", or null. */
function describeMetrics(metrics) {
  const test = metrics?.test && typeof metrics.test === "object" ? metrics.test : metrics;
  if (!test || typeof test !== "object") {
    return null;
  }
  const shown = new Set();
  const parts = [];
  for (const [key, name] of METRICS) {
    const value = test[key];
    if (typeof value === "number" && Number.isFinite(value) && !shown.has(name)) {
      shown.add(name);
      parts.push(`${name} ${formatPercent(value)}`);
    }
  }
  if (parts.length === 0) {
    return null;
  }
  parts.splice(3);
  const images = Number(test.images ?? test.n_images ?? test.count);
  const on = images ? `${images.toLocaleString("en")} held-out test images` : "held-out test images";
  return `${parts.join(" · ")}, on ${on}.`;
}

/** What the score alone does to large real camera photos (the card's real-photo check), or null. */
function describeLargePhotos(photos, scope) {
  const count = Number(photos?.count);
  const called = Number(photos?.called_fake);
  if (!(count > 0) || !Number.isFinite(called)) {
    return null;
  }
  const share = formatPercent(called / count);
  const measured = `the score alone calls ${called} of ${count} real camera photos larger than 256 px `
    + `AI-generated (${share})`;
  return scope > 0 ? `${measured}, which is why larger images get "Unsure".` : `${measured}.`;
}

function toList(value) {
  if (typeof value === "string" && value) {
    return [value];
  }
  return Array.isArray(value) ? value.filter((item) => typeof item === "string" && item) : [];
}
