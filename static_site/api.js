// Talks to the detector's HTTP API and turns every way a request can fail into one ApiError,
// so the page never has to show a raw exception.
import { API_BASE_URL, REQUEST_TIMEOUT_MS } from "./config.js";

const BASE_URL = API_BASE_URL.replace(/\/+$/, "");

/** A failed request. `kind` is "rejected" (the API refused this input), "server", "network",
 *  "timeout" or "cancelled"; only the last four are worth retrying. */
export class ApiError extends Error {
  constructor(kind, code, message, status = null) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.code = code;
    this.status = status;
  }

  get retryable() {
    return this.kind !== "rejected";
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
      throw errorFromResponse(response.status, body);
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

function errorFromResponse(status, body) {
  const error = body && typeof body.error === "object" ? body.error : null;
  const code = typeof error?.code === "string" ? error.code : `http_${status}`;
  if (status >= 500 || status === 429 || status === 408) {
    const message = typeof error?.message === "string"
      ? error.message
      : `It answered with HTTP ${status}. Try again in a moment.`;
    return new ApiError("server", code, message, status);
  }
  const message = typeof error?.message === "string"
    ? error.message
    : `The detector answered with an error (HTTP ${status}).`;
  return new ApiError("rejected", code, message, status);
}
