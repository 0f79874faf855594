// allauth's WebAuthn pages report a key that was refused, cancelled or timed out only on the
// browser's console (an `allauth.error` event nobody handles): say it on the page instead.
document.addEventListener("allauth.error", function (event) {
  var tags = (event.detail && event.detail.tags) || [];
  if (tags.indexOf("webauthn") === -1) {
    return;
  }
  event.preventDefault();
  console.error(event.detail.exception);
  var box = document.getElementById("webauthn-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "webauthn-error";
    box.className = "message message-error";
    box.setAttribute("role", "alert");
    document.getElementById("main").prepend(box);
  }
  box.textContent =
    "No security key or passkey answered: it was cancelled, it timed out, or it is not " +
    "one registered for this account here. Try again, or use another way.";
});
