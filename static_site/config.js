// Where the detector's HTTP API lives. "" means the origin this page was served from, which is
// what the local server (`python -m imageauth.serve`) does. At deploy time
// .github/scripts/configure_site.py rewrites the one API_BASE_URL line below to the function
// app's origin (https://…, no path) and adds that origin to the Content-Security-Policy; keep
// the line's exact shape. See docs/site.md.
export const API_BASE_URL = "";

// A request that takes longer than this is reported as a timeout and can be retried. Generous,
// because the first request after the function app has scaled to zero pays its cold start.
export const REQUEST_TIMEOUT_MS = 60000;

// How many images are sent at once; the rest wait their turn.
export const MAX_PARALLEL_REQUESTS = 3;
