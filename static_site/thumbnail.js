// Decodes an image in the browser for its preview. EXIF orientation is applied, so a phone photo
// taken in portrait shows upright, as the detector (which also applies it) sees it.

const THUMBNAIL_CSS_SIZE = 64;

/** A <canvas> preview of `file` plus its oriented pixel size, or null if the browser cannot decode it. */
export async function makeThumbnail(file, label) {
  const bitmap = await decode(file);
  if (!bitmap) {
    return null;
  }
  try {
    const scale = Math.min(1, THUMBNAIL_CSS_SIZE / Math.max(bitmap.width, bitmap.height));
    const density = Math.min(window.devicePixelRatio || 1, 3);
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale * density));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale * density));
    canvas.className = "thumbnail";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", label);
    const context = canvas.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return { canvas, width: bitmap.width, height: bitmap.height };
  } finally {
    bitmap.close();
  }
}

async function decode(file) {
  try {
    return await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (error) {
    // Browsers that predate the "from-image" value reject the option itself with a TypeError;
    // they apply EXIF orientation by default anyway. Anything else means "not decodable here".
    if (!(error instanceof TypeError)) {
      return null;
    }
  }
  try {
    return await createImageBitmap(file);
  } catch {
    return null;
  }
}
