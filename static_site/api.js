// Talks to the detector's HTTP API and turns every way a request can fail into one ApiError,
// so the page never has to show a raw exception.
import { API_BASE_URL, REQUEST_TIMEOUT_MS } from "./config.js";

const BASE_URL = API_BASE_URL.replace(/\/+$/, "");

// Only these statuses mean "the detector looked at this file and refused it" (docs/api.md). Any
// other 4xx (401, 403, 404, 405…) says the page is pointed at the wrong place or not let in:
// the file is not to blame, and trying again later may work.
const REJECTING_STATUSES = new Set([400, 413, 415, 422]);
// A busy detector (503, 429) is asked again this many times, after its Retry-After (seconds,
// or an HTTP date), capped and defaulted here. A cross-origin API must list Retry-After in
// Access-Control-Expose-Headers for the page to see it; without that, the default applies.
export const BUSY_RETRIES = 2;
const DEFAULT_RETRY_AFTER_MS = 1000;
const MAX_RETRY_AFTER_MS = 10000;

/** A failed request. `kind` is "rejected" (the API refused this input), "service" (the API
 *  could not be used: wrong address, not allowed), "server", "network", "timeout" or
 *  "cancelled"; all but "rejected" are worth retrying. */
export class ApiError extends Error {
  constructor(kind, code, message, status = null, retryAfterMs = DEFAULT_RETRY_AFTER_MS) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.code = code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  get retryable() {
    return this.kind !== "rejected";
  }

  /** The detector is busy: worth asking again by itself, after `retryAfterMs`. */
  get busy() {
    return this.status === 503 || this.status === 429;
  }
}

/** The URL of an API path such as "/api/predict". */
export function apiUrl(path) {
  return `${BASE_URL}${path}`;
}

/** POST one image to /api/predict and return its result object. */
export async function predict(file, signal) {
  const form = new FormData();
  form.append("file", file, file.name);
  const body = await requestJson("/api/predict", { method: "POST", body: form }, signal);
  const result = Array.isArray(body.results) ? body.results[0] : null;
  // A multi-file request reports a bad file as an item with its own error; accept that shape too.
  if (result && typeof result.error === "object" && result.error) {
    throw new ApiError("rejected", String(result.error.code), String(result.error.message));
  }
  if (!result || typeof result.probability_fake !== "number") {
    throw new ApiError("server", "bad_response", "The detector sent an answer this page does not understand.");
  }
  return { ...result, model_version: body.model_version ?? null };
}

/** `predict`, asked again up to BUSY_RETRIES times while the detector says it is busy;
 *  `onBusy(error)` is called before each wait. */
export async function predictPatiently(file, signal, onBusy) {
  for (let retries = 0; ; retries += 1) {
    try {
      return await predict(file, signal);
    } catch (error) {
      if (!(error instanceof ApiError) || !error.busy || retries >= BUSY_RETRIES) {
        throw error;
      }
      onBusy(error);
      await pause(error.retryAfterMs, signal);
    }
  }
}

/** A Retry-After header value in milliseconds: seconds or an HTTP date, within 0–10 s; 1 s when
 *  absent or unreadable. */
export function retryDelayMs(value) {
  const text = typeof value === "string" ? value.trim() : "";
  let delay = DEFAULT_RETRY_AFTER_MS;
  if (/^\d+$/.test(text)) {
    delay = Number(text) * 1000;
  } else if (text) {
    const date = Date.parse(text);
    delay = Number.isNaN(date) ? DEFAULT_RETRY_AFTER_MS : date - Date.now();
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, delay));
}

function pause(milliseconds, signal) {
  return new Promise((resolve, reject) => {
    const cancelled = () => {
      clearTimeout(timer);
      reject(new ApiError("cancelled", "cancelled", "The request was cancelled."));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", cancelled);
      resolve();
    }, milliseconds);
    if (signal?.aborted) {
      cancelled();
    } else {
      signal?.addEventListener("abort", cancelled, { once: true });
    }
  });
}

/** GET /api/model: the model card's fields with the served values (version, input size,
 *  threshold, limits) on top, whether the API nests the card under "card" or not. */
export async function getModelCard(signal) {
  const body = await requestJson("/api/model", { method: "GET" }, signal);
  const card = body.card && typeof body.card === "object" ? body.card : {};
  const merged = { ...card, ...body };
  merged.version = body.model_version ?? body.version ?? card.version ?? null;
  return merged;
}

async function requestJson(path, options, outerSignal) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, REQUEST_TIMEOUT_MS);
  const forwardAbort = () => controller.abort();
  outerSignal?.addEventListener("abort", forwardAbort, { once: true });
  try {
    const response = await fetch(apiUrl(path), {
      ...options,
      signal: controller.signal,
      headers: { Accept: "application/json" },
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    const body = await readJson(response);
    if (!response.ok) {
      throw errorFromResponse(response, body);
    }
    if (body === null) {
      throw new ApiError("server", "bad_response", "The detector sent an answer this page does not understand.");
    }
    return body;
  } catch (error) {
    if (error instanceof ApiError) {
      throw error;
    }
    if (timedOut) {
      const seconds = Math.round(REQUEST_TIMEOUT_MS / 1000);
      throw new ApiError("timeout", "timeout", `The detector did not answer within ${seconds} seconds.`);
    }
    if (outerSignal?.aborted) {
      throw new ApiError("cancelled", "cancelled", "The request was cancelled.");
    }
    // fetch() rejects with a bare TypeError for refused connections, DNS failures, CORS and
    // offline alike; the browser hides the difference on purpose.
    throw new ApiError(
      "network",
      "network_error",
      "Could not reach the detector. Check your internet connection, then try again.",
    );
  } finally {
    clearTimeout(timer);
    outerSignal?.removeEventListener("abort", forwardAbort);
  }
}

async function readJson(response) {
  const type = response.headers.get("content-type") || "";
  if (!type.includes("json")) {
    return null;
  }
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function errorFromResponse(response, body) {
  const { status } = response;
  const error = body && typeof body.error === "object" ? body.error : null;
  const code = typeof error?.code === "string" ? error.code : `http_${status}`;
  const apiMessage = typeof error?.message === "string" ? error.message : null;
  if (REJECTING_STATUSES.has(status)) {
    const message = apiMessage ?? `The detector answered with an error (HTTP ${status}).`;
    return new ApiError("rejected", code, message, status);
  }
  if (status >= 500 || status === 429 || status === 408) {
    const message = apiMessage ?? `It answered with HTTP ${status}. Try again in a moment.`;
    return new ApiError("server", code, message, status, retryDelayMs(response.headers.get("retry-after")));
  }
  // The API's own words for a 404 or 405 ("No such route") would read as if the image were at fault.
  const message = `The detector service answered HTTP ${status}: this page may be pointed at the wrong `
    + "address, or not be allowed to use it. Try again later.";
  return new ApiError("service", code, message, status);
}
