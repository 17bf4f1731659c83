"""Reading escalation levels: which profile scores whom, and what a viewer may see.

Computed levels are figures derived from an organisation's data. Whoever is not one of its
people sees them only through `policy.read_derived` under the owner's escalation grant (at its
delay), and sees the figures behind a level (each parameter's value and score, the distance
to the next threshold, what would bring it down) only where the owner shares those figures'
groups with them exactly. Pages, API, alerts and jobs ask here and never filter by viewer
themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from flotilla import catalogue, opel
from flotilla.collaboratives.models import Collaborative, CollaborativeMembership
from flotilla.collaboratives.queries import active, members_of
from flotilla.escalation.models import (
    Adoption,
    ComputedLevel,
    ProfileVersion,
    SystemDeclaration,
    SystemLevel,
)
from flotilla.organisations.models import Organisation
from flotilla.sharing import policy
from flotilla.sharing.policy import rules

#: The measure group computed levels are shared as.
GROUP = "escalation"
#: The declared level: a reported measure.
DECLARED = "opel_declared"


def shipped_text(code: str) -> str:
    """The text of a shipped profile's file, stored whole with its version."""
    return (opel.PROFILE_DIR / f"{code}.toml").read_text(encoding="utf-8")


def measures_of(profile: opel.Profile) -> set[str]:
    """The catalogue measures a profile's parameters are computed from."""
    return {m for p in profile.parameters for m in p.measures}


def describe_rule(rule: opel.Rollup) -> str:
    """A roll-up rule in words, as the system level's page says it."""
    if rule.rule == "highest":
        return "the highest member level"
    if rule.rule == "mean":
        return "the mean of the member levels, rounded half up"
    return f"the highest level at least {rule.share:.0%} of members are at or above"


@lru_cache(maxsize=256)
def _parsed(pk: int, text: str, base_text: str | None) -> opel.Profile:
    bases = dict(opel.shipped())
    if base_text is not None:
        base = opel.load(base_text, name="base")
        bases[base.code] = base
    return opel.load(text, name=f"profile {pk}", bases=bases)


def loaded(version: ProfileVersion) -> opel.Profile:
    """The profile a stored version holds (parsed once per process)."""
    base = version.based_on.text if version.based_on_id and version.based_on else None
    return _parsed(version.pk, version.text, base)


_remembered: ContextVar[dict[Any, Any] | None] = ContextVar("escalation_profiles", default=None)


@contextmanager
def profiles_read_once() -> Iterator[None]:
    """Inside the block, read the shipped profiles and each collaborative's adoptions once:
    a recompute job reads them for the levels it computes and again for each roll-up, inside
    one transaction."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def _memo() -> dict[Any, Any]:
    """What `profiles_read_once` has read so far, or a throwaway outside it."""
    memo = _remembered.get()
    return {} if memo is None else memo


def _once(key: Any, read: Callable[[], Any]) -> Any:
    memo = _memo()
    if key not in memo:
        memo[key] = read()
    return memo[key]


def shipped_versions() -> list[ProfileVersion]:
    """The shipped profiles' versions, oldest first."""
    return _once(
        "shipped",
        lambda: list(
            ProfileVersion.objects.filter(collaborative__isnull=True).order_by("created_at")
        ),
    )


def defaults(kinds: Iterable[str]) -> dict[str, ProfileVersion | None]:
    """Kind → the newest shipped profile that applies to it (None: no profile does)."""
    versions = shipped_versions()
    out: dict[str, ProfileVersion | None] = {}
    for kind in kinds:
        out[kind] = None
        for version in versions:  # oldest first: the newest that applies wins
            if kind in loaded(version).applies_to:
                out[kind] = version
    return out


def default_for(kind: str) -> ProfileVersion | None:
    """The newest shipped profile that applies to this kind of organisation."""
    return defaults([kind])[kind]


def adopted(collaborative: Collaborative) -> dict[str, ProfileVersion]:
    """Organisation kind → the profile the collaborative adopted for it (in force now)."""
    return _adopted_by([collaborative.pk])[collaborative.pk]


