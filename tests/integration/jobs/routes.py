"""Who may use the jobs app's routes: its part of the route matrix."""

from tests.integration.matrix import Api, Page, members_only

PAGES: dict[str, Page] = {
    # Platform staff only (Django's is_staff, which no organisation role gives): every member
    # and outsider gets 404 (test_jobs.py shows staff getting in).
    "jobs:overview": Page("GET", "/platform/jobs", members_only(404, ())),
}

APIS: dict[str, Api] = {}
