// campaign.js — one campaign on /console/campaign?id=…: live totals, per-minute charts and the
// pacing line, its diagnosis (DiagnoseCampaign), refreshed every few seconds, and the update
// and stop forms.

import { campaigns, token } from "./api.js";
import { render } from "./chart.js";
import { CAMPAIGN_FIELDS, changedFields, formValues } from "./fields.js";
import { axisNumber, clock, grouped, money, percent, shortPercent } from "./format.js";
import { clearErrors, fillCampaign, renderFields, say, showError, values } from "./forms.js";
import { capText, daypartsText, paceSummary, pacingLines } from "./pacing.js";
import { startSession } from "./session.js";
import { statusBadge } from "./widgets.js";

const REFRESH_MS = 3000;
const campaignId = new URLSearchParams(window.location.search).get("id") || "";
const updateForm = document.getElementById("update");
const stopForm = document.getElementById("stop");
let session;
let current = null; // the campaign as last read: what the update form compares against

function refused(error, form) {
  if (error.status === 401 || error.status === 403) session.expired();
  else if (form) showError(form, error);
}

function showCampaign(campaign) {
  current = campaign;
  document.title = `${campaign.text} · adplatform console`;
  document.getElementById("title").textContent = campaign.text;
  const identity = document.getElementById("identity");
  const id = document.createElement("code");
  id.textContent = campaign.campaign_id;
  identity.replaceChildren(statusBadge(campaign.status), " ", campaign.status_reason, " · ", id);
  const stats = campaign.stats || {};
  const shown = {
    spent: money(campaign.spent),
    remaining_budget: money(campaign.remaining_budget),
    budget: money(campaign.budget),
    current_slot_budget: money(campaign.current_slot_budget),
    cpm: money(campaign.cpm),
    impressions: grouped(stats.impressions),
    clicks: grouped(stats.clicks),
    acquisitions: grouped(stats.acquisitions),
    ctr: percent(stats.ctr),
    unique_users: grouped(stats.unique_users),
    spent_today: money(campaign.spent_today),
    daily_budget: campaign.daily_budget ? money(campaign.daily_budget) : "none",
    pacing: campaign.pacing || "EVEN",
    frequency_cap: capText(campaign.frequency_cap),
    dayparts: daypartsText(campaign.dayparts),
  };
  for (const [name, text] of Object.entries(shown)) {
    document.querySelector(`[data-kpi="${name}"]`).textContent = text;
  }
  document.getElementById("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

function seriesRow(point) {
  const tr = document.createElement("tr");
  const cells = [
    new Date(point.minute).toLocaleString(),
    grouped(point.impressions),
    grouped(point.clicks),
    grouped(point.acquisitions),
    percent(point.ctr),
    money(point.spend),
    money(point.ecpm),
  ];
  for (const [i, text] of cells.entries()) {
    const td = document.createElement("td");
    if (i) td.className = "num";
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function showSeries(points) {
  document.getElementById("no-series").hidden = points.length > 0;
  const at = (point) => Date.parse(point.minute);
  // Charts plot spend as a Number: fine for a picture; the tiles and table keep exact strings.
  const spend = points.map((point) => ({ t: at(point), v: Number(point.spend) }));
  const ctr = points.map((point) => ({ t: at(point), v: Number(point.ctr || 0) }));
  const total = points.reduce((sum, point) => sum + Number(point.spend), 0);
  const latest = points[points.length - 1];
  render(document.getElementById("spend-chart"), spend, {
    title: "Spend per minute",
    summary: points.length
      ? `${points.length} minutes, ${total.toPrecision(6)} spent in all; latest minute ${money(latest.spend)}.`
      : "No data in this window.",
    formatValue: axisNumber,
    formatTime: clock,
  });
  render(document.getElementById("ctr-chart"), ctr, {
    title: "Click-through rate per minute",
    summary: points.length ? `Latest minute ${percent(latest.ctr)} of ${grouped(latest.impressions)} impressions.` : "No data in this window.",
    formatValue: shortPercent,
    formatTime: clock,
  });
  document.querySelector("#series tbody").replaceChildren(...points.map(seriesRow));
}

function showPacing(points, campaign, diagnosis, minutes) {
  const now = Date.now();
  const { actual, expected } = pacingLines(points, campaign, diagnosis, now, now - minutes * 60_000);
  render(document.getElementById("pacing-chart"), actual, {
    title: "Spend so far against an even pace",
    summary: paceSummary(diagnosis),
    formatValue: axisNumber,
    formatTime: clock,
    compare: expected,
  });
  document.getElementById("pacing-summary").textContent = paceSummary(diagnosis);
}

function term(name, value) {
  const wrapper = document.createElement("div");
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  wrapper.append(dt, dd);
  return wrapper;
}

// showDiagnosis shows DiagnoseCampaign's answer: serving or not, what blocks it, recent counts.
function showDiagnosis(diagnosis) {
  const verdict = document.getElementById("serving");
  verdict.textContent = diagnosis.serving ? "Serving: nothing in its own state keeps it out of auctions." : "Not serving now.";
  verdict.className = `verdict ${diagnosis.serving ? "serving" : "blocked"}`;
  const blockers = (diagnosis.blockers || []).map((blocker) => {
    const item = document.createElement("li");
    const code = document.createElement("code");
    code.textContent = blocker.code;
    item.dataset.code = blocker.code;
    item.append(code, ` ${blocker.message}`);
    return item;
  });
  document.getElementById("blockers").replaceChildren(...blockers);
  const recent = diagnosis.recent || {};
  document.getElementById("recent").replaceChildren(
    term(`Sampled requests (${recent.minutes || 0} min)`, grouped(recent.sampled_requests)),
    term("Targeting matched", `${grouped(recent.targeting_matched)} (${percent(recent.targeting_match_share)})`),
    term("Frequency-capped", grouped(recent.frequency_capped)),
    term("Users at the cap", grouped(recent.capped_users)),
    term("Below the floor", grouped(recent.below_floor)),
    term("Auctions entered", grouped(recent.auctions_entered)),
    term("Auctions won", grouped(recent.auctions_won)),
    term("Outbid", percent(recent.outbid_share)),
    term("Clearing CPM when outbid", money(recent.outbid_clearing_cpm)),
  );
  const checked = diagnosis.checked_at ? new Date(diagnosis.checked_at).toLocaleTimeString() : "–";
  document.getElementById("checked").textContent = `Checked ${checked}, from the live state and the ad servers' recent counters.`;
}

// diagnose asks DiagnoseCampaign; a refusal is shown in the panel and never stops the page.
async function diagnose() {
  const form = document.getElementById("diagnose");
  try {
    const diagnosis = await campaigns.diagnose(campaignId);
    showDiagnosis(diagnosis);
    return diagnosis;
  } catch (error) {
    if (error.status === 401 || error.status === 403) session.expired();
    else say(form, `No diagnosis: ${error.message}`, "bad");
    return null;
  }
}

// refresh reads the campaign, its KPI minutes and its diagnosis; the first read also fills
// the update form.
async function refresh() {
  const minutes = Number(document.getElementById("minutes").value);
  try {
    const [{ campaign }, { points }, diagnosis] = await Promise.all([
      campaigns.get(campaignId),
      campaigns.kpis(campaignId, minutes),
      diagnose(),
    ]);
    const first = current === null;
    showCampaign(campaign);
    showSeries(points || []);
    showPacing(points || [], campaign, diagnosis, minutes);
    if (first) fillCampaign(updateForm, formValues(campaign));
  } catch (error) {
    if (error.status === 404 || error.status === 400) {
      const missing = document.getElementById("missing");
      missing.textContent = `No campaign to show: ${error.message}`;
      missing.hidden = false;
      document.getElementById("details").hidden = current === null;
    } else {
      refused(error, document.getElementById("window"));
    }
  }
}

function live() {
  const tick = async () => {
    if (!document.hidden && token()) await refresh(); // signed out: wait for the sign-in form
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}

function bindForms() {
  renderFields(updateForm.querySelector(".fields"), CAMPAIGN_FIELDS);
  updateForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(updateForm);
    try {
      const { campaign } = await campaigns.update(campaignId, changedFields(values(updateForm), current));
      fillCampaign(updateForm, formValues(campaign));
      say(updateForm, `Saved: ${campaign.status_reason}.`);
    } catch (error) {
      refused(error, updateForm);
    }
  });
  stopForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(stopForm);
    try {
      const { campaign } = await campaigns.stop(campaignId, values(stopForm).reason.trim());
      say(stopForm, `Stopping: ${campaign.status_reason}.`);
      refresh();
    } catch (error) {
      refused(error, stopForm);
    }
  });
  document.getElementById("diagnose").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    clearErrors(form);
    if (await diagnose()) say(form, "Diagnosed just now.");
  });
  document.getElementById("minutes").addEventListener("change", refresh);
  document.getElementById("window").addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
}

session = startSession(() => {
  if (!campaignId) {
    const missing = document.getElementById("missing");
    missing.textContent = "No campaign id in the address: open a campaign from the table.";
    missing.hidden = false;
    document.getElementById("details").hidden = true;
    return;
  }
  bindForms();
  refresh();
  live();
});