def _adopted_by(collaborative_ids: list[int]) -> dict[int, dict[str, ProfileVersion]]:
    """Collaborative id → `adopted` of it, in one query (each read once in
    `profiles_read_once`)."""
    memo = _memo()
    wanted = [c for c in collaborative_ids if ("adopted", c) not in memo]
    found: dict[int, dict[str, ProfileVersion]] = {c: {} for c in wanted}
    if wanted:
        rows = Adoption.objects.filter(collaborative_id__in=wanted, ended_at__isnull=True)
        for a in rows.select_related("profile__based_on"):
            found[a.collaborative_id][a.organisation_kind] = a.profile
        memo.update({("adopted", c): kinds for c, kinds in found.items()})
    return {c: memo[("adopted", c)] for c in collaborative_ids}


def profile_for(collaborative: Collaborative, kind: str) -> ProfileVersion | None:
    """The profile this collaborative scores this kind of organisation with: the one it
    adopted, else the newest shipped one for the kind; None when no profile applies."""
    return profiles_for_members(collaborative, [kind])[kind]


def profiles_for_members(
    collaborative: Collaborative, kinds: Iterable[str]
) -> dict[str, ProfileVersion | None]:
    """Kind → the profile the collaborative scores it with (see `profile_for`), for many
    kinds in two queries."""
    kinds = set(kinds)
    chosen = adopted(collaborative)
    fallback = defaults(kinds - set(chosen))
    return {k: chosen.get(k) or fallback.get(k) for k in kinds}


def stale_before(collaborative: Collaborative, now: datetime) -> datetime:
    """Levels computed from figures older than this are too old to count (twice the
    collaborative's reporting interval in force, surge included, as the dashboard judges
    figures)."""
    hours = collaborative.effective_reporting_interval_hours
    return now - timedelta(hours=hours) * settings.STALE_FACTOR


def _latest(
    pairs: Mapping[int, tuple[int, datetime]], *, levels_only: bool = False
) -> list[ComputedLevel]:
    """The newest computed level of each owner under its profile at or before its cutoff:
    owner → (profile id, cutoff). Owners alike in profile and cutoff (most are) share one
    correlated sub-query, answered by the (organisation, profile, as_of) index.
    `levels_only`: the level, its time and its profile's name, unordered; not the
    explanation, the organisation or the profile's text (a roll-up reads forty of them)."""
    groups: dict[tuple[int, datetime], list[int]] = {}
    for owner, key in pairs.items():
        groups.setdefault(key, []).append(owner)
    if not groups:
        return []
    wanted = Q(pk__in=[])
    for (profile, cutoff), owners in groups.items():
        newest = (
            ComputedLevel.objects.filter(
                organisation_id=OuterRef("pk"), profile_id=profile, as_of__lte=cutoff
            )
            .order_by("-as_of")
            .values("pk")[:1]
        )
        wanted |= Q(
            pk__in=Organisation.objects.filter(pk__in=owners)
            .annotate(level_id=Subquery(newest))
            .exclude(level_id=None)
            .values("level_id")
        )
    found = ComputedLevel.objects.filter(wanted)
    if levels_only:
        found = (
            found.select_related("profile")
            .only(
                "organisation_id", "profile", "as_of", "level", "profile__code", "profile__version"
            )
            .order_by()
        )
    else:
        found = found.select_related("profile", "organisation")
    return list(found)


@dataclass
class Seen:
    """A computed level as one viewer may see it."""

    computed: ComputedLevel
    #: How the owner's escalation group is shared with the viewer (detail, delay).
    access: rules.Access
    #: The declared level the viewer may see (None: not declared or not shared).
    declared: float | None = None
    declared_as_of: datetime | None = None
    #: The viewer may see every figure behind the level exactly (own organisation, or
    #: an exact grant of each group the parameters come from).
    figures_shown: bool = False

    @property
    def level(self) -> int | None:
        return self.computed.level

    @property
    def disagrees(self) -> bool:
        return (
            self.declared is not None
            and self.computed.level is not None
            and int(self.declared) != self.computed.level
        )


def _groups_of(profile: opel.Profile) -> set[str]:
    group_of = {m.code: m.group for m in catalogue.current().measures}
    return {group_of[m] for m in measures_of(profile) if m in group_of}


