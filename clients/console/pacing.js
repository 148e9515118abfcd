// pacing.js — the campaign page's pacing line and how delivery controls read. Pure: no DOM.
//
// The pacing line compares spend so far with an even pace: budget × the elapsed share of the
// live window, the expectation DiagnoseCampaign states (servers/campaigns/delivery.py). The
// window is in the platform's time zone, which the browser does not know; its length does not
// need it, so the even line is drawn through DiagnoseCampaign's expected_spent at checked_at
// with the slope budget / window length. Spend so far at the end of each KPI minute is the
// campaign's spent less what the later minutes spent.

const MINUTE_MS = 60_000;

// wallClock reads a date ("2026-12-03") and a time ("5:00:00") as milliseconds on one
// arbitrary clock (UTC's): good for differences between two wall-clock instants.
function wallClock(date, time) {
  const [hours = 0, minutes = 0, seconds = 0] = String(time || "0:00:00").split(":").map(Number);
  return Date.parse(`${date}T00:00:00Z`) + ((hours * 60 + minutes) * 60 + seconds) * 1000;
}

// windowMs is the length of a campaign's live window (docs/design.md rule 2: an end time of
// 0:00:00 is midnight at the end of the end date); 0 when its dates are missing.
export function windowMs(campaign) {
  const dates = campaign.date_range || {};
  const times = campaign.time_range || {};
  if (!dates.start || !dates.end) return 0;
  const start = wallClock(dates.start, times.start);
  let end = wallClock(dates.end, times.end);
  if (wallClock(dates.end, "0:00:00") === end) end += 24 * 60 * MINUTE_MS;
  return Math.max(0, end - start);
}

// pacingLines are the two lines of the pacing chart over the window shown (since to now):
// spend so far ({t, v}: the window's start, the end of each KPI minute, now) and the even pace
// at the same instants (none without a diagnosis to anchor it). Numbers: a picture, not the
// books (the KPI minutes may lag the live spent by a few seconds).
export function pacingLines(points, campaign, diagnosis, now, since = -Infinity) {
  const spentNow = Number(campaign.spent || 0);
  const actual = [];
  let later = 0;
  for (let i = points.length - 1; i >= 0; i -= 1) {
    const end = Date.parse(points[i].minute) + MINUTE_MS;
    if (end <= now && end > since) actual.unshift({ t: end, v: Math.max(0, spentNow - later) });
    later += Number(points[i].spend || 0);
  }
  if (Number.isFinite(since) && since < now) actual.unshift({ t: since, v: Math.max(0, spentNow - later) });
  actual.push({ t: now, v: spentNow });
  const pacing = diagnosis?.pacing;
  const anchor = Date.parse(diagnosis?.checked_at || "");
  const length = windowMs(campaign);
  if (!pacing || !pacing.expected_spent || Number.isNaN(anchor) || !length) {
    return { actual, expected: [] };
  }
  const budget = Number(campaign.budget || 0);
  const rate = budget / length;
  const at = Number(pacing.expected_spent);
  const expected = actual.map(({ t }) => ({
    t,
    v: Math.min(budget, Math.max(0, at - rate * (anchor - t))),
  }));
  return { actual, expected };
}

// paceSummary says in words how spend stands against the even pace.
export function paceSummary(diagnosis) {
  const pacing = diagnosis?.pacing;
  if (!pacing) return "No diagnosis yet: the even pace is not drawn.";
  const spent = Number(pacing.spent || 0);
  const expected = Number(pacing.expected_spent || 0);
  const share = expected > 0 ? Math.round((spent / expected) * 100) : null;
  const against = share === null ? "nothing expected yet" : `${share}% of the even pace`;
  return `Spent ${pacing.spent || "0"} against ${pacing.expected_spent || "0"} by an even pace (${against}); pacing ${pacing.pacing || "EVEN"}.`;
}

// capText is a frequency cap in words ("3 per DAY"), or the platform's default.
export function capText(cap) {
  const impressions = Number(cap?.max_impressions || 0);
  return impressions ? `${impressions} per ${cap.period}` : "platform default";
}

// daypartsText is dayparts in words ("Mon Tue 9–17; every day 20–24"), or the whole window.
export function daypartsText(parts) {
  if (!parts || !parts.length) return "whole window";
  return parts
    .map((part) => {
      const days = (part.days || []).length
        ? part.days.map((day) => `${day.slice(0, 1)}${day.slice(1, 3).toLowerCase()}`).join(" ")
        : "every day";
      return `${days} ${part.start_hour ?? 0}–${part.end_hour ?? 0}`;
    })
    .join("; ");
}
