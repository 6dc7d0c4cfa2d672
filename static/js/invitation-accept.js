// The invitation link carries its secret after `#`, which browsers never send to a server: it stays out of access
// logs, proxies and Referer headers. This script hands it to the server in a POST body instead, and takes it out of
// the address bar and the history at once.
//
// It keeps the secret in this tab's sessionStorage while the invitation is open, so that "sign in first, then
// accept" works: the sign-in page sends the browser back to /invitations/accept, where the secret is posted again.
// It is forgotten once the invitation is accepted or found not valid, and with the tab.
const STORE = "annotate.invitation";

const fromLink = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : "";
if (fromLink) {
  history.replaceState(null, "", location.pathname + location.search);
}

if (document.querySelector("[data-invitation-invalid]")) {
  sessionStorage.removeItem(STORE);
}

const acceptForm = document.querySelector("form[data-invitation-accept]");
if (acceptForm) {
  sessionStorage.setItem(STORE, acceptForm.elements.namedItem("key").value);
  acceptForm.addEventListener("submit", () => sessionStorage.removeItem(STORE));
}

// Posted by itself only on the page a link lands on (not after an error there, which would loop).
const openForm = document.querySelector('form[data-invitation-open="auto"]');
if (openForm) {
  const key = fromLink || sessionStorage.getItem(STORE) || "";
  if (key) {
    openForm.elements.namedItem("key").value = key;
    openForm.requestSubmit();
  }
}
