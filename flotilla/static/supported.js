// Marks the page, before anything is drawn, as one where the NHS.UK frontend's scripts run
// (browsers that load module scripts): its styles for script-enhanced components apply and
// flotilla.js starts them. A file rather than an inline script, so that the
// Content-Security-Policy keeps scripts to files served by Flotilla itself.
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " nhsuk-frontend-supported" : "");
