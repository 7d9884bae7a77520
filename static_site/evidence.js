// What the file itself says about where it came from (the API's `evidence`: C2PA Content Credentials
// and generator metadata), in plain words. Signed and unsigned evidence are told apart in every line;
// docs/evidence.md says what each kind proves and what it does not.
import { el, icon } from "./dom.js";

/** One line for one evidence entry, and whether it points to AI ("ai"), capture ("capture") or neither. */
export function describeEvidence(entry) {
  if (entry.kind === "c2pa") {
    if (entry.status === "unreadable") {
      return { text: "Content Credentials found but unreadable — they prove nothing", tone: "none" };
    }
    if (entry.status !== "valid") {
      return { text: "Content Credentials found but broken (changed after signing) — they prove nothing", tone: "none" };
    }
    const signedBy = `signed by ${entry.signer || "an unnamed signer"}${entry.trusted ? "" : " (signer not verified)"}`;
    if (entry.ai_generated === true) {
      const generator = entry.generator ? ` (${entry.generator})` : "";
      return { text: `Content Credentials say this was made with an AI generator${generator} — ${signedBy}`, tone: "ai" };
    }
    if (entry.ai_generated === false) {
      return { text: `Content Credentials say this was captured by a camera — ${signedBy}`, tone: "capture" };
    }
    return { text: `Content Credentials found; they do not say how it was made — ${signedBy}`, tone: "none" };
  }
  if (entry.ai_generated === true) {
    const found = entry.generator
      ? `Generator settings found in the file (${entry.generator})`
      : "The file's metadata says it was AI-generated";
    return { text: `${found} — unsigned`, tone: "ai" };
  }
  if (entry.ai_generated === false) {
    return { text: "The file's metadata says it was captured by a camera — unsigned", tone: "capture" };
  }
  return { text: "The file's metadata mentions its origin — unsigned", tone: "none" };
}

/** The evidence as a list, shown above the verdict; null when there is none. */
export function renderEvidence(evidence) {
  if (!Array.isArray(evidence) || evidence.length === 0) {
    return null;
  }
  const items = evidence.map((entry) => {
    const { text, tone } = describeEvidence(entry);
    const kind = entry.kind === "c2pa" ? "credentials" : "metadata";
    return el("li", { className: `evidence-item evidence-${kind} tone-${tone}` }, [
      icon(kind === "credentials" ? "credentials" : "metadata"),
      el("span", { className: "evidence-text", text }),
    ]);
  });
  return el("ul", { className: "evidence", attrs: { "aria-label": "Evidence in the file" } }, items);
}

/** All entries in one short string, for the CSV download and the live region. */
export function evidenceSummary(evidence) {
  return Array.isArray(evidence) ? evidence.map((entry) => describeEvidence(entry).text).join("; ") : "";
}