def _figures_shown(viewer: policy.Viewer, seen: list[Seen], at: datetime | None) -> None:
    """Mark the levels whose figures the viewer may see exactly, as of the level's time."""
    if not seen:
        return
    now = timezone.now()
    moment = min(at, now) if at else now
    access = policy.access_map(viewer, {s.computed.organisation_id for s in seen})
    for s in seen:
        groups = access.get(s.computed.organisation_id, {})
        needed = _groups_of(loaded(s.computed.profile))
        s.figures_shown = all(
            (a := rules.shown_under(groups.get(g, ()), s.computed.as_of, moment, now)) is not None
            and a.detail == rules.EXACT
            for g in needed
        )


def levels_seen_by(
    viewer: policy.Viewer,
    organisations: Iterable[Organisation],
    profiles: Mapping[int, ProfileVersion | None],
    at: datetime | None = None,
    *,
    levels_only: bool = False,
    declared: Mapping[int, tuple[float, datetime]] | None = None,
) -> dict[int, Seen]:
    """Organisation id → its newest computed level under `profiles[id]` that the viewer may
    see as at `at` (None: now), with the declared level beside it. Organisations whose
    escalation group is not shared with the viewer, or with no level yet, are absent.
    `levels_only`: without the declared level and what the viewer may see of the figures
    (a roll-up needs only the levels). `declared`: the organisations' own declared levels
    (value, as of) as this viewer was just shown them as at `at` through the policy (a
    picture that read them), so that they are not read again; absent: none shown."""
    orgs = {o.pk: o for o in organisations}
    wanted = {pk: p for pk, p in profiles.items() if p is not None and pk in orgs}

    def fetch(cutoffs: dict[int, datetime]) -> list[ComputedLevel]:
        pairs = {o: (wanted[o].pk, c) for o, c in cutoffs.items() if o in wanted}
        return _latest(pairs, levels_only=levels_only)

    found = policy.read_derived(viewer, GROUP, wanted, fetch, at=at)
    seen = {c.organisation_id: Seen(c, a) for c, a in found}
    if levels_only:
        return seen
    if seen and declared is None:
        reading = policy.read_latest(viewer, at, set(seen), [DECLARED])
        declared = {
            v.organisation_id: (v.value, v.as_of)
            for v in reading.values
            if v.site_id is None and v.value is not None
        }
    for owner, (value, as_of) in (declared or {}).items():
        if owner in seen:
            seen[owner].declared = value
            seen[owner].declared_as_of = as_of
    _figures_shown(viewer, list(seen.values()), at)
    return seen


def history_seen_by(
    viewer: policy.Viewer,
    organisation: Organisation,
    since: datetime,
    at: datetime | None = None,
) -> list[tuple[ComputedLevel, rules.Access]]:
    """Every computed level of the organisation since `since` the viewer may see, newest
    first (under every profile that scored it)."""

    def fetch(cutoffs: dict[int, datetime]) -> Any:
        cutoff = cutoffs.get(organisation.pk)
        if cutoff is None:
            return []
        return (
            ComputedLevel.objects.filter(
                organisation=organisation, as_of__gte=since, as_of__lte=cutoff
            )
            .select_related("profile")
            .order_by("-as_of", "profile__code")
        )

    return policy.read_derived(viewer, GROUP, [organisation.pk], fetch, at=at)


def declared_history_seen_by(
    viewer: policy.Viewer,
    organisation: Organisation,
    since: datetime,
    until: datetime | None = None,
) -> list[tuple[datetime, float | None]]:
    """The declared level's history the viewer may see: (as of, level), oldest first."""
    until = until or timezone.now()
    history = policy.read_history(viewer, organisation, None, [DECLARED], since, until)
    return [(t, v) for code, t, v in history.rows if code == DECLARED]


def system_level(collaborative: Collaborative) -> SystemLevel | None:
    """The collaborative's newest system level (what any member may see)."""
    return SystemLevel.objects.filter(collaborative=collaborative).first()


def system_declaration(
    collaborative: Collaborative, at: datetime | None = None
) -> SystemDeclaration | None:
    """The level the collaborative's coordinators declared for the system, in force at `at`
    (None: now)."""
    rows = SystemDeclaration.objects.filter(collaborative=collaborative)
    if at is not None:
        rows = rows.filter(declared_at__lte=at)
    return rows.select_related("declared_by").first()


def system_history(collaborative: Collaborative, since: datetime) -> list[SystemLevel]:
    return list(
        SystemLevel.objects.filter(collaborative=collaborative, computed_at__gte=since).order_by(
            "-computed_at", "-id"
        )
    )


