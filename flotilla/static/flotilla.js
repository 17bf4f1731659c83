// Starts the NHS.UK frontend components (header menu, error summary focus, radios...).
// A module file rather than an inline script, so that a Content Security Policy can keep
// script-src to 'self'.
import { initAll } from "./vendor/nhsuk/nhsuk-frontend.min.js";

initAll();

// htmx swaps in fresh markup (the live dashboard table): start any components inside it.
document.addEventListener("htmx:afterSwap", (event) => {
  initAll({ scope: event.target });
});
