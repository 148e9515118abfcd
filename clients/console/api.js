// api.js — calls to the platform's JSON API on this origin (Envoy transcodes them to gRPC).
// Campaign routes need the bearer token from `adplatform auth token`; it is kept in
// sessionStorage, so it lasts as long as the tab and is never written to disk by the page.

import { fieldViolations, updateMask } from "./fields.js";

const TOKEN_KEY = "adplatform.token";

// ApiError is a refused call: the HTTP status, the API's message and the field violations
// its error details name ([{field, description}], empty when none).
export class ApiError extends Error {
  constructor(status, message, violations = []) {
    super(message);
    this.status = status;
    this.violations = violations;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim().replace(/^Bearer\s+/i, ""));
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// call sends one JSON request and returns the parsed answer, or throws ApiError.
export async function call(method, path, body, { auth = true } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth && token()) headers.authorization = `Bearer ${token()}`;
  let reply;
  try {
    reply = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, `the platform is out of reach (${error.message})`);
  }
  const text = await reply.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { message: text };
  }
  if (!reply.ok) {
    throw new ApiError(reply.status, data.message || reply.statusText, fieldViolations(data));
  }
  return data;
}

// query builds "?a=1&b=two%20words" from the non-empty entries of params. Spaces must be %20:
// Envoy's transcoder does not read "+" (URLSearchParams' form encoding) as a space.
export function query(params) {
  const pairs = Object.entries(params)
    .filter(([, value]) => value !== "" && value !== undefined && value !== null)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  return pairs.length ? `?${pairs.join("&")}` : "";
}

export const campaigns = {
  list: (params) => call("GET", `/v1/campaigns${query(params)}`),
  get: (id) => call("GET", `/v1/campaigns/${encodeURIComponent(id)}`),
  kpis: (id, minutes) => call("GET", `/v1/campaigns/${encodeURIComponent(id)}/kpis${query({ minutes })}`),
  create: (campaign) => call("POST", "/v1/campaigns", campaign),
  // update names what it replaces, so a field emptied on purpose is emptied.
  update: (id, changes) =>
    call("PATCH", `/v1/campaigns/${encodeURIComponent(id)}${query({ update_mask: updateMask(changes) })}`, changes),
  stop: (id, reason) => call("POST", `/v1/campaigns/${encodeURIComponent(id)}:stop`, { reason }),
  diagnose: (id, minutes) => call("GET", `/v1/campaigns/${encodeURIComponent(id)}:diagnose${query({ minutes })}`),
};

// device calls the public device routes, as a phone would: no token.
export const device = {
  serve: (request) => call("POST", "/v1/ads:serve", request, { auth: false }),
  feedback: (requestId, flags) =>
    call("POST", `/ad/${encodeURIComponent(requestId)}/feedback`, flags, { auth: false }),
};
