// Decodes an image in the browser for its preview. EXIF orientation is applied, so a phone photo
// taken in portrait shows upright, as the detector (which also applies it) sees it.
//
// A decoded photo is large (12 MP = 48 MB of pixels) and a folder of them can be dropped at once,
// so previews are decoded a few at a time, in the order the files came, and asked of the browser
// already shrunk to the thumbnail's size.

const THUMBNAIL_CSS_SIZE = 64;
const MAX_PARALLEL_DECODES = 2;

let decoding = 0;
const waiting = [];

/** A <canvas> preview of `file`, or null if the browser cannot decode it (HEIC in Chromium) or
 *  `signal` was aborted before its turn came. */
export async function makeThumbnail(file, label, signal) {
  await takeTurn();
  try {
    return signal?.aborted ? null : await draw(file, label);
  } finally {
    endTurn();
  }
}

function takeTurn() {
  if (decoding < MAX_PARALLEL_DECODES) {
    decoding += 1;
    return Promise.resolve();
  }
  return new Promise((resolve) => waiting.push(resolve));
}

function endTurn() {
  const next = waiting.shift();
  if (next) {
    next(); // the turn passes straight on; `decoding` stays the same
  } else {
    decoding -= 1;
  }
}

async function draw(file, label) {
  const density = Math.min(window.devicePixelRatio || 1, 3);
  const box = Math.round(THUMBNAIL_CSS_SIZE * density);
  const bitmap = await decode(file, box);
  if (!bitmap) {
    return null;
  }
  try {
    // The bitmap is `box` wide; a portrait one is taller than the box and is fitted here.
    const scale = Math.min(1, box / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.className = "thumbnail";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", label);
    const context = canvas.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return { canvas };
  } finally {
    bitmap.close();
  }
}

// Only the width is given: the browser then keeps the aspect ratio, which is not known before
// decoding (and the oriented one only after EXIF orientation is applied).
async function decode(file, width) {
  const resize = { resizeWidth: width, resizeQuality: "high" };
  try {
    return await createImageBitmap(file, { ...resize, imageOrientation: "from-image" });
  } catch (error) {
    // Browsers that predate the "from-image" value reject the option itself with a TypeError;
    // they apply EXIF orientation by default anyway. Anything else means "not decodable here".
    if (!(error instanceof TypeError)) {
      return null;
    }
  }
  try {
    return await createImageBitmap(file, resize);
  } catch {
    return null;
  }
}
