// device.js — the device preview on /console/device: one ad request through the public
// JSON route, the ad card with its auction prices, and one feedback per served ad.

import { device } from "./api.js";
import { DEVICES } from "./fields.js";
import { clearErrors, say, showError, values } from "./forms.js";

const PRIVACY_ID = "1111-1111-1111-1111";
const RECENT_KEY = "adplatform.recent-users";
// CITY_STATES spells cities and states the way the campaign feed does (clients/population.py).
const CITY_STATES = {
  Mumbai: "Maharashtra", Delhi: "Delhi", Bangalore: "Karnataka", Kolkata: "West Bengal",
  Chennai: "Tamil Nadu", Hyderabad: "Telangana", Ahmedabad: "Gujrat", Pune: "Maharashtra",
  Surat: "Gujrat", Jaipur: "Rajasthan", Lucknow: "Uttar Pradesh", Vadodra: "Gujrat",
  Nagpur: "Maharashtra", Coimbatore: "Tamil Nadu", Indore: "Madhya pradesh",
  Ludhiana: "Punjab", Patna: "Bihar",
};
// FLAGS are the 0/1 flags each button sends; the platform charges the strongest action.
const FLAGS = {
  view: { view: 1, click: 0, acquisition: 0 },
  click: { view: 1, click: 1, acquisition: 0 },
  acquisition: { view: 1, click: 1, acquisition: 1 },
};

const requestForm = document.getElementById("request");
const feedbackForm = document.getElementById("feedback");
let requestId = "";

function options() {
  const select = document.getElementById("device_type");
  for (const name of DEVICES) select.append(new Option(name, name));
  const cities = document.getElementById("cities");
  for (const city of Object.keys(CITY_STATES)) cities.append(new Option(city));
  const users = document.getElementById("users");
  const recent = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
  for (const id of [PRIVACY_ID, ...recent.filter((id) => id !== PRIVACY_ID)]) {
    users.append(new Option(id, id));
  }
  requestForm.elements.namedItem("user_id").value = PRIVACY_ID;
}

function remember(userId) {
  const recent = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]").filter((id) => id !== userId);
  localStorage.setItem(RECENT_KEY, JSON.stringify([userId, ...recent].slice(0, 8)));
}

function showAd(ad) {
  const card = document.getElementById("ad");
  const none = document.getElementById("no-ad");
  clearErrors(feedbackForm);
  requestId = ad.request_id || "";
  if (!requestId) {
    card.hidden = true;
    none.hidden = false;
    none.textContent = "No eligible ad for this request (no fill is not an error).";
    return;
  }
  const text = {
    "ad-category": ad.category,
    "ad-text": ad.text,
    "ad-cpm": ad.auction_cpm,
    "ad-cpc": ad.auction_cpc,
    "ad-cpa": ad.auction_cpa,
    "ad-campaign": ad.campaign_id,
    "ad-request": ad.request_id,
  };
  for (const [id, value] of Object.entries(text)) document.getElementById(id).textContent = value;
  card.dataset.campaignId = ad.campaign_id;
  none.hidden = true;
  card.hidden = false;
}

requestForm.elements.namedItem("city").addEventListener("change", (event) => {
  const state = CITY_STATES[event.target.value.trim()];
  if (state) requestForm.elements.namedItem("state").value = state;
});

requestForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(requestForm);
  const request = values(requestForm);
  try {
    const ad = await device.serve(request);
    remember(request.user_id.trim());
    showAd(ad);
    say(requestForm, ad.request_id ? `Served campaign ${ad.campaign_id}.` : "No fill.");
  } catch (error) {
    showError(requestForm, error);
  }
});

feedbackForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(feedbackForm);
  const action = event.submitter?.value || "view";
  try {
    const reply = await device.feedback(requestId, FLAGS[action]);
    const repeat = reply.duplicate ? " Already recorded for this ad: nothing more charged." : "";
    say(feedbackForm, `${reply.status}: ${reply.user_action} charged ${reply.expenditure}.${repeat}`);
    feedbackForm.querySelector(".form-status").dataset.expenditure = reply.expenditure;
  } catch (error) {
    say(feedbackForm, error.message, "bad");
  }
});

options();
