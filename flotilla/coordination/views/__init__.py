"""The coordination pages, one module per part: the shared work (`work`), the daily call
(`call`), the dedicated team (`team`), the after-action replay (`replay`) and the CSV
exports (`exports`). Every page is for the collaborative's members (404 for anyone else,
never 403); every change goes through `coordination.actions`."""
