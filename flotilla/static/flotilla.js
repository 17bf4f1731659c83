// Starts the NHS.UK frontend components (header menu, error summary focus, radios...).
// A module file rather than an inline script, so that a Content Security Policy can keep
// script-src to 'self'.
import { initAll } from "./vendor/nhsuk/nhsuk-frontend.min.js";

initAll();

// htmx swaps in fresh markup (the live dashboard table): start any components inside it.
document.addEventListener("htmx:afterSwap", (event) => {
  initAll({ scope: event.target });
});

// A live region marked data-hold-while-focused is not refreshed while the person is in it
// (typing a reason, say): the refresh waits for the next tick. An event handler here rather
// than an htmx trigger filter, which htmx would evaluate as a string of script, and the
// Content-Security-Policy allows no eval.
document.addEventListener("htmx:beforeRequest", (event) => {
  const region = event.detail.elt;
  if (region.hasAttribute("data-hold-while-focused") && region.contains(document.activeElement)) {
    event.preventDefault();
  }
});
