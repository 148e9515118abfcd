// session.js — the sign-in panel every campaign page shares. The console holds no data of
// its own: until a token is given only the sign-in form shows, and a 401 from the API
// (expired or foreign token) brings it back.

import { ApiError, call, setToken, signOut, token } from "./api.js";
import { clearErrors, say, showError } from "./forms.js";

// startSession shows the sign-in form or the page; onSignedIn runs once a token is accepted.
export function startSession(onSignedIn) {
  const panel = document.getElementById("signin");
  const form = panel.querySelector("form");
  const app = document.getElementById("app");
  const signOutButton = document.getElementById("signout");
  let started = false;

  function show(signedIn) {
    panel.hidden = signedIn;
    app.hidden = !signedIn;
    signOutButton.hidden = !signedIn;
    if (signedIn && !started) {
      started = true;
      onSignedIn();
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    setToken(form.elements.namedItem("token").value);
    try {
      await call("GET", "/v1/campaigns?page_size=1"); // proves the token before showing data
    } catch (error) {
      signOut();
      const violation = { field: "token", description: error.message };
      showError(form, new ApiError(error.status, error.message, [violation]));
      return;
    }
    form.reset();
    show(true);
  });
  signOutButton.addEventListener("click", () => {
    signOut();
    window.location.reload(); // drop every number already on the page
  });
  show(Boolean(token()));
  if (!token()) form.elements.namedItem("token").focus();

  return {
    // expired brings back the sign-in form after the API refused the token.
    expired() {
      signOut();
      panel.hidden = false;
      app.hidden = true;
      signOutButton.hidden = true;
      say(form, "The API refused the token (expired or from another stack): sign in again.", "bad");
      form.elements.namedItem("token").focus();
    },
  };
}
