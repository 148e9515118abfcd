// widgets.js — small pieces of page shared by the console's pages.

// statusBadge is a campaign status as a coloured label; the word carries the meaning,
// the colour only repeats it.
export function statusBadge(status) {
  const badge = document.createElement("span");
  badge.className = `badge ${status === "ACTIVE" ? "active" : "inactive"}`;
  badge.textContent = status || "UNKNOWN";
  return badge;
}
