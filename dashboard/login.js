"use strict";
// The login page: posts the token as JSON to POST /login, which answers
// with an HttpOnly session cookie. The token is never put in a URL.
(function () {
  const form = document.getElementById("login");
  const msg = document.getElementById("msg");
  const input = document.getElementById("token");
  input.focus();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.textContent = "";
    const token = input.value.trim();
    if (!token) {
      msg.textContent = "Enter the token.";
      return;
    }
    try {
      const r = await fetch("/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ token: token }),
      });
      if (r.status === 204) {
        input.value = "";
        if (location.pathname === "/login") location.replace("/");
        else location.reload();
        return;
      }
      let text = "Login failed (" + r.status + ").";
      try {
        const body = await r.json();
        if (body && typeof body.error === "string") text = body.error;
      } catch (_) { /* not JSON */ }
      msg.textContent = text;
    } catch (e) {
      msg.textContent = "Cannot reach the server: " + e;
    }
  });
})();
