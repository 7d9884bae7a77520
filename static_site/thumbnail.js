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
  const size = await fittedSize(file, box);
  const bitmap = size && await decode(file, size);
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

// The size to decode to: the image's own, EXIF-oriented size fitted inside box x box and never
// enlarged (a 1 x 50,000 px strip asked for by width alone would come back 128 x 6,400,000).
// An <img> of the file gives that size from the header; it is not drawn, so its pixels are not
// held (img-src allows blob: for it). null when the browser cannot read the file (HEIC in Chromium).
async function fittedSize(file, box) {
  const url = URL.createObjectURL(file);
  const image = new Image();
  try {
    await new Promise((resolve, reject) => {
      image.onload = resolve;
      image.onerror = reject;
      image.src = url;
    });
  } catch {
    return null;
  } finally {
    URL.revokeObjectURL(url);
  }
  const { naturalWidth: width, naturalHeight: height } = image;
  if (!width || !height) {
    return null;
  }
  const scale = Math.min(1, box / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

async function decode(file, size) {
  const resize = { resizeWidth: size.width, resizeHeight: size.height, resizeQuality: "high" };
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