def previous_level(computed: ComputedLevel) -> ComputedLevel | None:
    """The level computed before this one, under the same profile."""
    return (
        ComputedLevel.objects.filter(
            organisation_id=computed.organisation_id,
            profile_id=computed.profile_id,
            as_of__lt=computed.as_of,
        )
        .order_by("-as_of")
        .first()
    )


def profiles_of(organisation: Organisation) -> list[ProfileVersion]:
    """Every profile version that scores this organisation: the one each of its
    collaboratives adopted for its kind, else (for one that adopted none, or when it is in
    none) the newest shipped one for its kind. Three queries, however many collaboratives."""
    collabs = list(
        active(CollaborativeMembership.objects.filter(organisation=organisation)).values_list(
            "collaborative_id", flat=True
        )
    )
    found = {
        c: kinds[organisation.kind]
        for c, kinds in _adopted_by(collabs).items()
        if organisation.kind in kinds
    }
    if len(found) < len(collabs) or not collabs:
        default = default_for(organisation.kind)
        if default is not None:
            found[0] = default
    return list({v.pk: v for v in found.values()}.values())


def levels_of(
    viewer: policy.Viewer, organisation: Organisation, *, levels_only: bool = False
) -> list[Seen]:
    """The organisation's newest computed level under each profile that scores it, as the
    viewer may see it (see `levels_seen_by`); none where it shares no level with them."""
    found = []
    for version in profiles_of(organisation):
        seen = levels_seen_by(
            viewer, [organisation], {organisation.pk: version}, levels_only=levels_only
        )
        found.extend(seen.values())
    return found


def own_figures(
    organisation: Organisation,
    measures: Iterable[str],
    *,
    purpose: str,
    at: datetime | None = None,
    occupancy: bool = False,
) -> dict[str, tuple[float | None, datetime]]:
    """The organisation's own latest figures as at `at` (None: now), read exactly as itself
    through the policy (its own read, under `purpose`): measure → (value, as of). Each is the
    organisation-wide figure, or else the sum of its sites' counts (as the dashboard totals
    them: missing if any site's is, as of the newest); with `occupancy`, the derived
    occupancies too. Value None: reported as missing."""
    viewer = policy.acting_for(organisation, purpose)
    reading = policy.read_latest(viewer, at, {organisation.pk}, list(measures), occupancy=occupancy)
    own: dict[str, tuple[float | None, datetime]] = {}
    sites: dict[str, list[policy.Shared]] = {}
    for v in reading.values:
        if v.site_id is None:
            own[v.measure] = (v.value, v.as_of)
        elif v.kind == "count":
            sites.setdefault(v.measure, []).append(v)
    for code, values in sites.items():
        if code not in own:
            parts = [v.value for v in values]
            total = (
                None if any(x is None for x in parts) else sum(x for x in parts if x is not None)
            )
            own[code] = (total, max(v.as_of for v in values))
    return own


@dataclass
class CollaborativeLevels:
    """A collaborative's members' levels as one viewer may see them, and its system level."""

    members: dict[int, Seen]
    system: SystemLevel | None
    #: The level the coordinators declare for the system, if any.
    declared: SystemDeclaration | None = None

    @property
    def disagrees(self) -> bool:
        return (
            self.declared is not None
            and self.system is not None
            and self.system.level is not None
            and self.declared.level != self.system.level
        )


def collaborative_levels(
    viewer: policy.Viewer,
    collaborative: Collaborative,
    at: datetime | None = None,
    *,
    members: list[Organisation] | None = None,
    declared: Mapping[int, tuple[float, datetime]] | None = None,
) -> CollaborativeLevels:
    """Each member's computed level under the profile the collaborative uses for its kind,
    as the viewer may see it (as at `at`), and the system level as at that moment.
    `members` (the collaborative's members, as `members_of` gives them) and `declared` (see
    `levels_seen_by`): what a page that also shows the picture has already read."""
    if members is None:
        members = members_of(collaborative)
    profiles = profiles_for_members(collaborative, {m.kind for m in members})
    seen = levels_seen_by(
        viewer, members, {m.pk: profiles[m.kind] for m in members}, at, declared=declared
    )
    system = SystemLevel.objects.filter(collaborative=collaborative)
    if at is not None:
        system = system.filter(computed_at__lte=at)
    return CollaborativeLevels(seen, system.first(), system_declaration(collaborative, at))
